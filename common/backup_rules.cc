#include "common/backup_rules.h"

#include <algorithm>
#include <array>

#include "common/pg_abi.h"

namespace zenith {
namespace {

// basebackup.c, excludeDirContents. sendDir() compares each entry's own name,
// so these match at any depth, not only at the top level.
constexpr std::array<std::string_view, 7> kExcludeDirContents = {
    "pg_stat_tmp",   // PG_STAT_TMP_DIR: temporary statistics (pg_stat_statements writes here)
    "pg_replslot",   // replication slots are not useful in a copy (backup.sgml)
    "pg_dynshmem",   // PG_DYNSHMEM_DIR: removed at startup, dsm_cleanup_for_mmap()
    "pg_notify",     // removed at startup, AsyncShmemInit()
    "pg_serial",     // old contents only for debugging, SerialInit()
    "pg_snapshots",  // removed at startup, DeleteAllExportedSnapshotFiles()
    "pg_subtrans",   // zeroed at startup, StartupSUBTRANS()
};

struct ExcludedFile {
  std::string_view name;
  bool match_prefix;
};

// basebackup.c, excludeFiles: compared with each entry's own name at any depth.
constexpr std::array<ExcludedFile, 8> kExcludeFiles = {{
    {"postgresql.auto.conf.tmp", false},  // PG_AUTOCONF_FILENAME ".tmp": ALTER SYSTEM's temp file
    {"current_logfiles.tmp", false},      // LOG_METAINFO_DATAFILE_TMP
    {"pg_internal.init", true},           // RELCACHE_INIT_FILENAME, rebuilt at startup; prefix: its temp files too
    {"backup_label", false},              // BACKUP_LABEL_FILE: belongs to some other backup
    {"tablespace_map", false},            // TABLESPACE_MAP: likewise
    {"backup_manifest", false},           // of the backup this server was restored from
    {"postmaster.pid", false},
    {"postmaster.opts", false},
}};

// storage/fd.h PG_TEMP_FILE_PREFIX: sendDir() skips any entry whose name
// starts with it (temp files, and the pgsql_tmp directories themselves).
constexpr std::string_view kTempFilePrefix = "pgsql_tmp";

// sendDir() skips pg_wal's contents but sends pg_wal/archive_status as an
// empty directory (only for the top-level "./pg_wal").
constexpr std::string_view kWalDir = "pg_wal";
constexpr std::string_view kArchiveStatusDir = "pg_wal/archive_status";

std::string_view Normalize(std::string_view p) {
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.ends_with('/')) p.remove_suffix(1);
  return p == "." ? std::string_view{} : p;
}

std::string_view BaseName(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

std::string_view Parent(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : p.substr(0, slash);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// sendDir()'s isDbDir: an all-digits directory right under base/ or under a
// tablespace version directory (PG_15_<catversion>).
bool IsDatabaseDirectory(std::string_view dir) {
  if (!AllDigits(BaseName(dir))) return false;
  std::string_view parent = Parent(dir);
  return parent == "base" || BaseName(parent) == kZenithPgAbi.tablespace_version_directory;
}

// Skips a run of digits at `pos`; false if there is none.
bool SkipDigits(std::string_view s, size_t& pos) {
  size_t start = pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  return pos > start;
}

// storage/file/fd.c looks_like_temp_rel_name():
// t<digits>_<digits>[_fsm|_vm|_init][.<digits>]
bool LooksLikeTempRelationName(std::string_view name) {
  size_t pos = 1;
  if (name.empty() || name[0] != 't' || !SkipDigits(name, pos)) return false;
  if (pos >= name.size() || name[pos] != '_') return false;
  ++pos;
  if (!SkipDigits(name, pos)) return false;
  if (pos < name.size() && name[pos] == '_') {
    std::string_view rest = name.substr(pos + 1);
    size_t fork_len = std::min(rest.find('.'), rest.size());
    std::string_view fork = rest.substr(0, fork_len);
    if (fork != "fsm" && fork != "vm" && fork != "init") return false;
    pos += 1 + fork_len;
  }
  if (pos < name.size() && name[pos] == '.') {
    ++pos;
    if (!SkipDigits(name, pos)) return false;
  }
  return pos == name.size();
}

// Whether the entry `name` in directory `dir` is left out by its own name.
bool IsEntryExcluded(std::string_view dir, std::string_view name) {
  if (name.starts_with(kTempFilePrefix)) return true;
  for (const ExcludedFile& f : kExcludeFiles) {
    if (f.match_prefix ? name.starts_with(f.name) : name == f.name) return true;
  }
  // Unlogged relations are kept on purpose: see backup_rules.h.
  return IsDatabaseDirectory(dir) && LooksLikeTempRelationName(name);
}

bool IsContentExcludedNormalized(std::string_view dir) {
  if (dir == kWalDir || dir == kArchiveStatusDir) return true;
  std::string_view name = BaseName(dir);
  return std::find(kExcludeDirContents.begin(), kExcludeDirContents.end(), name) != kExcludeDirContents.end();
}

}  // namespace

bool IsExcludedFromBackup(std::string_view path_in_datadir, bool is_directory) {
  std::string_view path = Normalize(path_in_datadir);
  if (path.empty()) return false;  // the data directory itself
  // Walk from the top: each ancestor, then the entry itself.
  size_t start = 0;
  while (true) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view here = path.substr(0, end);
    if (IsEntryExcluded(Parent(here), BaseName(here))) return true;
    if (end == path.size()) return false;
    if (IsContentExcludedNormalized(here)) {
      bool is_archive_status = path == kArchiveStatusDir && is_directory;
      return !is_archive_status;
    }
    start = end + 1;
  }
}

bool IsDirectoryContentExcluded(std::string_view dir_path_in_datadir) {
  return IsContentExcludedNormalized(Normalize(dir_path_in_datadir));
}

}  // namespace zenith
