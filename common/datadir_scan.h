// Scanning a PostgreSQL data directory the way a basebackup sees it: which
// entries it holds (pg_basebackup's exclusion rules applied), which files
// are relation segments, and how many blocks each relation fork has.
//
// Used by `zenith init` to import a cluster into layer 0 and by the mount
// daemon to collect a snapshot of its scratch directory.
//
// Thread-safety: reentrant. The directory may change under a scan (a running
// PostgreSQL creates and removes files): entries that vanish midway are left
// out, as pg_basebackup does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/relation_path.h"
#include "common/status.h"
#include "common/tar.h"

namespace zenith {

enum class DatadirEntryKind { kDirectory, kFile, kSymlink };

struct DatadirEntry {
  std::string path;  // relative to the data directory
  DatadirEntryKind kind = DatadirEntryKind::kFile;
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string link_target;              // symlinks
  std::optional<RelSegment> relation;   // relation segment files
};

// Every entry a basebackup includes, each directory before its contents,
// names sorted within a directory. `pg_wal` is left out altogether: zenith
// makes it a symlink to the timeline's WAL.
Result<std::vector<DatadirEntry>> ScanDatadir(const std::string& datadir);

// The size in blocks of every relation fork among `entries`, as md.c
// counts it: segments in order while each is full (RELSEG_SIZE blocks); a
// partial trailing block does not count. A fork exists when its segment 0
// does.
std::map<RelTag, uint32_t> RelationSizes(const std::vector<DatadirEntry>& entries);

// The relation segment files (path and size in bytes) a fork of `nblocks`
// blocks consists of, inverse of RelationSizes: full segments, then the
// last one (an empty segment 0 for an empty fork).
std::vector<std::pair<std::string, uint64_t>> RelationSegmentFiles(const RelTag& rel, uint32_t nblocks);

// Writes the directories, symlinks and non-relation files among `entries`
// to `writer`, reading contents from `datadir`. A path in `overrides` is
// written with the given contents instead of the file's (the mount daemon
// uses it for the pg_control captured at a checkpoint). Files that vanished
// since the scan are skipped.
Status WriteNonRelationFiles(const std::string& datadir, const std::vector<DatadirEntry>& entries,
                             const std::map<std::string, std::string>& overrides, TarWriter& writer);

}  // namespace zenith
