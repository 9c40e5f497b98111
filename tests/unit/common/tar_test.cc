#include "common/tar.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "common/byte_io.h"
#include "common/file_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace zenith {
namespace {

using testing::RunCommand;
using testing::TempDir;

constexpr int64_t kMtime = 1700000000;

TarWriter::Sink StringSink(std::string* out) {
  return [out](std::span<const uint8_t> b) {
    out->append(AsStringView(b));
    return Status::Ok();
  };
}

// Serves `data` at most `chunk` bytes per call, like a socket would.
TarReader::Source StringSource(std::string data, size_t chunk = SIZE_MAX) {
  auto pos = std::make_shared<size_t>(0);
  auto bytes = std::make_shared<std::string>(std::move(data));
  return [bytes, pos, chunk](std::span<uint8_t> buf) -> Result<size_t> {
    size_t n = std::min({buf.size(), chunk, bytes->size() - *pos});
    std::memcpy(buf.data(), bytes->data() + *pos, n);
    *pos += n;
    return n;
  };
}

struct ReadEntry {
  TarEntry entry;
  std::string data;
};

// Reads a whole archive: every entry with its contents, or the first error.
Result<std::vector<ReadEntry>> ReadAll(const std::string& archive, size_t chunk = SIZE_MAX) {
  TarReader reader(StringSource(archive, chunk));
  std::vector<ReadEntry> out;
  while (true) {
    ZENITH_ASSIGN_OR_RETURN(std::optional<TarEntry> e, reader.Next());
    if (!e) return out;
    ReadEntry r{*e, {}};
    std::array<uint8_t, 333> buf;  // odd size: data crosses block boundaries
    while (true) {
      ZENITH_ASSIGN_OR_RETURN(size_t n, reader.ReadData(buf));
      if (n == 0) break;
      r.data.append(AsStringView(std::span(buf).first(n)));
    }
    out.push_back(std::move(r));
  }
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A name of exactly `len` bytes (101..255) whose last component is 100
// bytes long, under directories of at most 50 bytes.
std::string LongName(size_t len) {
  std::string dirs(len - 101, 'd');
  for (size_t i = 50; i < dirs.size() - 1; i += 51) dirs[i] = '/';
  return dirs + "/" + std::string(100, 'f');
}

struct Item {
  std::string name;
  TarEntryType type;
  uint32_t mode;
  std::string data;  // contents, or the link target of a symlink
};

std::vector<Item> SampleItems() {
  return {
      {"base", TarEntryType::kDirectory, 0700, ""},
      {"base/1", TarEntryType::kDirectory, 0700, ""},
      {"base/1/PG_VERSION", TarEntryType::kFile, 0600, "15\n"},
      {"empty", TarEntryType::kFile, 0644, ""},
      {"one_block", TarEntryType::kFile, 0600, RandomBytes(512, 1)},
      {"global/pg_control", TarEntryType::kFile, 0600, RandomBytes(8192, 2)},
      {"odd_size", TarEntryType::kFile, 0755, RandomBytes(1000, 3)},
      {"pg_wal", TarEntryType::kSymlink, 0777, "/somewhere/else/wal"},
      {std::string(100, 'n'), TarEntryType::kFile, 0600, "exactly 100 bytes of name"},
      {LongName(200), TarEntryType::kFile, 0600, "a name split into prefix and name"},
      {LongName(255), TarEntryType::kFile, 0600, "the longest name ustar holds"},
  };
}

Status WriteItems(TarWriter& w, const std::vector<Item>& items) {
  for (const Item& it : items) {
    switch (it.type) {
      case TarEntryType::kFile:
        ZENITH_RETURN_IF_ERROR(w.AddFile(it.name, it.mode, kMtime, AsBytes(it.data)));
        break;
      case TarEntryType::kDirectory:
        ZENITH_RETURN_IF_ERROR(w.AddDirectory(it.name, it.mode, kMtime));
        break;
      case TarEntryType::kSymlink:
        ZENITH_RETURN_IF_ERROR(w.AddSymlink(it.name, it.data, kMtime));
        break;
    }
  }
  return Status::Ok();
}

std::string MakeArchive(const std::vector<Item>& items, bool finish = true) {
  std::string out;
  TarWriter w(StringSink(&out));
  Status written = WriteItems(w, items);
  EXPECT_TRUE(written.ok()) << written.ToString();
  EXPECT_TRUE((finish ? w.Finish() : w.EndBody()).ok());
  EXPECT_EQ(w.bytes_written(), out.size());
  return out;
}

void ExpectEntriesMatch(const std::vector<ReadEntry>& got, const std::vector<Item>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const TarEntry& e = got[i].entry;
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(e.name, want[i].name);
    EXPECT_EQ(e.type, want[i].type);
    EXPECT_EQ(e.mode, want[i].mode);
    EXPECT_EQ(e.mtime, kMtime);
    if (want[i].type == TarEntryType::kSymlink) {
      EXPECT_EQ(e.link_target, want[i].data);
      EXPECT_EQ(e.size, 0u);
    } else {
      EXPECT_EQ(e.size, want[i].data.size());
      EXPECT_EQ(got[i].data, want[i].data);
    }
  }
}

// Overwrites bytes of the header at `off` and fixes its checksum, so that a
// test reaches the field it means to damage.
void PatchHeader(std::string& archive, size_t off, size_t field_off, std::string_view bytes) {
  archive.replace(off + field_off, bytes.size(), bytes);
  std::memset(archive.data() + off + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<uint8_t>(archive[off + i]);
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  std::memcpy(archive.data() + off + 148, field, 7);
}

Status FirstError(const std::string& archive) { return ReadAll(archive).status(); }

TEST(Tar, RoundTripsEntriesWhateverTheSourceChunking) {
  std::vector<Item> items = SampleItems();
  std::string archive = MakeArchive(items);
  EXPECT_EQ(archive.size() % kTarBlockSize, 0u);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{512}, SIZE_MAX}) {
    SCOPED_TRACE(chunk);
    auto got = ReadAll(archive, chunk);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectEntriesMatch(*got, items);
  }
}

