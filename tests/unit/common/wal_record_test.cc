// DecodeWalRecord on records built by hand (at kZenithPgAbi's offsets), for
// the layouts and malformations real WAL rarely shows: every check
// DecodeXLogRecord makes, with PostgreSQL's message.
#include "common/wal_record.h"

#include <gtest/gtest.h>

#include "common/byte_io.h"
#include "common/pg_abi.h"

namespace zenith {
namespace {

const ZenithPgAbi& Abi() { return kZenithPgAbi; }

// Builds a record: the fixed header, then fragment headers, then payload.
class RecordBuilder {
 public:
  RecordBuilder() : headers_(Abi().record.size, 0) {}

  RecordBuilder& Block(uint8_t id, uint8_t fork_flags, uint16_t data_len) {
    const auto& w = Abi().wal_block;
    size_t at = Grow(Abi().block_header_size);
    headers_[at + w.id] = id;
    headers_[at + w.fork_flags] = fork_flags;
    StoreAt<uint16_t>(headers_, at + w.data_length, data_len);
    return *this;
  }
  RecordBuilder& Image(uint16_t length, uint16_t hole_offset, uint8_t info) {
    const auto& w = Abi().wal_block;
    size_t at = Grow(Abi().block_image_header_size);
    StoreAt<uint16_t>(headers_, at + w.image_length, length);
    StoreAt<uint16_t>(headers_, at + w.image_hole_offset, hole_offset);
    headers_[at + w.image_info] = info;
    return *this;
  }
  RecordBuilder& HoleLength(uint16_t length) {
    StoreAt<uint16_t>(headers_, Grow(Abi().block_compress_header_size) + Abi().wal_block.compress_hole_length, length);
    return *this;
  }
  RecordBuilder& Rel(uint32_t spc, uint32_t db, uint32_t rel) {
    const auto& w = Abi().wal_block;
    size_t at = Grow(Abi().relfilenode_size);
    StoreAt<uint32_t>(headers_, at + w.rel_spc, spc);
    StoreAt<uint32_t>(headers_, at + w.rel_db, db);
    StoreAt<uint32_t>(headers_, at + w.rel_rel, rel);
    return *this;
  }
  RecordBuilder& BlockNumber(uint32_t blkno) {
    StoreAt<uint32_t>(headers_, Grow(4), blkno);
    return *this;
  }
  RecordBuilder& Id(uint8_t id) {
    headers_[Grow(1)] = id;
    return *this;
  }
  RecordBuilder& U16(uint16_t v) {
    StoreAt<uint16_t>(headers_, Grow(2), v);
    return *this;
  }
  RecordBuilder& U32(uint32_t v) {
    StoreAt<uint32_t>(headers_, Grow(4), v);
    return *this;
  }
  RecordBuilder& U8(uint8_t v) {
    headers_[Grow(1)] = v;
    return *this;
  }
  RecordBuilder& Payload(size_t n, uint8_t fill) {
    payload_.insert(payload_.end(), n, fill);
    return *this;
  }

  WalRecord Build(uint8_t rmid = 10, uint8_t info = 0x00) const {
    WalRecord r;
    r.start_lsn = Lsn(0x1000028);
    r.bytes = headers_;
    r.bytes.insert(r.bytes.end(), payload_.begin(), payload_.end());
    const auto& h = Abi().record;
    StoreAt<uint32_t>(r.bytes, h.tot_len, static_cast<uint32_t>(r.bytes.size()));
    StoreAt<uint32_t>(r.bytes, h.xid, 742);
    StoreAt<uint64_t>(r.bytes, h.prev, 0x1000000);
    r.bytes[h.info] = info;
    r.bytes[h.rmid] = rmid;
    return r;
  }

