#include "common/tar.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace zenith {
namespace {

// ustar header fields: offset and width (POSIX.1-1988, "ustar Interchange Format").
struct Field {
  size_t off, len;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12}, kMtime{136, 12},
    kChecksum{148, 8}, kTypeFlag{156, 1}, kLinkName{157, 100}, kMagic{257, 8}, kPrefix{345, 155};

constexpr std::string_view kPosixMagic{"ustar\0" "00", 8};  // magic "ustar\0", version "00"
constexpr std::string_view kGnuMagic{"ustar  \0", 8};       // GNU tar's format
constexpr uint64_t kMaxMtime = (uint64_t{1} << 33) - 1;     // 11 octal digits

using Block = std::array<uint8_t, kTarBlockSize>;

uint64_t PaddingFor(uint64_t size) { return (kTarBlockSize - size % kTarBlockSize) % kTarBlockSize; }

// Names in messages: printable ASCII as is, anything else as \xNN.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "\"";
}

std::string_view FieldBytes(const Block& b, Field f) {
  return {reinterpret_cast<const char*>(b.data() + f.off), f.len};
}

// A NUL-terminated (or full-width) string field.
std::string_view FieldString(const Block& b, Field f) {
  std::string_view s = FieldBytes(b, f);
  return s.substr(0, s.find('\0'));
}

// REQUIRES: s.size() <= f.len. (An empty view may have a null data().)
void PutString(Block& b, Field f, std::string_view s) {
  if (!s.empty()) std::memcpy(b.data() + f.off, s.data(), s.size());
}

// f.len - 1 octal digits and a NUL. REQUIRES: v fits.
void PutOctal(Block& b, Field f, uint64_t v) {
  for (size_t i = f.len - 1; i-- > 0; v >>= 3) b[f.off + i] = static_cast<uint8_t>('0' + (v & 7));
  b[f.off + f.len - 1] = 0;
}

// Sum of the header bytes with the checksum field read as spaces; `as_signed`
// gives the variant some old tars computed.
int64_t HeaderSum(const Block& b, bool as_signed) {
  int64_t sum = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    bool in_checksum = i >= kChecksum.off && i < kChecksum.off + kChecksum.len;
    uint8_t c = in_checksum ? ' ' : b[i];
    sum += as_signed ? static_cast<int8_t>(c) : c;
  }
  return sum;
}

// An octal field: optional leading spaces, digits, then NULs or spaces to the
// end (or no terminator at all). GNU's base-256 form (high bit set) is read
// for non-negative values. nullopt for anything else or an overflow.
std::optional<uint64_t> ParseNumber(std::string_view f) {
  if (!f.empty() && (static_cast<uint8_t>(f[0]) & 0x80)) {
    if (static_cast<uint8_t>(f[0]) != 0x80) return std::nullopt;  // negative or malformed
    uint64_t v = 0;
    for (size_t i = 1; i < f.size(); ++i) {
      if (v >> 56) return std::nullopt;
      v = (v << 8) | static_cast<uint8_t>(f[i]);
    }
    return v;
  }
  size_t i = f.find_first_not_of(' ');
  if (i == std::string_view::npos) return std::nullopt;
  size_t digits_start = i;
  uint64_t v = 0;
  for (; i < f.size() && f[i] >= '0' && f[i] <= '7'; ++i) v = (v << 3) | static_cast<uint64_t>(f[i] - '0');
  if (i == digits_start) return std::nullopt;
  for (; i < f.size(); ++i) {
    if (f[i] != '\0' && f[i] != ' ') return std::nullopt;
  }
  return v;  // at most 12 digits: 36 bits, no overflow
}

