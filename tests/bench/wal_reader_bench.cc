// How fast FindEndOfWal walks a directory of WAL (the page server does it
// often). Usage: bench_wal_reader_bench <pg_wal dir> [rounds]
// Reads from the first record of the oldest segment to the end, `rounds`
// times, and prints records/s and MB/s of WAL.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/wal_directory.h"
#include "common/wal_reader.h"

int main(int argc, char** argv) {
  using namespace zenith;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <pg_wal dir> [rounds]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  Result<Lsn> first_end = FindEndOfWalInDirectory(dir, 1, 0, Lsn());
  if (!first_end.ok()) {
    std::fprintf(stderr, "%s\n", first_end.status().ToString().c_str());
    return 1;
  }
  WalReadFn read = MakeWalDirectoryReader(dir, 1);
  // The first record of the oldest segment, as FindEndOfWalInDirectory finds it.
  Lsn start;
  for (uint64_t segno = 1; !start.valid() && segno <= first_end->segment_number(); ++segno) {
    Result<std::optional<Lsn>> first = FindFirstRecordInSegment(read, segno, 0);
    if (first.ok() && first->has_value()) start = **first;
  }
  uint64_t records = 0;
  Lsn end;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    WalReader reader(read, 0, start);
    while (true) {
      Result<const WalRecord*> r = reader.ReadRecord();
      if (!r.ok() || *r == nullptr) break;
      ++records;
    }
    end = reader.position();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mb = static_cast<double>(end - start) * rounds / (1 << 20);
  std::printf("%s .. %s: %.0f records/s, %.0f MB/s of WAL\n", start.ToString().c_str(), end.ToString().c_str(),
              static_cast<double>(records) / secs, mb / secs);
  return 0;
}
