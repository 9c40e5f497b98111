// What the CLI checks about a directory before and after mounting on it:
// whether it is a zenith mount, whether it is fit to mount on, and whether
// PostgreSQL runs on it.
//
// Thread-safety: reentrant.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zenith::cli {

// Whether `mount_table` (the text of /proc/self/mounts) lists a zenith
// FUSE mount (type fuse.zenith) at `dir`. Octal escapes (\040 for a
// space) in the table are decoded.
bool ListsZenithMount(std::string_view mount_table, const std::string& dir);
// The same, for this machine now.
bool IsZenithMount(const std::string& dir);

// The pid of the zenith-fs serving the zenith mount at `dir` in
// `mount_table`: its source is "zenith:<pid>". nullopt if not listed.
std::optional<pid_t> ListedDaemon(std::string_view mount_table, const std::string& dir);
// The same, for this machine now.
std::optional<pid_t> MountDaemon(const std::string& dir);

// OK when `mount_table` lists a zenith mount at `dir` served by the
// zenith-fs of pid `daemon` (as the page server lists a read-write mount).
// InvalidArgument, naming the directory, otherwise: the CLI then runs
// nothing (pg_ctl) on it.
Status CheckListedMountOf(std::string_view mount_table, const std::string& dir, pid_t daemon);
// The same, for this machine now.
Status CheckMountOf(const std::string& dir, pid_t daemon);

// An empty directory to mount on, created (0700) when missing.
// InvalidArgument, saying why and what to do, for a file, a non-empty
// directory, a live zenith mount or one whose daemon died.
Status PrepareMountpoint(const std::string& dir);

// `path` made absolute against the working directory.
std::string AbsolutePath(const std::string& path);

}  // namespace zenith::cli