TEST(Tar, NextSkipsTheUnreadRestOfAnEntry) {
  std::string archive = MakeArchive(SampleItems());
  TarReader reader(StringSource(archive, 100));
  std::vector<std::string> names;
  while (true) {
    auto e = reader.Next();
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    if (!e->has_value()) break;
    names.push_back((*e)->name);
    std::array<uint8_t, 10> some;
    ASSERT_TRUE(reader.ReadData(some).ok());  // read a little, leave the rest
  }
  std::vector<std::string> want;
  for (const Item& it : SampleItems()) want.push_back(it.name);
  EXPECT_EQ(names, want);
  // The end is sticky.
  auto again = reader.Next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(Tar, StreamedFileMustGetExactlyThePromisedBytes) {
  std::string out;
  TarWriter w(StringSink(&out));
  std::string data = "0123456789";
  ASSERT_TRUE(w.BeginFile("f", 0600, kMtime, data.size()).ok());
  ASSERT_TRUE(w.WriteData(AsBytes(data.substr(0, 3))).ok());

  Status early = w.AddDirectory("d", 0700, kMtime);
  EXPECT_EQ(early.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(early.message().find("got 3 of the 10 bytes promised"), std::string::npos) << early.message();
  EXPECT_EQ(w.Finish().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.EndBody().code(), StatusCode::kInvalidArgument);

  Status too_much = w.WriteData(AsBytes(data.substr(3) + "!"));
  EXPECT_EQ(too_much.code(), StatusCode::kInvalidArgument) << too_much.ToString();

  ASSERT_TRUE(w.WriteData(AsBytes(data.substr(3))).ok());
  EXPECT_EQ(w.WriteData(AsBytes(std::string_view("x"))).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.AddDirectory("late", 0700, kMtime).code(), StatusCode::kInvalidArgument);

  auto got = ReadAll(out);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].data, data);
}

