#include "pageserver/api/page_protocol.h"

#include <nlohmann/json.hpp>

#include "common/byte_io.h"

namespace zenith::pageserver {

namespace {

void PutRel(ByteWriter& w, const RelTag& rel) { AppendRelTag(w, rel); }

bool GetRel(ByteReader& r, RelTag* rel) {
  auto tag = ReadRelTag(r);
  if (tag) *rel = *tag;
  return tag.has_value();
}

enum SnapshotTag : uint8_t { kTagPage = 'P', kTagRelation = 'R', kTagFiles = 'T', kTagEnd = 'E' };

}  // namespace

void AppendPageRequest(std::string* out, const PageRequest& req) {
  ByteWriter w(out);
  w.U8(static_cast<uint8_t>(req.kind));
  w.U64(req.lsn.value);
  PutRel(w, req.rel);
  w.U32(req.block);
}

Result<PageRequest> DecodePageRequest(std::span<const uint8_t> msg) {
  if (msg.size() != kPageRequestSize) {
    return InvalidArgument("a page request is " + std::to_string(kPageRequestSize) + " bytes, got " +
                           std::to_string(msg.size()));
  }
  ByteReader r(msg);
  PageRequest req;
  uint8_t kind = r.U8();
  req.lsn = Lsn(r.U64());
  if (!GetRel(r, &req.rel)) return InvalidArgument("page request with an unknown fork number");
  req.block = r.U32();
  if (kind < 1 || kind > 3) return InvalidArgument("unknown page request kind " + std::to_string(kind));
  req.kind = static_cast<PageRequestKind>(kind);
  return req;
}

void AppendExistsReply(std::string* out, bool exists) {
  out->push_back(static_cast<char>(PageReplyKind::kExists));
  out->push_back(exists ? 1 : 0);
}

void AppendNblocksReply(std::string* out, uint32_t nblocks) {
  ByteWriter w(out);
  w.U8(static_cast<uint8_t>(PageReplyKind::kNblocks));
  w.U32(nblocks);
}

std::span<const uint8_t> PageReplyHead() {
  static constexpr uint8_t kHead[] = {static_cast<uint8_t>(PageReplyKind::kPage)};
  return kHead;
}

void AppendErrorReply(std::string* out, std::string_view message) {
  ByteWriter w(out);
  w.U8(static_cast<uint8_t>(PageReplyKind::kError));
  w.String(message);
}

Result<PageReply> DecodePageReply(std::span<const uint8_t> msg) {
  ByteReader r(msg);
  PageReply reply;
  uint8_t kind = r.U8();
  reply.kind = static_cast<PageReplyKind>(kind);
  switch (reply.kind) {
    case PageReplyKind::kExists: reply.exists = r.U8() != 0; break;
    case PageReplyKind::kNblocks: reply.nblocks = r.U32(); break;
    case PageReplyKind::kPage: reply.page = r.Bytes(kPageSize); break;
    case PageReplyKind::kError: reply.error = r.String(1 << 20); break;
    default: return ProtocolError("unknown page reply kind " + std::to_string(kind));
  }
  if (!r.ok() || r.remaining() != 0) return ProtocolError("malformed page reply");
  return reply;
}

void AppendSnapshotPage(std::string* out, const RelTag& rel, uint32_t block, std::span<const uint8_t> page) {
  ByteWriter w(out);
  w.U8(kTagPage);
  PutRel(w, rel);
  w.U32(block);
  w.Bytes(page);
}

void AppendSnapshotRelation(std::string* out, const RelTag& rel, RelationInfo info) {
  ByteWriter w(out);
  w.U8(kTagRelation);
  PutRel(w, rel);
  w.U32(info.nblocks);
  w.U32(info.floor);
}

void AppendSnapshotFiles(std::string* out, std::span<const uint8_t> tar) {
  ByteWriter w(out);
  w.U8(kTagFiles);
  w.Bytes(tar);
}

void AppendSnapshotEnd(std::string* out, const SnapshotEnd& end) {
  ByteWriter w(out);
  w.U8(kTagEnd);
  w.U64(end.lsns.redo.value);
  w.U64(end.lsns.checkpoint.value);
  w.U64(end.lsns.valid.value);
  w.U64(end.page_count);
  w.U64(end.relation_count);
}

Result<SnapshotRecord> DecodeSnapshotRecord(std::span<const uint8_t> msg) {
  ByteReader r(msg);
  uint8_t tag = r.U8();
  SnapshotRecord rec;
  switch (tag) {
    case kTagPage: {
      SnapshotPage p;
      if (!GetRel(r, &p.rel)) return ProtocolError("snapshot page with a malformed relation");
      p.block = r.U32();
      p.page = r.Bytes(kPageSize);
      rec = p;
      break;
    }
    case kTagRelation: {
      SnapshotRelation rel;
      if (!GetRel(r, &rel.rel)) return ProtocolError("snapshot relation with a malformed relation");
      rel.info.nblocks = r.U32();
      rel.info.floor = r.U32();
      rec = rel;
      break;
    }
    case kTagFiles:
      rec = SnapshotFiles{r.Bytes(r.remaining())};
      break;
    case kTagEnd: {
      SnapshotEnd end;
      end.lsns.redo = Lsn(r.U64());
      end.lsns.checkpoint = Lsn(r.U64());
      end.lsns.valid = Lsn(r.U64());
      end.page_count = r.U64();
      end.relation_count = r.U64();
      rec = end;
      break;
    }
    default:
      return ProtocolError("unknown snapshot record type " + std::to_string(tag));
  }
  if (!r.ok() || r.remaining() != 0) return ProtocolError("malformed snapshot record of type " + std::to_string(tag));
  return rec;
}

std::string BasebackupManifest::ToJson() const {
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& f : relations) rels.push_back({f.path, f.size});
  nlohmann::json j = {
      {"timeline_id", timeline_id},
      {"snapshot",
       {{"timeline_id", snapshot_timeline_id},
        {"redo", snapshot.redo.ToString()},
        {"checkpoint", snapshot.checkpoint.ToString()},
        {"valid", snapshot.valid.ToString()}}},
      {"system_id", std::to_string(system_id)},
      {"relations", rels},
  };
  return j.dump();
}

Result<BasebackupManifest> BasebackupManifest::FromJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Corruption("basebackup manifest is not valid JSON");
  BasebackupManifest m;
  try {
    m.timeline_id = j.at("timeline_id").get<std::string>();
    const auto& snap = j.at("snapshot");
    m.snapshot_timeline_id = snap.at("timeline_id").get<std::string>();
    auto redo = Lsn::Parse(snap.at("redo").get<std::string>());
    auto ckpt = Lsn::Parse(snap.at("checkpoint").get<std::string>());
    auto valid = Lsn::Parse(snap.at("valid").get<std::string>());
    if (!redo || !ckpt || !valid) return Corruption("basebackup manifest has a malformed LSN");
    m.snapshot = {*redo, *ckpt, *valid};
    m.system_id = std::stoull(j.at("system_id").get<std::string>());
    for (const auto& f : j.at("relations")) {
      m.relations.push_back({f.at(0).get<std::string>(), f.at(1).get<uint64_t>()});
    }
  } catch (const std::exception& e) {
    return Corruption(std::string("basebackup manifest is incomplete: ") + e.what());
  }
  return m;
}

}  // namespace zenith::pageserver
