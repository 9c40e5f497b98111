// The non-relation part of `zenith export` (cli/export_command.cc): a
// basebackup's directories, links and files written into the export's
// directory. Every path is resolved beneath that directory without
// following any link (common/beneath.h): an archive holding "x -> /home/u"
// and "x/.bashrc" cannot write outside the export.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "common/beneath.h"
#include "common/status.h"
#include "pageserver/client/basebackup_archive.h"

namespace zenith::cli {

// postgresql.auto.conf without the settings zenith appended after its
// "# zenith:" comment: they belong to a mount, not to the export.
std::string WithoutZenithSettings(const std::string& conf);

// The archive's entries beneath `dir` (files created exclusively and
// synced), the directories of the manifest's relation files, and pg_wal, a
// directory of its own. PermissionDenied for a path through a link.
Status WriteSnapshotFiles(const pageserver::BasebackupArchive& archive, const BeneathDir& dir);

}  // namespace zenith::cli
