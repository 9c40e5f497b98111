// fs/prefetching_page_source.h and Segment::ReadAheadAfter: pages ahead
// travel with the read that names them, are handed out once, stay within
// the cache's bound, and never fail the read that carried them.
#include "fs/prefetching_page_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/pg_abi.h"
#include "fs/segment.h"

namespace zenith::fs {
namespace {

const RelTag kRel{1663, 5, 16384, ForkNumber::kMain};
const RelTag kOther{1663, 5, 16385, ForkNumber::kMain};

size_t Bs() { return kZenithPgAbi.blcksz; }

// Serves page b of relation r as bytes (r.rel + b) % 251; records each call.
class FakeSource : public PageSource {
 public:
  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    calls.emplace_back(blocks.begin(), blocks.end());
    for (uint32_t b : blocks) {
      if (b == failing) return IoError("block " + std::to_string(b) + " is past the end");
    }
    for (size_t i = 0; i < blocks.size(); ++i) std::fill_n(out.begin() + i * Bs(), Bs(), Byte(rel, blocks[i]));
    return Status::Ok();
  }
  static uint8_t Byte(const RelTag& rel, uint32_t b) { return static_cast<uint8_t>((rel.rel + b) % 251); }
  std::vector<std::vector<uint32_t>> calls;
  uint32_t failing = UINT32_MAX;
};

bool Holds(std::span<const uint8_t> out, const RelTag& rel, std::vector<uint32_t> blocks) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (size_t j = 0; j < Bs(); ++j) {
      if (out[i * Bs() + j] != FakeSource::Byte(rel, blocks[i])) return false;
    }
  }
  return true;
}

TEST(PrefetchingPageSource, PagesAheadComeWithTheReadAndAreHandedOutOnce) {
  FakeSource inner;
  PrefetchingPageSource source(inner, 64);
  std::vector<uint8_t> out(2 * Bs());
  const uint32_t asked[] = {0, 1}, ahead[] = {2, 3};
  ASSERT_TRUE(source.GetPagesAhead(kRel, asked, out, ahead).ok());
  EXPECT_TRUE(Holds(out, kRel, {0, 1}));
  ASSERT_EQ(inner.calls.size(), 1u);
  EXPECT_EQ(inner.calls[0], (std::vector<uint32_t>{0, 1, 2, 3})) << "one round trip";

  const uint32_t next[] = {2, 3};
  ASSERT_TRUE(source.GetPages(kRel, next, out).ok());
  EXPECT_TRUE(Holds(out, kRel, {2, 3}));
  EXPECT_EQ(inner.calls.size(), 1u) << "served from the pages fetched ahead";
  ASSERT_TRUE(source.GetPages(kRel, next, out).ok());
  EXPECT_EQ(inner.calls.size(), 2u) << "a page fetched ahead is handed out once";
  EXPECT_NE(source.Summary().find("2 of 6 pages"), std::string::npos) << source.Summary();
}

TEST(PrefetchingPageSource, RelationsDoNotMixAndCachedPagesAreNotFetchedAhead) {
  FakeSource inner;
  PrefetchingPageSource source(inner, 64);
  std::vector<uint8_t> out(Bs());
  const uint32_t zero[] = {0}, one[] = {1};
  ASSERT_TRUE(source.GetPagesAhead(kRel, zero, out, one).ok());
  ASSERT_TRUE(source.GetPages(kOther, one, out).ok());
  EXPECT_TRUE(Holds(out, kOther, {1})) << "block 1 of another relation is not the one fetched ahead";
  EXPECT_EQ(inner.calls.size(), 2u);
  ASSERT_TRUE(source.GetPagesAhead(kRel, zero, out, one).ok());
  EXPECT_EQ(inner.calls.back(), (std::vector<uint32_t>{0})) << "block 1 is cached already";
  ASSERT_TRUE(source.GetPages(kRel, one, out).ok());
  EXPECT_TRUE(Holds(out, kRel, {1}));
}