 private:
  size_t Grow(size_t n) {
    size_t at = headers_.size();
    headers_.resize(at + n);
    return at;
  }
  std::vector<uint8_t> headers_, payload_;
};

std::string DecodeError(WalRecord r) {
  Status s = DecodeWalRecord(&r);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  return s.message();
}

TEST(WalRecord, DecodesBlocksWithSameRelImagesAndData) {
  const auto& a = Abi();
  const uint16_t stored = static_cast<uint16_t>(a.blcksz - 4000);
  WalRecord r = RecordBuilder()
                    .Block(0, a.bkpblock_has_image | a.bkpblock_has_data | 1, 10)  // fsm fork
                    .Image(stored, 100, a.bkpimage_has_hole | a.bkpimage_apply)
                    .Rel(1663, 5, 16384)
                    .BlockNumber(7)
                    .Block(3, a.bkpblock_same_rel | a.bkpblock_will_init, 0)
                    .BlockNumber(9)
                    .Id(a.xlr_block_id_data_short)
                    .U8(6)
                    .Payload(stored, 0xAA)
                    .Payload(10, 0xBB)
                    .Payload(6, 0xCC)
                    .Build();
  ASSERT_TRUE(DecodeWalRecord(&r).ok());
  EXPECT_EQ(r.xid, 742u);
  EXPECT_EQ(r.prev, Lsn(0x1000000));
  ASSERT_EQ(r.blocks.size(), 2u);
  const WalBlockRef& b0 = r.blocks[0];
  EXPECT_EQ(b0.fork, 1);
  EXPECT_EQ(b0.block, 7u);
  EXPECT_TRUE(b0.has_image && b0.image_applies && b0.has_data && !b0.will_init);
  EXPECT_EQ(b0.hole_offset, 100);
  EXPECT_EQ(b0.hole_length, 4000);
  EXPECT_EQ(r.bytes[b0.image_offset], 0xAA);
  EXPECT_EQ(r.bytes[b0.image_offset + stored - 1], 0xAA);
  EXPECT_EQ(b0.data_offset, b0.image_offset + stored);
  EXPECT_EQ(r.bytes[b0.data_offset], 0xBB);
  const WalBlockRef& b1 = r.blocks[1];
  EXPECT_EQ(b1.block_id, 3);
  EXPECT_EQ(b1.tablespace, 1663u);
  EXPECT_EQ(b1.database, 5u);
  EXPECT_EQ(b1.relfilenode, 16384u);
  EXPECT_EQ(b1.block, 9u);
  EXPECT_TRUE(b1.will_init && !b1.has_image && !b1.has_data);
  ASSERT_EQ(r.main_data_length, 6u);
  EXPECT_EQ(r.main_data()[0], 0xCC);
  EXPECT_EQ(r.image_bytes(), stored);
}

TEST(WalRecord, DecodesCompressedImageWithHoleOriginToplevelXidAndLongMainData) {
  const auto& a = Abi();
  WalRecord r = RecordBuilder()
                    .Id(a.xlr_block_id_origin)
                    .U16(7)
                    .Id(a.xlr_block_id_toplevel_xid)
                    .U32(900)
                    .Block(0, a.bkpblock_has_image, 0)
                    .Image(1234, 200, a.bkpimage_has_hole | a.bkpimage_compress_pglz)
                    .HoleLength(3000)
                    .Rel(1663, 1, 1259)
                    .BlockNumber(0)
                    .Id(a.xlr_block_id_data_long)
                    .U32(300)
                    .Payload(1234, 1)
                    .Payload(300, 2)
                    .Build();
  ASSERT_TRUE(DecodeWalRecord(&r).ok());
  EXPECT_EQ(r.origin, 7);
  EXPECT_EQ(r.toplevel_xid, 900u);
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_TRUE(r.blocks[0].image_compressed());
  EXPECT_FALSE(r.blocks[0].image_applies);
  EXPECT_EQ(r.blocks[0].hole_length, 3000);
  EXPECT_EQ(r.main_data_length, 300u);
  EXPECT_EQ(r.main_data().front(), 2);
  EXPECT_EQ(r.main_data_offset + r.main_data_length, r.bytes.size());
}

TEST(WalRecord, RecordWithNoFragmentsDecodes) {
  WalRecord r = RecordBuilder().Build();
  ASSERT_TRUE(DecodeWalRecord(&r).ok());
  EXPECT_TRUE(r.blocks.empty());
  EXPECT_EQ(r.main_data_length, 0u);
}

TEST(WalRecord, MalformedFragmentsGivePostgresMessages) {
  const auto& a = Abi();
  const std::string at = " at 0/1000028";
  EXPECT_EQ(DecodeError(RecordBuilder().Block(2, 0, 0).Rel(1, 2, 3).BlockNumber(0).Block(1, 0, 0).Rel(1, 2, 3)
                            .BlockNumber(0).Build()),
            "out-of-order block_id 1" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Id(a.xlr_max_block_id + 1).Build()), "invalid block_id 33" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, a.bkpblock_same_rel, 0).BlockNumber(0).Build()),
            "BKPBLOCK_SAME_REL set but no previous rel" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, a.bkpblock_has_data, 0).Rel(1, 2, 3).BlockNumber(0).Build()),
            "BKPBLOCK_HAS_DATA set, but no data included" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, 0, 5).Rel(1, 2, 3).BlockNumber(0).Payload(5, 0).Build()),
            "BKPBLOCK_HAS_DATA not set, but data length is 5" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, a.bkpblock_has_image, 0).Image(100, 0, a.bkpimage_has_hole)
                            .Rel(1, 2, 3).BlockNumber(0).Payload(100, 0).Build()),
            "BKPIMAGE_HAS_HOLE set, but hole offset 0 length " + std::to_string(a.blcksz - 100) +
                " block image length 100" + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, a.bkpblock_has_image, 0).Image(100, 0, 0).Rel(1, 2, 3)
                            .BlockNumber(0).Payload(100, 0).Build()),
            "BKPIMAGE_HAS_HOLE not set, but hole offset 0 length " + std::to_string(a.blcksz - 100) + at);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, a.bkpblock_has_image, 0)
                            .Image(static_cast<uint16_t>(a.blcksz), 0, a.bkpimage_compress_lz4).Rel(1, 2, 3)
                            .BlockNumber(0).Payload(a.blcksz, 0).Build()),
            "BKPIMAGE_COMPRESSED set, but block image length " + std::to_string(a.blcksz) + at);
}

