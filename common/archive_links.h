// Symbolic links in a data directory's archive (a basebackup, a snapshot's
// files, an import): which ones an archive may hold, and that nothing comes
// below one. PostgreSQL puts links only at pg_tblspc/<oid> (a tablespace's
// location); any other link, or an entry whose path goes through a link
// ("x -> /home/owner/.ssh" then "x/authorized_keys"), could make whoever
// extracts the archive write outside its directory, so it is refused.
// Entry names themselves are already checked by the tar reader (relative,
// no "..").
//
// Thread-safety: an ArchiveLinkCheck is used by one thread at a time.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/tar.h"

namespace zenith {

// True for "pg_tblspc/<oid>": the only place PostgreSQL makes a link.
bool IsTablespaceLinkPath(std::string_view path);

// Checks the entries of one archive, in order.
class ArchiveLinkCheck {
 public:
  // InvalidArgument for a link other than pg_tblspc/<oid>, and for an
  // entry at or below a link the archive already holds; OK otherwise (the
  // link is then remembered).
  Status Check(const TarEntry& entry);

 private:
  std::set<std::string, std::less<>> links_;
};

}  // namespace zenith
