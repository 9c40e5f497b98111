#include "fs/inode_table.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace zenith::fs {
namespace {

[[noreturn]] void DieInconsistent(const std::string& what) {
  spdlog::critical("FUSE inode table is inconsistent with the kernel: {}", what);
  spdlog::shutdown();
  std::abort();
}

}  // namespace

InodeTable::InodeTable(UniqueFd root_fd, const struct stat& root_st)
    : root_(std::make_unique<Inode>(std::move(root_fd), root_st, "", nullptr, false)) {}

Inode& InodeTable::Get(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return *root_;
  auto* inode = reinterpret_cast<Inode*>(ino);
  if (inode == nullptr || !inode->fd.valid()) DieInconsistent("unknown inode " + std::to_string(ino));
  return *inode;
}

fuse_ino_t InodeTable::IdOf(const Inode& inode) const {
  if (&inode == root_.get()) return FUSE_ROOT_ID;
  return reinterpret_cast<fuse_ino_t>(&inode);
}

Inode& InodeTable::Acquire(UniqueFd fd, const struct stat& st, std::string path, std::shared_ptr<Segment> segment,
                           bool is_control) {
  if (st.st_dev == root_->dev && st.st_ino == root_->ino) return *root_;
  std::lock_guard lock(mu_);
  auto& slot = inodes_[{st.st_dev, st.st_ino}];
  if (!slot) slot = std::make_unique<Inode>(std::move(fd), st, std::move(path), std::move(segment), is_control);
  ++slot->nlookup_;
  return *slot;
}

void InodeTable::AddLookup(Inode& inode) {
  if (&inode == root_.get()) return;
  std::lock_guard lock(mu_);
  ++inode.nlookup_;
}

Inode* InodeTable::Find(dev_t dev, ino_t ino) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find({dev, ino});
  return it == inodes_.end() ? nullptr : it->second.get();
}

void InodeTable::Forget(fuse_ino_t ino, uint64_t n) {
  if (ino == FUSE_ROOT_ID) return;
  Inode& inode = Get(ino);
  std::unique_ptr<Inode> dropped;  // destroyed (fd closed) after the lock is released
  std::lock_guard lock(mu_);
  if (n > inode.nlookup_) {
    DieInconsistent("forget of " + std::to_string(n) + " lookups of \"" + inode.path + "\" which has " +
                    std::to_string(inode.nlookup_));
  }
  inode.nlookup_ -= n;
  if (inode.nlookup_ == 0) {
    auto it = inodes_.find({inode.dev, inode.ino});
    dropped = std::move(it->second);
    inodes_.erase(it);
  }
}

}  // namespace zenith::fs