TEST(WalRecord, LengthsThatDisagreeWithTheRecordAreInvalid) {
  const auto& a = Abi();
  const std::string msg = "record with invalid length at 0/1000028";
  EXPECT_EQ(DecodeError(RecordBuilder().Id(a.xlr_block_id_data_short).U8(10).Payload(9, 0).Build()), msg);
  EXPECT_EQ(DecodeError(RecordBuilder().Id(a.xlr_block_id_data_short).U8(10).Payload(11, 0).Build()), msg);
  EXPECT_EQ(DecodeError(RecordBuilder().Id(a.xlr_block_id_data_long).U32(0xFFFFFFFF).Payload(3, 0).Build()), msg);
  EXPECT_EQ(DecodeError(RecordBuilder().Block(0, 0, 0).Rel(1, 2, 3).Build()), msg);  // no block number
  EXPECT_EQ(DecodeError(RecordBuilder().Id(a.xlr_block_id_origin).U8(1).Build()), msg);
}

TEST(WalRecord, RmgrNamesFollowPgWaldump) {
  EXPECT_EQ(WalRmgrName(0), "XLOG");
  EXPECT_EQ(WalRmgrName(10), "Heap");
  EXPECT_EQ(WalRmgrName(200), "custom200");
  EXPECT_TRUE(WalRmgrIdIsValid(255));
  EXPECT_FALSE(WalRmgrIdIsValid(static_cast<uint8_t>(Abi().rmgr_count)));
  EXPECT_FALSE(WalRmgrIdIsValid(127));
}

}  // namespace
}  // namespace zenith