// Splits a name into ustar's prefix and name fields.
Result<std::pair<std::string_view, std::string_view>> SplitName(std::string_view full) {
  if (full.size() <= kName.len) return std::pair{std::string_view{}, full};
  if (full.size() > kTarMaxNameLength) {
    return InvalidArgument("tar entry " + Quote(full) + " is " + std::to_string(full.size()) +
                           " bytes long; ustar holds at most 255");
  }
  for (size_t p = full.find('/'); p != std::string_view::npos && p <= kPrefix.len; p = full.find('/', p + 1)) {
    size_t rest = full.size() - p - 1;
    if (rest > 0 && rest <= kName.len) return std::pair{full.substr(0, p), full.substr(p + 1)};
  }
  return InvalidArgument("tar entry " + Quote(full) +
                         " cannot be stored in ustar: no '/' splits it into at most 155 + 100 bytes");
}

Result<TarEntryType> DecodeType(char flag, std::string_view name) {
  switch (flag) {
    case '0':
    case '\0':
    case '7':  // contiguous file: a regular file everywhere that matters
      return TarEntryType::kFile;
    case '5':
      return TarEntryType::kDirectory;
    case '2':
      return TarEntryType::kSymlink;
    case 'L':
    case 'K':
      return Corruption("tar entry " + Quote(name) +
                        " uses GNU long names, which zenith does not read (use --format=ustar)");
    case 'x':
    case 'g':
      return Corruption("tar entry " + Quote(name) + " is a pax extended header, which zenith does not read");
    default:
      return Corruption("tar entry " + Quote(name) + " has unsupported type " + Quote(std::string_view(&flag, 1)) +
                        " (only files, directories and symlinks are read)");
  }
}

// The entry's name as stored: prefix/name for POSIX ustar; GNU's format uses
// the prefix area for other things. Directories lose their trailing '/' and
// every name its leading "./" (from `tar -C dir .`).
std::string DecodeName(const Block& b, bool posix, TarEntryType type) {
  std::string name(FieldString(b, kName));
  std::string_view prefix = posix ? FieldString(b, kPrefix) : std::string_view{};
  if (!prefix.empty()) name = std::string(prefix) + "/" + name;
  if (type == TarEntryType::kDirectory && !name.empty() && name.back() == '/') name.pop_back();
  size_t start = 0;
  while (name.compare(start, 2, "./") == 0) start += 2;
  return name.substr(start);
}

Status CheckHeader(const Block& b, uint64_t offset) {
  std::string where = "tar header at offset " + std::to_string(offset);
  std::string_view magic = FieldBytes(b, kMagic);
  if (magic.substr(0, 6) != kPosixMagic.substr(0, 6) && magic != kGnuMagic) {
    return Corruption(where + " is not a ustar header (bad magic)");
  }
  std::optional<uint64_t> stored = ParseNumber(FieldBytes(b, kChecksum));
  if (!stored) return Corruption(where + " has a non-octal checksum field");
  int64_t s = static_cast<int64_t>(*stored);
  if (s != HeaderSum(b, false) && s != HeaderSum(b, true)) {
    return Corruption(where + " has a bad checksum (stored " + std::to_string(s) + ", computed " +
                      std::to_string(HeaderSum(b, false)) + ")");
  }
  return Status::Ok();
}

// The entry a valid header describes, with its name still to be validated.
Result<TarEntry> DecodeHeader(const Block& b, uint64_t offset) {
  ZENITH_RETURN_IF_ERROR(CheckHeader(b, offset));
  char flag = static_cast<char>(b[kTypeFlag.off]);
  std::string raw_name(FieldString(b, kName));
  ZENITH_ASSIGN_OR_RETURN(TarEntryType type, DecodeType(flag, raw_name));
  TarEntry e;
  e.type = type;
  e.name = DecodeName(b, FieldBytes(b, kMagic) != kGnuMagic, type);
  std::string what = "tar entry " + Quote(e.name) + " at offset " + std::to_string(offset);
  std::optional<uint64_t> mode = ParseNumber(FieldBytes(b, kMode));
  std::optional<uint64_t> size = ParseNumber(FieldBytes(b, kSize));
  std::optional<uint64_t> mtime = ParseNumber(FieldBytes(b, kMtime));
  if (!mode || !size || !mtime) return Corruption(what + " has a mode, size or mtime field that is not a number");
  if (*size > kTarReaderMaxEntrySize) return Corruption(what + " claims an absurd size of " + std::to_string(*size));
  if (type != TarEntryType::kFile && *size != 0) return Corruption(what + " is not a file but has a nonzero size");
  if (*mtime > static_cast<uint64_t>(INT64_MAX)) return Corruption(what + " has an absurd mtime");
  e.mode = static_cast<uint32_t>(*mode & 07777);
  e.size = *size;
  e.mtime = static_cast<int64_t>(*mtime);
  if (type == TarEntryType::kSymlink) {
    e.link_target = std::string(FieldString(b, kLinkName));
    if (e.link_target.empty()) return Corruption(what + " is a symlink with an empty target");
  }
  return e;
}