TEST(PrefetchingPageSource, AFailedFetchAheadNeverFailsTheRead) {
  FakeSource inner;
  inner.failing = 5;
  PrefetchingPageSource source(inner, 64);
  std::vector<uint8_t> out(Bs());
  const uint32_t four[] = {4}, five[] = {5};
  ASSERT_TRUE(source.GetPagesAhead(kRel, four, out, five).ok());
  EXPECT_TRUE(Holds(out, kRel, {4}));
  ASSERT_EQ(inner.calls.size(), 2u);
  EXPECT_EQ(inner.calls[1], (std::vector<uint32_t>{4})) << "fetched again on its own";
  EXPECT_FALSE(source.GetPages(kRel, five, out).ok()) << "nothing of block 5 was kept";
  EXPECT_FALSE(source.GetPagesAhead(kRel, five, out, four).ok()) << "the asked-for page's own failure is the read's";
}

TEST(PrefetchingPageSource, TheCacheIsBoundedAndTheOldestPagesGoFirst) {
  FakeSource inner;
  PrefetchingPageSource source(inner, 2);
  std::vector<uint8_t> out(Bs());
  const uint32_t zero[] = {0}, ahead[] = {1, 2, 3};
  ASSERT_TRUE(source.GetPagesAhead(kRel, zero, out, ahead).ok());
  for (uint32_t b : {2u, 3u}) {
    ASSERT_TRUE(source.GetPages(kRel, std::span(&b, 1), out).ok());
    EXPECT_TRUE(Holds(out, kRel, {b}));
  }
  EXPECT_EQ(inner.calls.size(), 1u) << "the two newest were kept";
  const uint32_t one[] = {1};
  ASSERT_TRUE(source.GetPages(kRel, one, out).ok());
  EXPECT_EQ(inner.calls.size(), 2u) << "the oldest aged out";
  EXPECT_NE(source.Summary().find("1 aged out"), std::string::npos) << source.Summary();

  PrefetchingPageSource none(inner, 0);
  ASSERT_TRUE(none.GetPagesAhead(kRel, zero, out, ahead).ok());
  EXPECT_EQ(inner.calls.back(), (std::vector<uint32_t>{0})) << "no room: nothing fetched ahead";
  ASSERT_TRUE(none.GetPages(kRel, one, out).ok());
  EXPECT_TRUE(Holds(out, kRel, {1})) << "no cache at all still reads right";
}

// Like FakeSource, but a call that carries `gate_block` waits until
// Open(); thread-safe. `fail_gated` makes that call fail.
class GatedSource : public PageSource {
 public:
  Status GetPages(const RelTag& rel, std::span<const uint32_t> blocks, std::span<uint8_t> out) override {
    std::unique_lock lock(mu_);
    calls.emplace_back(blocks.begin(), blocks.end());
    changed_.notify_all();
    if (std::find(blocks.begin(), blocks.end(), gate_block) != blocks.end() && !open_) {
      changed_.wait(lock, [this] { return open_; });
      if (fail_gated) return IoError("the page server went away");
    }
    for (size_t i = 0; i < blocks.size(); ++i) std::fill_n(out.begin() + i * Bs(), Bs(), FakeSource::Byte(rel, blocks[i]));
    return Status::Ok();
  }
  void WaitForCalls(size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return calls.size() >= n; });
  }
  size_t CallCount() {
    std::lock_guard lock(mu_);
    return calls.size();
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  uint32_t gate_block = 10;
  bool fail_gated = false;
  std::vector<std::vector<uint32_t>> calls;  // guarded by mu_

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
};

