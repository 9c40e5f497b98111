// The relation table (floors, deltas) and the snapshot lock, without FUSE.
#include "fs/relation_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/relation_path.h"
#include "tests/harness/wait.h"

namespace zenith::fs {
namespace {

using std::vector;

RelSegment Seg(Oid rel, uint32_t segno = 0) { return RelSegment{RelTag{1663, 5, rel, ForkNumber::kMain}, segno}; }

TEST(FsRelationTable, FloorsAreTheSmallestSizeSinceTheLastDelta) {
  RelationTable table({{Seg(100), 10}, {Seg(200, 1), 5}});
  std::shared_ptr<Segment> a = table.Attach(Seg(100));
  EXPECT_EQ(a->remote_limit(), 10u);
  table.Truncated(*a, 7);
  table.Truncated(*a, 9);
  table.Unlinked(Seg(200, 1));
  std::shared_ptr<Segment> created = table.Created(Seg(300, 2));
  created->MarkWritten(0, 1);
  a->MarkWritten(3, 1);
  SnapshotDelta delta = table.TakeDelta();
  EXPECT_EQ(delta.floors.at(Seg(100).tag), 7u);
  EXPECT_EQ(delta.floors.at(Seg(200).tag), 1 * BlocksPerSegment());
  EXPECT_EQ(delta.floors.at(Seg(300).tag), 2 * BlocksPerSegment());
  ASSERT_EQ(delta.dirty.size(), 2u);
  EXPECT_EQ(delta.dirty[0].seg, Seg(100));
  EXPECT_EQ(delta.dirty[0].blocks, vector<uint32_t>{3});
  EXPECT_EQ(delta.dirty[1].seg, Seg(300, 2));
  SnapshotDelta next = table.TakeDelta();
  EXPECT_TRUE(next.dirty.empty());
  EXPECT_TRUE(next.floors.empty());
}

TEST(FsRelationTable, TruncatingAnUnlinkedFileLeavesNoFloor) {
  RelationTable table({{Seg(100), 10}});
  std::shared_ptr<Segment> old = table.Attach(Seg(100));
  table.Unlinked(Seg(100));
  (void)table.TakeDelta();
  std::shared_ptr<Segment> fresh = table.Created(Seg(100));
  (void)table.TakeDelta();
  table.Truncated(*old, 3);  // an fd still open on the old file
  EXPECT_TRUE(table.TakeDelta().floors.empty());
  EXPECT_EQ(table.Find(Seg(100)), fresh);
  EXPECT_EQ(fresh->remote_limit(), 0u);  // a created file has no remote blocks
}

TEST(FsSnapshotLock, ExclusiveHolderBlocksSharedUntilReleasedFromAnotherThread) {
  SnapshotLock lock;
  lock.lock();
  std::atomic<bool> entered{false};
  std::thread reader([&] {
    lock.lock_shared();
    entered = true;
    lock.unlock_shared();
  });
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return lock.waiting() == 1; }, std::chrono::seconds(10)));
  EXPECT_FALSE(entered) << "the reader waits while the exclusive lock is held";
  std::thread([&] { lock.unlock(); }).join();
  reader.join();
  EXPECT_TRUE(entered);
}

TEST(FsSnapshotLock, WaitingExclusiveLockerIsNotStarvedBySharedHolders) {
  SnapshotLock lock;
  lock.lock_shared();
  std::atomic<bool> exclusive{false};
  std::thread writer([&] {
    lock.lock();
    exclusive = true;
    lock.unlock();
  });
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return lock.waiting() == 1; }, std::chrono::seconds(10)));
  std::atomic<bool> second_reader{false};
  std::thread reader([&] {
    lock.lock_shared();  // must queue behind the waiting writer
    second_reader = true;
    EXPECT_TRUE(exclusive);
    lock.unlock_shared();
  });
  ASSERT_TRUE(zenith::testing::WaitUntil([&] { return lock.waiting() == 2; }, std::chrono::seconds(10)));
  EXPECT_FALSE(second_reader) << "a new reader queues behind the waiting writer";
  EXPECT_FALSE(exclusive);
  lock.unlock_shared();
  writer.join();
  reader.join();
  EXPECT_TRUE(second_reader);
}

}  // namespace
}  // namespace zenith::fs