TEST(Tar, StreamingInPiecesWritesTheSameBytesAsAddFile) {
  std::string data = RandomBytes(5000, 9);
  std::string whole, pieces;
  TarWriter a(StringSink(&whole));
  ASSERT_TRUE(a.AddFile("x/y", 0640, kMtime, AsBytes(data)).ok());
  ASSERT_TRUE(a.Finish().ok());
  TarWriter b(StringSink(&pieces));
  ASSERT_TRUE(b.BeginFile("x/y", 0640, kMtime, data.size()).ok());
  for (size_t off = 0; off < data.size(); off += 777) {
    ASSERT_TRUE(b.WriteData(AsBytes(std::string_view(data).substr(off, 777))).ok());
  }
  ASSERT_TRUE(b.Finish().ok());
  EXPECT_EQ(whole, pieces);
}

TEST(Tar, WriterRejectsWhatUstarCannotHoldAndWritesNothing) {
  std::string out;
  TarWriter w(StringSink(&out));
  auto rejected = [&](Status s) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    return s.message();
  };
  EXPECT_NE(rejected(w.AddFile(LongName(256), 0600, kMtime, {})).find("at most 255"), std::string::npos);
  rejected(w.AddFile(std::string(101, 'x'), 0600, kMtime, {}));                  // no '/' to split at
  rejected(w.AddFile("dir/" + std::string(101, 'x'), 0600, kMtime, {}));         // last component > 100
  rejected(w.AddFile(std::string(156, 'p') + "/name", 0600, kMtime, {}));        // prefix > 155
  rejected(w.AddDirectory(std::string(100, 'x'), 0700, kMtime));                 // 101 with the '/'
  rejected(w.AddSymlink("l", std::string(101, 't'), kMtime));
  rejected(w.AddSymlink("l", "", kMtime));
  rejected(w.AddFile("f", 010000, kMtime, {}));
  rejected(w.AddFile("f", 0600, -1, {}));
  rejected(w.BeginFile("f", 0600, kMtime, kTarMaxFileSize + 1));
  for (const std::string& bad :
       std::vector<std::string>{"", "/abs", "../x", "a/../../x", "a//b", "./a", "a/", std::string("a\0b", 3)}) {
    rejected(w.AddFile(bad, 0600, kMtime, {}));
  }
  EXPECT_EQ(w.bytes_written(), 0u);
  EXPECT_TRUE(out.empty());
}

