#include "fs/branch_replication.h"

#include <fcntl.h>

#include "common/byte_io.h"
#include "common/file_util.h"

namespace zenith::fs {

bool StartsFromParentsSnapshot(const pageserver::TimelineDescription& timeline) {
  if (!timeline.ancestor) return false;
  return !timeline.latest_snapshot.valid() || timeline.latest_snapshot <= timeline.ancestor_lsn;
}

Status HoldInheritedSubscriptions(const std::string& datadir) {
  const std::string path = datadir + "/postgresql.auto.conf";
  std::string text = ReadFileToString(path).value_or("");
  if (!text.empty() && text.back() != '\n') text += "\n";
  text +=
      "# A new zenith branch runs none of its parent's subscriptions (they would consume the parent's slots).\n"
      "# Point each elsewhere first (README, \"Replication on branches\"), then ALTER SYSTEM RESET this.\n"
      "max_logical_replication_workers = '0'\n";
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
  return WriteFull(fd.get(), AsBytes(text), path);
}

}  // namespace zenith::fs
