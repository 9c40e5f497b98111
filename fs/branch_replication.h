// No inherited replication (README, "Replication on branches"). A branch
// starts as a copy of its parent, catalogs included: a subscription the
// parent has is there too, and the branch's PostgreSQL would connect to the
// publisher and consume the parent's replication slot, so the parent's
// subscriber would miss what the branch took. Slots themselves never
// travel (pg_replslot is left out of every snapshot: common/backup_rules.h).
//
// So the first mount of a branch, the one that starts from its parent's
// snapshot, sets max_logical_replication_workers = 0 in postgresql.auto.conf:
// no subscription runs. The branch's own snapshots carry the setting on,
// until its user, having pointed each subscription elsewhere, takes it out
// with ALTER SYSTEM RESET.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "common/status.h"
#include "pageserver/client/repo_client.h"

namespace zenith::fs {

// True when the newest snapshot of `timeline` is its parent's: the branch
// has stored none of its own (each of which ends after its branch point).
bool StartsFromParentsSnapshot(const pageserver::TimelineDescription& timeline);

// Appends the setting (with a comment saying why) to `datadir`'s
// postgresql.auto.conf. Not synced (the scratch never is).
Status HoldInheritedSubscriptions(const std::string& datadir);

}  // namespace zenith::fs
