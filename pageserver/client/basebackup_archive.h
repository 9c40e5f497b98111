// Reading what the page server's `basebackup` command sends (docs/design.md
// §6): a tar archive whose first member is the manifest, then the
// snapshot's non-relation files. Its relation files are not in it: their
// pages come from GetPage@LSN. Shared by the mount daemon (its scratch) and
// `zenith export` (a standalone data directory).
//
// Thread-safety: reentrant.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tar.h"
#include "pageserver/api/page_protocol.h"

namespace zenith::pageserver {

// A basebackup read into memory (its files are the small non-relation ones).
struct BasebackupArchive {
  BasebackupManifest manifest;
  std::vector<std::pair<TarEntry, std::string>> entries;  // archive order, pg_wal left out; file contents
};

// Corruption when the archive does not start with its manifest, a member is
// damaged or too large for a non-relation file, the manifest names a
// relation file with a bad path, or a member or relation file is a link
// other than pg_tblspc/<oid> or lies below one (common/archive_links.h).
Result<BasebackupArchive> ParseBasebackupArchive(const std::string& tar);

}  // namespace zenith::pageserver
