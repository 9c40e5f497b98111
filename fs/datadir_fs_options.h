// DatadirFsOptions: what a DatadirFs serves (see datadir_fs.h for the
// design): its scratch directory, its remote relation files and where their
// pages come from, and who hears of pg_control writes.
//
// Thread-safety: a plain value, read once by DatadirFs::Create().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "fs/page_source.h"

namespace zenith::fs {

struct DatadirFsOptions {
  // The real directory behind the mount; its root becomes the mount's root
  // (Create() makes it mode 0700, as PostgreSQL requires).
  std::string scratch_dir;
  // Relation segment files (path relative to the datadir, e.g.
  // "base/5/16384.1") whose blocks below this size come from the
  // PageSource; the scratch holds each as a sparse file of that size,
  // created by the caller before mounting.
  std::map<std::string, uint64_t> remote_files;
  // Not owned; must outlive the DatadirFs. May be null only when
  // remote_files is empty.
  PageSource* pages = nullptr;
  // Called after every write to global/pg_control with the file's first
  // 8192 bytes as they are right after that write (from the write buffer
  // when it covers them, else read under the file's lock). Called on a FUSE
  // worker thread while that file's lock is held, so calls come in write
  // order; must not block long. May be empty.
  std::function<void(std::string pg_control_bytes)> on_control_write;
};

}  // namespace zenith::fs
