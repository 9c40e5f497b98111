#include "tests/harness/fault_file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cerrno>

#include "common/file_util.h"

namespace zenith::testing {

namespace {

bool Creates(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0; }

bool OpMatches(FileOp rule, FileOp call) {
  if (rule == FileOp::kAny) {
    return call == FileOp::kOpen || call == FileOp::kWrite || call == FileOp::kFsync || call == FileOp::kRename ||
           call == FileOp::kLink || call == FileOp::kMkdir;
  }
  return rule == call;
}

std::optional<std::pair<dev_t, ino_t>> KeyOfPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(st.st_dev, st.st_ino);
}

Status WriteWhole(const std::string& path, const std::string& contents, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus("restore", path, errno);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n <= 0) return ErrnoStatus("restore", path, errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void FaultFileIo::AddRule(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back({std::move(rule), 0});
}

void FaultFileIo::ClearRules() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

int FaultFileIo::faults_injected() const {
  std::lock_guard lock(mu_);
  return faults_;
}

std::string FaultFileIo::last_fault_path() const {
  std::lock_guard lock(mu_);
  return last_fault_path_;
}

bool FaultFileIo::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

int FaultFileIo::Calls(FileOp op, std::string_view path_contains) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(calls_.begin(), calls_.end(), [&](const auto& c) {
    return OpMatches(op, c.first) && c.second.find(path_contains) != std::string::npos;
  }));
}

std::optional<Fault> FaultFileIo::Check(FileOp op, std::string_view path, std::string_view path2) {
  calls_.emplace_back(op, std::string(path));
  if (crashed_) return Fault::kCrash;
  std::optional<Fault> fault = Match(op, path, path2);
  if (fault) {
    ++faults_;
    last_fault_path_ = std::string(path);
    if (*fault == Fault::kCrash) crashed_ = true;
  }
  return fault;
}

std::optional<Fault> FaultFileIo::Match(FileOp op, std::string_view path, std::string_view path2) {
  std::optional<Fault> fault;
  for (ActiveRule& r : rules_) {
    const std::string& want = r.rule.path_contains;
    if (!OpMatches(r.rule.op, op)) continue;
    if (path.find(want) == std::string_view::npos && (path2.empty() || path2.find(want) == std::string_view::npos)) {
      continue;
    }
    ++r.seen;
    const bool fires = r.seen >= r.rule.nth && (r.rule.times == FaultRule::kForever || r.seen < r.rule.nth + r.rule.times);
    if (fires && !fault) fault = r.rule.fault;
  }
  return fault;
}

std::optional<Status> FaultFileIo::FailureFor(std::optional<Fault> fault, const char* what, std::string_view path) {
  if (!fault || *fault == Fault::kShortWrite || *fault == Fault::kShortRead) return std::nullopt;
  return ErrnoStatus(what, path, *fault == Fault::kEnospc ? ENOSPC : EIO);
}

FaultFileIo::FileState& FaultFileIo::Track(int fd, const std::string& path, bool fresh) {
  struct stat st;
  if (::fstat(fd, &st) != 0) st = {};
  auto [it, inserted] = files_.try_emplace({st.st_dev, st.st_ino});
  // Seen for the first time: what it holds now is durable (it was there
  // before this FileIo), unless it is new.
  if (inserted) it->second.synced_size = fresh ? 0 : static_cast<uint64_t>(st.st_size);
  it->second.paths.insert(path);
  return it->second;
}

std::optional<FaultFileIo::SavedFile> FaultFileIo::Save(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  auto contents = ReadFileToString(path);
  if (!contents.ok()) return std::nullopt;
  if (auto it = files_.find({st.st_dev, st.st_ino}); it != files_.end() && it->second.synced_size < contents->size()) {
    contents->resize(it->second.synced_size);
  }
  return SavedFile{std::move(*contents), static_cast<mode_t>(st.st_mode & 07777)};
}

void FaultFileIo::Record(EntryChange::Kind kind, const std::string& path, const std::string& from,
                         std::optional<SavedFile> saved) {
  auto dir = KeyOfPath(DirName(path));
  entries_.push_back({kind, path, from, dir.value_or(InodeKey{}), std::move(saved)});
}

Result<UniqueFd> FaultFileIo::Open(const std::string& path, int flags, mode_t mode) {
  if (!Creates(flags)) return base_.Open(path, flags, mode);
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kOpen, path), "open", path)) return *failure;
  const bool existed = KeyOfPath(path).has_value();
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, base_.Open(path, flags, mode));
  if (!existed && (flags & O_CREAT) != 0) Record(EntryChange::kCreate, path);
  if ((flags & O_DIRECTORY) == 0) {
    FileState& file = Track(fd.get(), path, !existed);
    if ((flags & O_TRUNC) != 0) file.synced_size = 0;
  }
  return fd;
}

Result<size_t> FaultFileIo::DoWrite(int fd, std::span<const uint8_t> buf, std::optional<uint64_t> offset,
                                    std::string_view path) {
  std::lock_guard lock(mu_);
  std::optional<Fault> fault = Check(FileOp::kWrite, path);
  if (auto failure = FailureFor(fault, "write", path)) return *failure;
  Track(fd, std::string(path), false);
  if (fault == Fault::kShortWrite && buf.size() > 1) buf = buf.first(buf.size() / 2);
  return offset ? base_.Pwrite(fd, buf, *offset, path) : base_.Write(fd, buf, path);
}