bool IsZeroBlock(const Block& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

}  // namespace

std::span<const uint8_t> TarEndOfArchive() {
  static constexpr std::array<uint8_t, 2 * kTarBlockSize> kZeros{};
  return kZeros;
}

Status ValidateTarEntryName(std::string_view name) {
  if (name.empty()) return InvalidArgument("tar entry name is empty");
  if (name.find('\0') != std::string_view::npos) {
    return InvalidArgument("tar entry " + Quote(name) + " contains a NUL byte");
  }
  if (name.front() == '/') {
    return InvalidArgument("tar entry " + Quote(name) + " is an absolute path: it escapes the target directory");
  }
  size_t start = 0;
  while (true) {
    size_t end = std::min(name.find('/', start), name.size());
    std::string_view component = name.substr(start, end - start);
    if (component == "..") return InvalidArgument("tar entry " + Quote(name) + " escapes the target directory");
    if (component.empty() || component == ".") {
      return InvalidArgument("tar entry " + Quote(name) + " is not a normalized path (empty or \".\" component)");
    }
    if (end == name.size()) return Status::Ok();
    start = end + 1;
  }
}

// ---------------------------------------------------------------- TarWriter

TarWriter::TarWriter(Sink sink) : sink_(std::move(sink)) {}

Status TarWriter::Emit(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Status::Ok();
  Status s = sink_(bytes);
  if (!s.ok()) {
    failed_ = s;
    return s;
  }
  bytes_written_ += bytes.size();
  return Status::Ok();
}

Status TarWriter::CheckCanAdd() {
  if (!failed_.ok()) return failed_;
  if (closed_) return InvalidArgument("tar writer: nothing can be added after EndBody() or Finish()");
  if (remaining_ > 0) {
    return InvalidArgument("tar entry " + Quote(current_name_) + " got " + std::to_string(current_size_ - remaining_) +
                           " of the " + std::to_string(current_size_) + " bytes promised");
  }
  return Status::Ok();
}

Status TarWriter::WriteHeader(std::string_view name, TarEntryType type, uint32_t mode, int64_t mtime,
                              uint64_t size, std::string_view link_target) {
  ZENITH_RETURN_IF_ERROR(ValidateTarEntryName(name));
  if (mode > 07777) return InvalidArgument("tar entry " + Quote(name) + ": mode " + std::to_string(mode) + " > 07777");
  if (mtime < 0 || static_cast<uint64_t>(mtime) > kMaxMtime) {
    return InvalidArgument("tar entry " + Quote(name) + ": mtime " + std::to_string(mtime) + " does not fit ustar");
  }
  if (size > kTarMaxFileSize) {
    return InvalidArgument("tar entry " + Quote(name) + ": size " + std::to_string(size) + " exceeds ustar's 8 GiB");
  }
  if (link_target.size() > kTarMaxLinkTargetLength) {
    return InvalidArgument("tar entry " + Quote(name) + ": symlink target longer than 100 bytes");
  }
  std::string stored(name);
  if (type == TarEntryType::kDirectory) stored += '/';  // how tar marks directories
  ZENITH_ASSIGN_OR_RETURN(auto split, SplitName(stored));

  Block b{};
  PutString(b, kName, split.second);
  PutOctal(b, kMode, mode);
  PutOctal(b, kUid, 0);
  PutOctal(b, kGid, 0);
  PutOctal(b, kSize, size);
  PutOctal(b, kMtime, static_cast<uint64_t>(mtime));
  b[kTypeFlag.off] = type == TarEntryType::kFile ? '0' : type == TarEntryType::kDirectory ? '5' : '2';
  PutString(b, kLinkName, link_target);
  PutString(b, kMagic, kPosixMagic);
  PutString(b, kPrefix, split.first);
  // Checksum: 6 octal digits, NUL, space (what GNU tar and PostgreSQL write).
  PutOctal(b, Field{kChecksum.off, 7}, static_cast<uint64_t>(HeaderSum(b, false)));
  b[kChecksum.off + 7] = ' ';
  return Emit(b);
}