void ReadWhileAPageIsFetchedAhead(bool fetch_fails) {
  GatedSource inner;
  inner.fail_gated = fetch_fails;
  PrefetchingPageSource source(inner, 64);
  std::vector<uint8_t> out_a(2 * Bs()), out_b(Bs());
  Status a_status, b_status;
  std::thread a([&] {
    const uint32_t asked[] = {8, 9}, ahead[] = {10, 11};
    a_status = source.GetPagesAhead(kRel, asked, out_a, ahead);
  });
  inner.WaitForCalls(1);  // a's fetch, with 10 and 11 ahead, is under way
  std::thread b([&] {
    const uint32_t asked[] = {10};
    b_status = source.GetPages(kRel, asked, out_b);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(inner.CallCount(), 1u) << "a read of a page in flight waits for it, not fetching it again";
  inner.Open();
  a.join();
  b.join();
  ASSERT_TRUE(a_status.ok()) << a_status.ToString();
  ASSERT_TRUE(b_status.ok()) << b_status.ToString();
  EXPECT_TRUE(Holds(out_a, kRel, {8, 9}));
  EXPECT_TRUE(Holds(out_b, kRel, {10}));
  if (fetch_fails) {
    EXPECT_NE(std::find(inner.calls.begin(), inner.calls.end(), std::vector<uint32_t>{10}), inner.calls.end())
        << "when the fetch ahead failed, the waiting read fetched its page itself";
  } else {
    EXPECT_EQ(inner.calls.size(), 1u) << "one fetch served both reads";
  }
}

TEST(PrefetchingPageSource, AReadOfAPageInFlightWaitsForItsFetch) { ReadWhileAPageIsFetchedAhead(false); }

TEST(PrefetchingPageSource, AReadOfAPageWhoseFetchFailedFetchesItItself) { ReadWhileAPageIsFetchedAhead(true); }

using Range = Segment::BlockRange;

TEST(SegmentReadAhead, GrowsWhileReadsAreSequentialAndStopsWhenTheyAreNot) {
  Segment seg({kRel, 0}, 100000);
  EXPECT_EQ(seg.ReadAheadAfter(0, 16), Range{}) << "a first read is not sequential yet";
  EXPECT_EQ(seg.ReadAheadAfter(16, 16), (Range{32, Segment::kMinReadAhead}));
  EXPECT_EQ(seg.ReadAheadAfter(32, 16), (Range{48, 2 * Segment::kMinReadAhead}))
      << "the window doubles, past the read; what was named already is not named again";
  EXPECT_EQ(seg.ReadAheadAfter(500, 1), Range{}) << "a jump";
  EXPECT_EQ(seg.ReadAheadAfter(501, 1), (Range{502, Segment::kMinReadAhead}));
}

TEST(SegmentReadAhead, ALongScanNamesEveryBlockAheadOnceInLargeChunks) {
  Segment seg({kRel, 0}, 100000);
  uint32_t named_to = 0, fetches = 0, reads = 0;
  for (uint32_t at = 0; at < 20000; at += 16, ++reads) {
    const Range r = seg.ReadAheadAfter(at, 16);
    if (r.count == 0) continue;
    ASSERT_GE(r.first, at + 16) << "only blocks past the read";
    if (named_to != 0) {
      ASSERT_EQ(r.first, named_to) << "each block once, none skipped";
    }
    named_to = r.first + r.count;
    if (at > 4096) {
      ASSERT_GE(r.count, Segment::kMaxReadAhead / 2) << "large chunks once the window is grown";
    }
    ++fetches;
  }
  EXPECT_GE(named_to, 20000u) << "the run is named ahead to its end";
  EXPECT_LT(fetches * 5, reads) << "most reads fetch nothing ahead";
}

TEST(SegmentReadAhead, AReadAlittleAheadOfTheLastStaysInTheRun) {
  Segment seg({kRel, 0}, 100000);
  seg.ReadAheadAfter(0, 16);
  const Range first = seg.ReadAheadAfter(16, 16);  // names [32, 48)
  ASSERT_EQ(first, (Range{32, 16}));
  // The kernel's asynchronous read of [40, 48) arrives before [32, 40).
  const Range out_of_order = seg.ReadAheadAfter(40, 8);
  EXPECT_EQ(out_of_order.first, 48u) << "the run goes on, nothing named twice";
  const Range behind = seg.ReadAheadAfter(32, 8);
  EXPECT_TRUE(behind.count == 0 || behind.first >= out_of_order.first + out_of_order.count);
}

}  // namespace
}  // namespace zenith::fs