TEST(Tar, ValidateTarEntryNameKeepsEntriesInsideTheTarget) {
  for (const std::string& ok : std::vector<std::string>{"a", "base/5/16384", "a/b.c/..d", "...", std::string(255, 'x')}) {
    EXPECT_TRUE(ValidateTarEntryName(ok).ok()) << ok;
  }
  EXPECT_EQ(ValidateTarEntryName("../x").message(), "tar entry \"../x\" escapes the target directory");
  EXPECT_EQ(ValidateTarEntryName("a/b/../../../x").message(), "tar entry \"a/b/../../../x\" escapes the target directory");
  EXPECT_EQ(ValidateTarEntryName("a/..").message(), "tar entry \"a/..\" escapes the target directory");
  EXPECT_NE(ValidateTarEntryName("/etc/passwd").message().find("absolute"), std::string::npos);
  EXPECT_NE(ValidateTarEntryName("").message().find("empty"), std::string::npos);
  EXPECT_NE(ValidateTarEntryName(std::string("a\0b", 3)).message().find("NUL"), std::string::npos);
  for (std::string_view bad : {"a//b", "./a", "a/./b", "a/", "."}) {
    EXPECT_EQ(ValidateTarEntryName(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Tar, ConcatenatedBodiesReadAsOneArchive) {
  std::vector<Item> manifest = {{"zenith_manifest", TarEntryType::kFile, 0600, "base/5/16384 8192\n"}};
  std::vector<Item> layer_files = SampleItems();
  std::string stream = MakeArchive(manifest, /*finish=*/false) + MakeArchive(layer_files, /*finish=*/false);
  stream.append(AsStringView(TarEndOfArchive()));

  std::vector<Item> all = manifest;
  all.insert(all.end(), layer_files.begin(), layer_files.end());
  auto got = ReadAll(stream, 1000);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectEntriesMatch(*got, all);

  // GNU tar agrees it is one archive.
  TempDir dir("tar-concat");
  ASSERT_TRUE(WriteFileDurably(dir.Sub("s.tar"), stream).ok());
  auto listed = RunCommand({"tar", "-tf", dir.Sub("s.tar")});
  ASSERT_TRUE(listed.ok()) << listed.Describe();
  EXPECT_EQ(listed.out.substr(0, listed.out.find('\n')), "zenith_manifest");
  EXPECT_NE(listed.out.find(LongName(255)), std::string::npos);
}

TEST(Tar, GnuTarListsAndExtractsOurArchives) {
  TempDir dir("tar-gnu-x");
  std::vector<Item> items = SampleItems();
  ASSERT_TRUE(WriteFileDurably(dir.Sub("a.tar"), MakeArchive(items)).ok());
  auto listed = RunCommand({"tar", "-tvf", dir.Sub("a.tar")});
  ASSERT_TRUE(listed.ok()) << listed.Describe();
  EXPECT_EQ(listed.err, "");  // no checksum or format warnings
  EXPECT_NE(listed.out.find("pg_wal -> /somewhere/else/wal"), std::string::npos) << listed.out;

  ASSERT_TRUE(MakeDirectories(dir.Sub("out")).ok());
  auto extracted = RunCommand({"tar", "-xpf", dir.Sub("a.tar"), "-C", dir.Sub("out")});
  ASSERT_TRUE(extracted.ok()) << extracted.Describe();
  for (const Item& it : items) {
    SCOPED_TRACE(it.name);
    std::string path = dir.Sub("out/" + it.name);
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    if (it.type == TarEntryType::kSymlink) {
      char target[256] = {};
      ASSERT_GT(readlink(path.c_str(), target, sizeof target - 1), 0);
      EXPECT_EQ(std::string(target), it.data);
      continue;
    }
    EXPECT_EQ(st.st_mtime, kMtime);
    EXPECT_EQ(st.st_mode & 07777, it.mode);
    EXPECT_EQ(S_ISDIR(st.st_mode), it.type == TarEntryType::kDirectory);
    if (it.type == TarEntryType::kFile) {
      EXPECT_EQ(*ReadFileToString(path), it.data);
    }
  }
}

// A source tree for GNU tar to archive.
void MakeTree(const TempDir& dir, const std::string& long_path) {
  ASSERT_TRUE(MakeDirectories(dir.Sub("src/base/1")).ok());
  ASSERT_TRUE(MakeDirectories(dir.Sub("src/" + DirName(long_path))).ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub("src/base/1/PG_VERSION"), "15\n", 0640).ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub("src/data"), RandomBytes(3000, 4), 0600).ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub("src/" + long_path), "deep", 0600).ok());
  ASSERT_EQ(symlink("../elsewhere", dir.Sub("src/link").c_str()), 0);
  ASSERT_EQ(chmod(dir.Sub("src/base").c_str(), 0750), 0);
}

std::map<std::string, ReadEntry> ByName(const std::vector<ReadEntry>& entries) {
  std::map<std::string, ReadEntry> m;
  for (const ReadEntry& e : entries) m[e.entry.name] = e;
  return m;
}

TEST(Tar, ReadsUstarArchivesMadeByGnuTar) {
  TempDir dir("tar-gnu-ustar");
  std::string long_path = LongName(180);
  ASSERT_NO_FATAL_FAILURE(MakeTree(dir, long_path));
  // "-C src ." also stores the root as "./", which the reader skips.
  auto made = RunCommand({"tar", "--format=ustar", "-cf", dir.Sub("u.tar"), "-C", dir.Sub("src"), "."});
  ASSERT_TRUE(made.ok()) << made.Describe();
  auto got = ReadAll(*ReadFileToString(dir.Sub("u.tar")));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  auto m = ByName(*got);
  EXPECT_EQ(m.count(""), 0u);
  EXPECT_EQ(m.count("."), 0u);
  EXPECT_EQ(m["base"].entry.type, TarEntryType::kDirectory);
  EXPECT_EQ(m["base"].entry.mode, 0750u);
  EXPECT_EQ(m["base/1/PG_VERSION"].data, "15\n");
  EXPECT_EQ(m["base/1/PG_VERSION"].entry.mode, 0640u);
  EXPECT_EQ(m["data"].data, RandomBytes(3000, 4));
  EXPECT_EQ(m[long_path].data, "deep");
  EXPECT_EQ(m["link"].entry.type, TarEntryType::kSymlink);
  EXPECT_EQ(m["link"].entry.link_target, "../elsewhere");
}