Status TarWriter::BeginFile(std::string_view name, uint32_t mode, int64_t mtime, uint64_t size) {
  ZENITH_RETURN_IF_ERROR(CheckCanAdd());
  ZENITH_RETURN_IF_ERROR(WriteHeader(name, TarEntryType::kFile, mode, mtime, size, {}));
  current_name_ = name;
  current_size_ = size;
  remaining_ = size;
  return Status::Ok();
}

Status TarWriter::WriteData(std::span<const uint8_t> data) {
  if (!failed_.ok()) return failed_;
  if (data.empty()) return Status::Ok();
  if (data.size() > remaining_) {
    return InvalidArgument("tar entry " + Quote(current_name_) + " was promised " + std::to_string(current_size_) +
                           " bytes; " + std::to_string(data.size()) + " more would exceed that by " +
                           std::to_string(data.size() - remaining_));
  }
  ZENITH_RETURN_IF_ERROR(Emit(data));
  remaining_ -= data.size();
  if (remaining_ > 0) return Status::Ok();
  return Emit(TarEndOfArchive().first(PaddingFor(current_size_)));
}

Status TarWriter::AddFile(std::string_view name, uint32_t mode, int64_t mtime, std::span<const uint8_t> data) {
  ZENITH_RETURN_IF_ERROR(BeginFile(name, mode, mtime, data.size()));
  return WriteData(data);
}

Status TarWriter::AddDirectory(std::string_view name, uint32_t mode, int64_t mtime) {
  ZENITH_RETURN_IF_ERROR(CheckCanAdd());
  return WriteHeader(name, TarEntryType::kDirectory, mode, mtime, 0, {});
}

Status TarWriter::AddSymlink(std::string_view name, std::string_view target, int64_t mtime) {
  ZENITH_RETURN_IF_ERROR(CheckCanAdd());
  if (target.empty()) return InvalidArgument("tar entry " + Quote(name) + ": symlink target is empty");
  return WriteHeader(name, TarEntryType::kSymlink, 0777, mtime, 0, target);
}

Status TarWriter::EndBody() {
  ZENITH_RETURN_IF_ERROR(CheckCanAdd());
  closed_ = true;
  return Status::Ok();
}

Status TarWriter::Finish() {
  ZENITH_RETURN_IF_ERROR(EndBody());
  return Emit(TarEndOfArchive());
}

// ---------------------------------------------------------------- TarReader

Result<std::string> ReadTarEntryData(TarReader& reader, const TarEntry& entry, uint64_t max_size) {
  if (entry.size > max_size) {
    return InvalidArgument("tar entry " + Quote(entry.name) + " is " + std::to_string(entry.size) +
                           " bytes, more than the " + std::to_string(max_size) + " it may have");
  }
  std::string data;
  std::array<uint8_t, 65536> chunk;
  while (data.size() < entry.size) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, reader.ReadData(chunk));
    if (n == 0) return Corruption("tar entry " + Quote(entry.name) + " is truncated");
    data.append(reinterpret_cast<const char*>(chunk.data()), n);
  }
  return data;
}

TarReader::TarReader(Source source) : source_(std::move(source)) {}

Status TarReader::Fail(Status s) {
  failed_ = s;
  return s;
}

Result<size_t> TarReader::ReadUpTo(std::span<uint8_t> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, source_(buf.subspan(got)));
    if (n == 0) break;
    if (n > buf.size() - got) return Internal("tar source returned more bytes than asked for");
    got += n;
  }
  offset_ += got;
  return got;
}

