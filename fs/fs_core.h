// FsCore: what each FUSE operation of a mounted datadir does, over the
// scratch directory (see datadir_fs.h for the design). Every operation
// returns a Status or a Result holding what its reply needs; fuse_bridge.cc
// maps operations to these methods, replies in exactly one place per
// operation and turns a Status into an errno in one function.
//
// Relation files (classified by path with ParseRelationPath) get their data
// through RelationFile; everything else passes through to the scratch.
// Relation names are stable: rename and link refuse them with EXDEV, and
// rename refuses directories in base/, global/ and pg_tblspc/ (PostgreSQL
// never does either; mv falls back to copy and unlink, which work).
//
// Thread-safety: all methods are thread-safe; FUSE worker threads call them
// concurrently. Locks, in order:
//   snapshot_lock_  shared by truncate/unlink/create of relation files,
//                   exclusive for a snapshot session's life;
//   ns_mu_          makes "name -> scratch file -> relation state" atomic for
//                   lookup, create and unlink of relation names;
//   RelationTable, then Segment::io_mutex(), then Segment's own mutex;
//   InodeTable's mutex and Inode::control_mu are leaves.
#pragma once

#include <dirent.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/pg_control.h"
#include "common/status.h"
#include "fs/datadir_fs_options.h"
#include "fs/snapshot_delta.h"
#include "fs/fuse_api.h"
#include "fs/handle_table.h"
#include "fs/inode_table.h"
#include "fs/op_stats.h"
#include "fs/relation_table.h"

namespace zenith::fs::internal {

// What a read replies with: bytes in memory (relation files), or a range of
// a scratch fd that libfuse reads (splices) itself.
struct ReadData {
  std::unique_ptr<uint8_t[]> bytes;  // when fd < 0: the `size` bytes read
  int fd = -1;  // >= 0: reply with [offset, offset + size) of this fd
  off_t offset = 0;
  size_t size = 0;
};

class FsCore {
 public:
  static Result<std::unique_ptr<FsCore>> Create(DatadirFsOptions options);
  FsCore(const FsCore&) = delete;
  FsCore& operator=(const FsCore&) = delete;

  // Connection set-up: negotiates the kernel features this filesystem wants.
  void Init(fuse_conn_info* conn);