TEST(Tar, ReadsGnuFormatArchivesWithShortNames) {
  TempDir dir("tar-gnu-gnu");
  ASSERT_NO_FATAL_FAILURE(MakeTree(dir, LongName(180)));
  auto made = RunCommand({"tar", "--format=gnu", "-cf", dir.Sub("g.tar"), "-C", dir.Sub("src"), "base", "data", "link"});
  ASSERT_TRUE(made.ok()) << made.Describe();
  auto got = ReadAll(*ReadFileToString(dir.Sub("g.tar")));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  auto m = ByName(*got);
  EXPECT_EQ(m.size(), 5u);  // base, base/1, base/1/PG_VERSION, data, link
  EXPECT_EQ(m["base/1"].entry.type, TarEntryType::kDirectory);
  EXPECT_EQ(m["base/1/PG_VERSION"].data, "15\n");
  EXPECT_EQ(m["data"].data, RandomBytes(3000, 4));
  EXPECT_EQ(m["link"].entry.link_target, "../elsewhere");

  // Long names in GNU format use an extension we refuse clearly.
  auto long_made = RunCommand({"tar", "--format=gnu", "-cf", dir.Sub("l.tar"), "-C", dir.Sub("src"), "."});
  ASSERT_TRUE(long_made.ok()) << long_made.Describe();
  Status s = FirstError(*ReadFileToString(dir.Sub("l.tar")));
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("GNU long names"), std::string::npos) << s.message();
}

TEST(Tar, EntriesThatEscapeTheTargetAreCorruption) {
  std::string archive = MakeArchive({{"placeholder", TarEntryType::kFile, 0600, "x"}});
  struct Case {
    std::string name, message;
  };
  for (const Case& c : {Case{"../x", "tar entry \"../x\" escapes the target directory"},
                        Case{"a/../../x", "tar entry \"a/../../x\" escapes the target directory"},
                        Case{"/etc/passwd", "tar entry \"/etc/passwd\" is an absolute path"}}) {
    std::string evil = archive;
    PatchHeader(evil, 0, 0, c.name + std::string(100 - c.name.size(), '\0'));
    TarReader reader(StringSource(evil));
    auto e = reader.Next();
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(e.status().message().substr(0, c.message.size()), c.message);
    EXPECT_EQ(reader.Next().status().message(), e.status().message());  // sticky
  }
}

TEST(Tar, GnuTarAbsoluteNamesAreRefused) {
  TempDir dir("tar-evil");
  ASSERT_TRUE(MakeDirectories(dir.Sub("a/b")).ok());
  ASSERT_TRUE(WriteFileDurably(dir.Sub("a/x"), "escape").ok());
  // -P keeps "../x" and absolute names as given.
  auto made = RunCommand({"tar", "--format=ustar", "-cPf", dir.Sub("dots.tar"), "../x"}, {.cwd = dir.Sub("a/b")});
  ASSERT_TRUE(made.ok()) << made.Describe();
  EXPECT_EQ(FirstError(*ReadFileToString(dir.Sub("dots.tar"))).message(),
            "tar entry \"../x\" escapes the target directory");
  made = RunCommand({"tar", "--format=ustar", "-cPf", dir.Sub("abs.tar"), dir.Sub("a/x")});
  ASSERT_TRUE(made.ok()) << made.Describe();
  Status s = FirstError(*ReadFileToString(dir.Sub("abs.tar")));
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("absolute"), std::string::npos) << s.message();
}

