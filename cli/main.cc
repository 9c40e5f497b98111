// zenith: the user's command (docs/design.md §1).
#include <spdlog/spdlog.h>

#include "cli/command_line.h"

int main(int argc, char** argv) {
  using namespace zenith::cli;
  Parsed parsed = ParseCommandLine(argc, argv);
  if (!parsed.invocation) return parsed.exit_code;
  // The CLI talks to the user through its own messages; library logging is
  // for the daemons' logs.
  spdlog::set_level(spdlog::level::warn);
  return Run(*parsed.invocation);
}
