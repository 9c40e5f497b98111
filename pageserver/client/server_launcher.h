// Reaching a repository's page server, starting it when nobody answers:
// every `zenith` command does this, and so does a mount whose page server
// died (docs/design.md §10, crash model: any process may die at any
// instant; the next one to need the page server brings it back).
//
// Starting is race-free: zenith-pageserver holds the repository's lock, so
// when several processes start one at once, one serves and the others exit.
//
// Thread-safety: reentrant.
#pragma once

#include <memory>

#include "common/status.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/api/server_exit.h"
#include "pageserver/client/page_client.h"
#include "pageserver/client/repo_client.h"

namespace zenith::pageserver {

// A connection to the page server of the repository at `layout`, starting
// zenith-pageserver (from the directory of the running program) first if
// nobody answers on the socket. Unavailable, naming the log file, if it
// does not come up within 30 s.
Result<std::unique_ptr<PageServerClient>> ConnectOrStartPageServer(const RepoLayout& layout, const RepoConfig& config);
// The same, as typed calls.
Result<RepoClient> ConnectOrStartRepo(const RepoLayout& layout, const RepoConfig& config);

}  // namespace zenith::pageserver