Status TarReader::Skip(uint64_t n) {
  std::array<uint8_t, 8192> scratch;
  while (n > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, scratch.size()));
    ZENITH_ASSIGN_OR_RETURN(size_t got, ReadUpTo(std::span(scratch).first(want)));
    if (got < want) {
      return Corruption("tar archive is truncated: it ends inside the data of " + Quote(current_name_));
    }
    n -= got;
  }
  return Status::Ok();
}

// After one zero block: OK if a second one completes the end-of-archive marker.
Status TarReader::ReadEndOfArchive() {
  Block b;
  uint64_t at = offset_;
  ZENITH_ASSIGN_OR_RETURN(size_t got, ReadUpTo(b));
  if (got < b.size()) return Corruption("tar archive is truncated: it ends inside the end-of-archive marker");
  if (!IsZeroBlock(b)) {
    return Corruption("tar archive has a lone zero block before the header at offset " + std::to_string(at));
  }
  return Status::Ok();
}

Result<std::optional<TarEntry>> TarReader::ReadEntry() {
  Block b;
  uint64_t at = offset_;
  ZENITH_ASSIGN_OR_RETURN(size_t got, ReadUpTo(b));
  if (got == 0) return Corruption("tar archive is truncated: it ends without the end-of-archive marker");
  if (got < b.size()) return Corruption("tar archive is truncated: it ends inside the header at offset " + std::to_string(at));
  if (IsZeroBlock(b)) {
    ZENITH_RETURN_IF_ERROR(ReadEndOfArchive());
    at_end_ = true;
    return std::optional<TarEntry>{};
  }
  ZENITH_ASSIGN_OR_RETURN(TarEntry e, DecodeHeader(b, at));
  current_name_ = e.name;
  remaining_ = e.size;
  padding_ = PaddingFor(e.size);
  return std::optional<TarEntry>(std::move(e));
}

Result<std::optional<TarEntry>> TarReader::Next() {
  if (!failed_.ok()) return failed_;
  if (at_end_) return std::optional<TarEntry>{};
  if (Status s = Skip(remaining_ + padding_); !s.ok()) return Fail(s);
  remaining_ = padding_ = 0;
  while (true) {
    Result<std::optional<TarEntry>> r = ReadEntry();
    if (!r.ok()) return Fail(r.status());
    if (!r->has_value()) return r;
    const TarEntry& e = **r;
    if (e.name.empty() || e.name == ".") {
      if (e.type == TarEntryType::kDirectory) continue;  // the archive's own root
    }
    if (Status s = ValidateTarEntryName(e.name); !s.ok()) return Fail(Corruption(s.message()));
    return r;
  }
}

Result<size_t> TarReader::ReadData(std::span<uint8_t> buf) {
  if (!failed_.ok()) return failed_;
  size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), remaining_));
  if (want == 0) return size_t{0};
  Result<size_t> got = ReadUpTo(buf.first(want));
  if (!got.ok()) return Fail(got.status());
  if (*got < want) return Fail(Corruption("tar archive is truncated: it ends inside the data of " + Quote(current_name_)));
  remaining_ -= want;
  return want;
}

TarReader::Source MemoryTarSource(std::vector<std::span<const uint8_t>> parts) {
  struct Cursor {
    std::vector<std::span<const uint8_t>> parts;
    size_t part = 0, offset = 0;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{std::move(parts)});
  return [cursor](std::span<uint8_t> buf) -> Result<size_t> {
    size_t done = 0;
    while (done < buf.size() && cursor->part < cursor->parts.size()) {
      auto rest = cursor->parts[cursor->part].subspan(cursor->offset);
      size_t n = std::min(rest.size(), buf.size() - done);
      std::memcpy(buf.data() + done, rest.data(), n);
      done += n;
      cursor->offset += n;
      if (cursor->offset == cursor->parts[cursor->part].size()) {
        ++cursor->part;
        cursor->offset = 0;
      }
    }
    return done;
  };
}

}  // namespace zenith