  Result<fuse_entry_param> Lookup(fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  Result<struct stat> GetAttr(fuse_ino_t ino);
  Result<struct stat> SetAttr(fuse_ino_t ino, const struct stat& attr, int to_set, fuse_file_info* fi);
  Result<std::string> ReadLink(fuse_ino_t ino);
  Result<struct statvfs> StatFs();

  // Namespace (fs_namespace.cc).
  Result<fuse_entry_param> MakeNode(fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  Result<fuse_entry_param> MakeDir(fuse_ino_t parent, const char* name, mode_t mode);
  Result<fuse_entry_param> MakeSymlink(const char* target, fuse_ino_t parent, const char* name);
  Result<fuse_entry_param> Link(fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name);
  Status Unlink(fuse_ino_t parent, const char* name);
  Status RemoveDir(fuse_ino_t parent, const char* name);
  Status Rename(fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name, unsigned flags);
  // Creates and opens a file; fills fi->fh and the open flags.
  Result<fuse_entry_param> CreateFile(fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
  Status OpenDir(fuse_ino_t ino, fuse_file_info* fi);
  // One buffer of directory entries (at most `size` bytes) from `offset`.
  Result<std::vector<char>> ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
                                    bool plus);
  void ReleaseDir(fuse_file_info* fi);

  // File data (fs_data.cc).
  Status Open(fuse_ino_t ino, fuse_file_info* fi);
  Result<ReadData> Read(size_t size, off_t offset, fuse_file_info* fi);
  Result<size_t> Write(std::span<const uint8_t> data, off_t offset, fuse_file_info* fi);
  Status Allocate(int mode, off_t offset, off_t length, fuse_file_info* fi);
  void Release(fuse_file_info* fi);

  // Snapshots (see SnapshotSession).
  SnapshotDelta BeginSnapshot();
  void EndSnapshot();
  int SnapshotWaiters() const { return snapshot_lock_.waiting(); }
  Status ReadBlocks(const RelSegment& seg, std::span<const uint32_t> blocks, std::span<uint8_t> out);
  std::map<RelSegment, std::vector<uint32_t>> UsedBlocks() const { return relations_.UsedBlocks(); }

  // Request counts and times, recorded by fuse_bridge.cc.
  OpStats& stats() { return stats_; }

 private:
  // fi->fh of an open file.
  struct FileHandle {
    UniqueFd fd;
    Inode* inode;  // valid while the file is open: the kernel keeps its lookup
    std::shared_ptr<Segment> segment;  // relation files only
  };
  // fi->fh of an open directory.
  struct DirHandle {
    struct Closer {
      void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, Closer> dir;
    std::mutex mu;     // serialises readdir on this handle; guards `offset`
    off_t offset = 0;  // the stream's position, as a d_off
  };
  FileHandle& FileOf(fuse_file_info* fi) const { return files_.Get(fi->fh); }
  DirHandle& DirOf(fuse_file_info* fi) const { return dirs_.Get(fi->fh); }

  FsCore(UniqueFd root_fd, const struct stat& root_st, DatadirFsOptions options,
         const std::map<RelSegment, uint32_t>& remote_limits);

  // Opens `name` in `parent` (O_PATH) and returns its entry with one more
  // lookup. `created`: the caller just created it as a new relation file.
  // REQUIRES: ns_mu_ held when `path` is a relation path.
  Result<fuse_entry_param> AcquireChild(Inode& parent, const char* name, const std::string& path, bool created);
  fuse_entry_param Entry(const Inode& inode, struct stat st) const;
  // Reports regular relation files as fully allocated, so du shows sizes.
  static void AdjustAttr(const Inode& inode, struct stat* st);
  // A new fd for the scratch file of `inode` (through /proc/self/fd).
  Result<UniqueFd> Reopen(const Inode& inode, int flags) const;
  Status ChangeMode(const Inode& inode, FileHandle* handle, mode_t mode);
  Status ChangeTimes(const Inode& inode, FileHandle* handle, const struct stat& attr, int to_set);
  Status Resize(Inode& inode, FileHandle* handle, uint64_t size);
  Result<fuse_entry_param> CreateNamed(Inode& parent, const char* name, mode_t mode, int flags,
                                       fuse_file_info* fi, bool* truncate_existing);
  Status RefuseRelationRename(Inode& parent, const char* name, const std::string& from, Inode& new_parent,
                              const char* new_name, const std::string& to, unsigned flags);
  void RefreshControlFlag(Inode& dir, const char* name, const std::string& path);
  Status WriteControl(FileHandle& handle, std::span<const uint8_t> data, off_t offset);
  Status AddDirEntries(fuse_req_t req, DirHandle& dir, Inode& inode, std::vector<char>* buf, bool plus);

  InodeTable inodes_;
  RelationTable relations_;
  PageSource* const pages_;
  const std::function<void(std::string)> on_control_write_;
  SnapshotLock snapshot_lock_;
  std::mutex ns_mu_;  // see the lock order above; guards no field
  HandleTable<FileHandle> files_{"file"};
  HandleTable<DirHandle> dirs_{"directory"};
  OpStats stats_;
};

// Datadir-relative path of `name` in directory `parent`.
std::string ChildPath(const Inode& parent, std::string_view name);
// Whether `path` is in base/, global/ or pg_tblspc/ (or is one of them).
bool InRelationArea(std::string_view path);
inline constexpr std::string_view kControlFilePath = kPgControlPath;

}  // namespace zenith::fs::internal