Result<size_t> FaultFileIo::Pwrite(int fd, std::span<const uint8_t> buf, uint64_t offset, std::string_view path) {
  return DoWrite(fd, buf, offset, path);
}

Result<size_t> FaultFileIo::Write(int fd, std::span<const uint8_t> buf, std::string_view path) {
  return DoWrite(fd, buf, std::nullopt, path);
}

// Reads are neither recorded nor stopped by a crash: only the rules for
// kRead apply.
Result<size_t> FaultFileIo::Pread(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view path) {
  std::optional<Fault> fault;
  {
    std::lock_guard lock(mu_);
    fault = Match(FileOp::kRead, path, "");
    if (fault) {
      ++faults_;
      last_fault_path_ = std::string(path);
    }
  }
  if (fault == Fault::kShortRead) {
    if (buf.size() > 1) buf = buf.first(buf.size() / 2);
  } else if (fault) {
    return ErrnoStatus("read", path, *fault == Fault::kEnospc ? ENOSPC : EIO);
  }
  return base_.Pread(fd, buf, offset, path);
}

Status FaultFileIo::Fsync(int fd, std::string_view path) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kFsync, path), "fsync", path)) return *failure;
  ZENITH_RETURN_IF_ERROR(base_.Fsync(fd, path));
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::Ok();
  const InodeKey key{st.st_dev, st.st_ino};
  if (S_ISDIR(st.st_mode)) {
    std::erase_if(entries_, [&](const EntryChange& e) { return e.dir == key; });
  } else if (auto it = files_.find(key); it != files_.end()) {
    it->second.synced_size = static_cast<uint64_t>(st.st_size);
  }
  return Status::Ok();
}

void FaultFileIo::StartWriteback(int fd, uint64_t offset, uint64_t length) { base_.StartWriteback(fd, offset, length); }

Status FaultFileIo::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kRename, to, from), "rename to", to)) return *failure;
  std::optional<SavedFile> replaced = Save(to);
  ZENITH_RETURN_IF_ERROR(base_.Rename(from, to));
  Record(EntryChange::kRename, to, from, std::move(replaced));
  if (auto key = KeyOfPath(to); key && files_.count(*key)) files_[*key].paths.insert(to);
  return Status::Ok();
}

Status FaultFileIo::Link(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kLink, to, from), "create", to)) return *failure;
  ZENITH_RETURN_IF_ERROR(base_.Link(from, to));
  Record(EntryChange::kLink, to);
  if (auto key = KeyOfPath(to); key && files_.count(*key)) files_[*key].paths.insert(to);
  return Status::Ok();
}

Status FaultFileIo::Unlink(const std::string& path) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kUnlink, path), "remove", path)) return *failure;
  std::optional<SavedFile> removed = Save(path);
  ZENITH_RETURN_IF_ERROR(base_.Unlink(path));
  Record(EntryChange::kUnlink, path, "", std::move(removed));
  return Status::Ok();
}

Status FaultFileIo::Mkdir(const std::string& path, mode_t mode) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kMkdir, path), "create directory", path)) return *failure;
  ZENITH_RETURN_IF_ERROR(base_.Mkdir(path, mode));
  Record(EntryChange::kMkdir, path);
  return Status::Ok();
}

Status FaultFileIo::RemoveTree(const std::string& path) {
  std::lock_guard lock(mu_);
  if (auto failure = FailureFor(Check(FileOp::kRemoveTree, path), "remove", path)) return *failure;
  return base_.RemoveTree(path);
}

Status FaultFileIo::TruncateUnsynced() {
  for (const auto& [key, file] : files_) {
    for (const std::string& path : file.paths) {
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0 || st.st_dev != key.first || st.st_ino != key.second) continue;
      if (static_cast<uint64_t>(st.st_size) > file.synced_size &&
          ::truncate(path.c_str(), static_cast<off_t>(file.synced_size)) != 0) {
        return ErrnoStatus("truncate", path, errno);
      }
      break;
    }
  }
  return Status::Ok();
}

Status FaultFileIo::UndoEntries() {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    const EntryChange& e = *it;
    switch (e.kind) {
      case EntryChange::kCreate:
      case EntryChange::kLink:
        ::unlink(e.path.c_str());
        break;
      case EntryChange::kMkdir: {
        boost::system::error_code ec;
        boost::filesystem::remove_all(e.path, ec);
        break;
      }
      case EntryChange::kRename:
        if (::rename(e.path.c_str(), e.from.c_str()) != 0) return ErrnoStatus("undo the rename to", e.path, errno);
        if (e.saved) ZENITH_RETURN_IF_ERROR(WriteWhole(e.path, e.saved->contents, e.saved->mode));
        break;
      case EntryChange::kUnlink:
        if (e.saved) ZENITH_RETURN_IF_ERROR(WriteWhole(e.path, e.saved->contents, e.saved->mode));
        break;
    }
  }
  return Status::Ok();
}

Status FaultFileIo::SimulateCrash(CrashMode mode) {
  std::lock_guard lock(mu_);
  Status s = TruncateUnsynced();
  if (s.ok() && mode == CrashMode::kDropUnsyncedEntries) s = UndoEntries();
  rules_.clear();
  files_.clear();
  entries_.clear();
  crashed_ = false;
  return s;
}

}  // namespace zenith::testing
