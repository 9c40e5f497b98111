// zenith-pageserver's exit codes that its launcher (client/server_launcher.h)
// reads: shared by the program and the clients that start it.
//
// Thread-safety: constants.
#pragma once

namespace zenith::pageserver {

// zenith-pageserver's exit code when another one already serves the
// repository (it holds the repository's lock): not a failure to start.
inline constexpr int kExitAlreadyRunning = 3;

}  // namespace zenith::pageserver