TEST(Tar, DamagedHeadersAreCorruption) {
  std::string good = MakeArchive({{"f", TarEntryType::kFile, 0600, "data"}});
  struct Case {
    std::string what;
    std::function<void(std::string&)> damage;
    std::string message;
  };
  std::vector<Case> cases = {
      {"flipped name byte", [](std::string& a) { a[0] ^= 1; }, "bad checksum"},
      {"garbage checksum", [](std::string& a) { a.replace(148, 8, "zzzzzzz\0", 8); }, "non-octal checksum"},
      {"bad magic", [](std::string& a) { PatchHeader(a, 0, 257, "xstar"); }, "not a ustar header"},
      {"non-octal size", [](std::string& a) { PatchHeader(a, 0, 124, "0000000009x"); }, "not a number"},
      {"empty size", [](std::string& a) { PatchHeader(a, 0, 124, std::string(12, '\0')); }, "not a number"},
      {"base-256 exabyte size",
       [](std::string& a) { PatchHeader(a, 0, 124, std::string("\x80\0\0\0\x10\0\0\0\0\0\0\0", 12)); }, "absurd size"},
      {"negative base-256 size", [](std::string& a) { PatchHeader(a, 0, 124, std::string(12, '\xff')); }, "not a number"},
      {"base-256 overflow", [](std::string& a) { PatchHeader(a, 0, 124, std::string(12, '\x80')); }, "not a number"},
      {"hard link", [](std::string& a) { PatchHeader(a, 0, 156, "1"); }, "unsupported type"},
      {"pax header", [](std::string& a) { PatchHeader(a, 0, 156, "x"); }, "pax"},
      {"directory with data", [](std::string& a) { PatchHeader(a, 0, 156, "5"); }, "nonzero size"},
      {"symlink without target",
       [](std::string& a) {
         PatchHeader(a, 0, 124, "00000000000");
         PatchHeader(a, 0, 156, "2");
       },
       "empty target"},
      {"lone zero block", [](std::string& a) { a.insert(0, std::string(512, '\0')); }, "lone zero block"},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    c.damage(bad);
    Status s = FirstError(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << c.what << ": " << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.what << ": " << s.message();
  }
}

TEST(Tar, EveryTruncationIsCorruption) {
  std::string archive = MakeArchive(SampleItems());
  ASSERT_TRUE(FirstError(archive).ok());
  for (size_t cut = 0; cut < archive.size(); ++cut) {
    Status s = FirstError(archive.substr(0, cut));
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << "cut at " << cut << ": " << s.ToString();
    ASSERT_NE(s.message().find("truncated"), std::string::npos) << "cut at " << cut << ": " << s.message();
  }
}

TEST(Tar, BodyWithoutTrailerIsTruncated) {
  std::string body = MakeArchive(SampleItems(), /*finish=*/false);
  EXPECT_EQ(FirstError(body).message(), "tar archive is truncated: it ends without the end-of-archive marker");
}

TEST(Tar, SourceAndSinkErrorsAreReturnedAndSticky) {
  std::string archive = MakeArchive(SampleItems());
  auto calls = std::make_shared<int>(0);
  TarReader reader([calls, inner = StringSource(archive, 512)](std::span<uint8_t> b) -> Result<size_t> {
    if (++*calls == 3) return IoError("could not read from page server: connection reset");
    return inner(b);
  });
  Status s = Status::Ok();
  for (int i = 0; i < 100 && s.ok(); ++i) {
    auto e = reader.Next();
    s = e.status();
    if (e.ok() && !e->has_value()) break;
  }
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(reader.Next().status().code(), StatusCode::kIoError);

  size_t budget = 1000;
  TarWriter w([&budget](std::span<const uint8_t> b) {
    if (b.size() > budget) return IoError("disk full");
    budget -= b.size();
    return Status::Ok();
  });
  EXPECT_EQ(WriteItems(w, SampleItems()).code(), StatusCode::kIoError);
  EXPECT_EQ(w.AddDirectory("d", 0700, kMtime).code(), StatusCode::kIoError);
  EXPECT_EQ(w.Finish().code(), StatusCode::kIoError);
}

// Damaged archives, many times over, with a fixed seed: the reader must end
// every time (an entry consumes at least one block, so a bounded number of
// calls), must never hand out a name that escapes, and must never return more
// data than the input holds. ASan/UBSan builds check the memory side.
TEST(Tar, CorruptedArchivesNeverCrashAndAlwaysTerminate) {
  const std::string good = MakeArchive(SampleItems());
  std::mt19937 rng(20240601);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = good;
    switch (iter % 4) {
      case 0:  // random bytes flipped
        for (size_t k = 1 + pick(16); k > 0; --k) bad[pick(bad.size())] ^= static_cast<char>(1 + pick(255));
        break;
      case 1:  // truncated, then maybe flipped
        bad.resize(pick(bad.size()));
        if (!bad.empty() && pick(2)) bad[pick(bad.size())] ^= 0x40;
        break;
      case 2: {  // a header field replaced, checksum fixed, to get past the checksum
        size_t header = 512 * pick(bad.size() / 512);
        size_t field = pick(500);
        PatchHeader(bad, header, field, RandomBytes(1 + pick(12), static_cast<uint32_t>(iter)));
        break;
      }
      case 3:  // a size field set to a plausible but wrong octal value
        PatchHeader(bad, 512 * pick(bad.size() / 512), 124, std::to_string(pick(1 << 20)) + std::string(1, '\0'));
        break;
    }
    TarReader reader(StringSource(bad, 1 + pick(1024)));
    size_t steps = 0, data_bytes = 0;
    Status status = Status::Ok();
    while (true) {
      ASSERT_LE(++steps, bad.size() / 512 + 2) << "iteration " << iter << " does not terminate";
      auto e = reader.Next();
      if (!e.ok()) {
        status = e.status();
        break;
      }
      if (!e->has_value()) break;
      ASSERT_TRUE(ValidateTarEntryName((*e)->name).ok()) << (*e)->name;
      std::array<uint8_t, 4096> buf;
      Result<size_t> n = size_t{1};
      while (n.ok() && *n > 0) {
        n = reader.ReadData(buf);
        if (n.ok()) data_bytes += *n;
      }
      ASSERT_LE(data_bytes, bad.size());
    }
    if (iter % 4 == 1) {
      EXPECT_FALSE(status.ok()) << "a truncated archive read cleanly, iteration " << iter;
    }
    if (!status.ok()) {
      ++errors;
      EXPECT_TRUE(status.code() == StatusCode::kCorruption) << status.ToString();
      EXPECT_EQ(reader.Next().status().message(), status.message());
    }
  }
  EXPECT_GT(errors, 1500);  // every truncation, and most header damage, is detected
}

}  // namespace
}  // namespace zenith

namespace zenith {
namespace {

TEST(TarMemorySource, ReadsItsPartsInOrderAcrossBoundaries) {
  std::string body;
  TarWriter writer([&](std::span<const uint8_t> b) {
    body.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ASSERT_TRUE(writer.AddFile("a", 0600, 0, AsBytes(std::string(700, 'a'))).ok());
  ASSERT_TRUE(writer.EndBody().ok());
  std::string second;
  TarWriter writer2([&](std::span<const uint8_t> b) {
    second.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ASSERT_TRUE(writer2.AddFile("b", 0600, 0, AsBytes(std::string(5, 'b'))).ok());
  ASSERT_TRUE(writer2.EndBody().ok());
  TarReader reader(MemoryTarSource({AsBytes(body), AsBytes(second), TarEndOfArchive()}));
  std::vector<std::string> names;
  for (;;) {
    auto e = reader.Next();
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    if (!*e) break;
    names.push_back((*e)->name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  // Without the trailer part, the same bytes are a truncated archive.
  TarReader cut(MemoryTarSource({AsBytes(body), AsBytes(second)}));
  ASSERT_TRUE(cut.Next().ok());
  ASSERT_TRUE(cut.Next().ok());
  EXPECT_EQ(cut.Next().status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace zenith
