// Tar: a streaming ustar writer and reader for the non-relation files of a
// data directory (basebackups, snapshot layers).
//
// Format: POSIX ustar (512-byte headers, octal fields, names up to 255 bytes
// through the 155-byte prefix field), as GNU tar and PostgreSQL's own
// basebackup write it. The reader also accepts GNU tar's default format for
// names that fit its 100-byte name field. Extensions (GNU long names 'L'/'K',
// pax 'x'/'g', hard links, devices) are refused with a clear error: zenith
// never writes them and a basebackup never needs them.
//
// Bodies: an archive is a sequence of entries followed by the end-of-archive
// marker (two zero blocks). Entries written without the marker form a "tar
// body"; bodies can be concatenated and then terminated by one marker
// (kTarEndOfArchive), which is how the page server sends
// body(manifest) + body(files stored in a layer) + marker.
//
// No I/O of its own: bytes go to a sink callback and come from a source
// callback, so the page server, the CLI and the tests share this code.
//
// Safety: every entry name is checked by ValidateTarEntryName, on write and on
// read, so no name can point outside the directory an archive is extracted
// into. Symlink targets are NOT checked (tablespace links in pg_tblspc are
// absolute by design): an extractor must not follow links it created itself.
// Damaged input (bad checksum, truncation, absurd or non-octal numbers) is a
// kCorruption Status, never a crash; the reader allocates nothing whose size
// comes from the input.
//
// Thread-safety: a TarWriter or TarReader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zenith {

inline constexpr size_t kTarBlockSize = 512;
// Longest name ustar can hold: 155 bytes of prefix, '/', 100 bytes of name.
inline constexpr size_t kTarMaxNameLength = 255;
inline constexpr size_t kTarMaxLinkTargetLength = 100;
// Largest file the writer stores: 11 octal digits.
inline constexpr uint64_t kTarMaxFileSize = (uint64_t{1} << 33) - 1;
// Sizes above this are rejected by the reader as corrupt (GNU's base-256
// size field could otherwise claim exabytes).
inline constexpr uint64_t kTarReaderMaxEntrySize = uint64_t{1} << 36;

// The end-of-archive marker: two zero blocks.
std::span<const uint8_t> TarEndOfArchive();

enum class TarEntryType : uint8_t { kFile, kDirectory, kSymlink };

struct TarEntry {
  std::string name;         // relative, '/'-separated, no trailing '/'
  TarEntryType type = TarEntryType::kFile;
  uint32_t mode = 0;        // permission bits (07777)
  uint64_t size = 0;        // bytes of content; 0 for directories and symlinks
  int64_t mtime = 0;        // seconds since the epoch
  std::string link_target;  // symlinks only
};

// OK when `name` is a relative path that stays inside the directory it is
// extracted into: not empty, no NUL byte, not absolute, no ".." component,
// and normalized (no "." or empty components, no trailing '/').
// InvalidArgument otherwise, e.g. `tar entry "../x" escapes the target directory`.
Status ValidateTarEntryName(std::string_view name);

// Writes tar entries to a sink. The sink receives the archive's bytes in
// order, in pieces of any size, and must consume or copy them before it
// returns. A sink error is returned to the caller and makes the writer
// unusable (every later call returns that error): the output is cut short.
class TarWriter {
 public:
  using Sink = std::function<Status(std::span<const uint8_t>)>;

  explicit TarWriter(Sink sink);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // A regular file with the given contents.
  // InvalidArgument for a bad name (see ValidateTarEntryName), a name over
  // 255 bytes or one that cannot be split at a '/' into ustar's fields, mode
  // beyond 07777, mtime outside 0..8^11-1, size over kTarMaxFileSize.
  Status AddFile(std::string_view name, uint32_t mode, int64_t mtime, std::span<const uint8_t> data);

  // Streaming form: a header promising `size` bytes, then WriteData calls
  // that must supply exactly that many. The file is complete once the last
  // byte arrives; the next Add*/BeginFile/EndBody/Finish fails with
  // InvalidArgument if fewer bytes came, and WriteData fails if more would.
  Status BeginFile(std::string_view name, uint32_t mode, int64_t mtime, uint64_t size);
  Status WriteData(std::span<const uint8_t> data);

  Status AddDirectory(std::string_view name, uint32_t mode, int64_t mtime);
  // `target` is stored as given (1..100 bytes), not validated.
  Status AddSymlink(std::string_view name, std::string_view target, int64_t mtime);

  // Ends a tar body without the end-of-archive marker: checks the last file
  // got all its bytes. Nothing can be added afterwards.
  Status EndBody();
  // EndBody() plus the end-of-archive marker: the output is a whole archive.
  Status Finish();

  // Bytes given to the sink so far.
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  Status CheckCanAdd();
  Status WriteHeader(std::string_view name, TarEntryType type, uint32_t mode, int64_t mtime, uint64_t size,
                     std::string_view link_target);
  Status Emit(std::span<const uint8_t> bytes);

  Sink sink_;
  std::string current_name_;    // the file being streamed, for messages
  uint64_t current_size_ = 0;   // bytes it promised
  uint64_t remaining_ = 0;      // bytes it still needs
  bool closed_ = false;         // EndBody/Finish was called
  Status failed_;               // sticky sink error
  uint64_t bytes_written_ = 0;
};

// Reads entries from a source. The source fills up to buf.size() bytes and
// returns how many it wrote, 0 only at end of input, or an error (which is
// returned to the caller unchanged).
//
// After any error the reader is done: every later call returns the same
// error, so a loop over Next() always ends.
class TarReader {
 public:
  using Source = std::function<Result<size_t>(std::span<uint8_t>)>;

  explicit TarReader(Source source);
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry, skipping whatever the caller did not read of the
  // previous one; nullopt at the end-of-archive marker (and on every call
  // after it). Corruption when a header is damaged, a name fails
  // ValidateTarEntryName, the entry type is unsupported, or the input ends
  // before the marker. A "./" entry for the archive's own root (as written
  // by `tar -C dir .`) is skipped, and a leading "./" is removed from names.
  Result<std::optional<TarEntry>> Next();

  // Reads the current entry's contents into `buf`: bytes read, 0 once the
  // entry is exhausted (or when there is no current entry). Corruption if
  // the input ends inside the data.
  Result<size_t> ReadData(std::span<uint8_t> buf);

 private:
  Result<std::optional<TarEntry>> ReadEntry();
  Status ReadEndOfArchive();
  Status Skip(uint64_t n);
  Result<size_t> ReadUpTo(std::span<uint8_t> buf);
  Status Fail(Status s);

  Source source_;
  uint64_t offset_ = 0;        // bytes consumed from the source
  std::string current_name_;   // for messages
  uint64_t remaining_ = 0;     // unread data bytes of the current entry
  uint64_t padding_ = 0;       // zero bytes after them, up to a block boundary
  bool at_end_ = false;        // saw the end-of-archive marker
  Status failed_;              // sticky error
};

// The whole contents of the reader's current entry, read in pieces as they
// arrive: the buffer grows with what the input holds, never to a size its
// header merely claims. InvalidArgument (naming the entry) when the entry
// is larger than `max_size`, before anything is read; Corruption when the
// input ends inside it.
Result<std::string> ReadTarEntryData(TarReader& reader, const TarEntry& entry, uint64_t max_size);

// A TarReader source over bytes in memory: `parts` in order (for example a
// layer's stored tar body, then TarEndOfArchive()). The bytes must outlive
// the source.
TarReader::Source MemoryTarSource(std::vector<std::span<const uint8_t>> parts);

}  // namespace zenith
