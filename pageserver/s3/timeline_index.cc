#include "pageserver/s3/timeline_index.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace zenith::s3 {

namespace {

using nlohmann::json;

std::string Hex16(Lsn lsn) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(lsn.value));
  return buf;
}

Lsn LsnAt(const json& j, const char* field) {
  auto lsn = Lsn::Parse(j.at(field).get<std::string>());
  if (!lsn) throw std::invalid_argument(std::string(field) + " is not an LSN");
  return *lsn;
}

json LayerToJson(const IndexLayer& l) {
  return {{"name", l.name},
          {"generation", l.generation},
          {"size", l.size},
          {"start", l.start.ToString()},
          {"redo", l.redo.ToString()},
          {"checkpoint", l.checkpoint.ToString()},
          {"valid", l.valid.ToString()},
          {"image", l.image}};
}

IndexLayer LayerFromJson(const json& j) {
  return {j.at("name").get<std::string>(), j.at("generation").get<uint64_t>(), j.at("size").get<uint64_t>(),
          LsnAt(j, "start"),  LsnAt(j, "redo"),  LsnAt(j, "checkpoint"),  LsnAt(j, "valid"),
          j.at("image").get<bool>()};
}

json PieceToJson(const IndexWalPiece& p) {
  return {{"segno", p.segno}, {"start", p.start.ToString()}, {"end", p.end.ToString()}, {"generation", p.generation}};
}

IndexWalPiece PieceFromJson(const json& j) {
  IndexWalPiece p{j.at("segno").get<uint64_t>(), LsnAt(j, "start"), LsnAt(j, "end"), j.at("generation").get<uint64_t>()};
  if (p.end < p.start || p.start.segment_number() != p.segno || (p.end - 1).segment_number() != p.segno) {
    throw std::invalid_argument("a WAL piece is not inside its segment");
  }
  return p;
}

Result<json> ParseObject(const std::string& text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corruption(std::string(what) + " is not a JSON object");
  return j;
}

// "<stem>-<g>-<seq>.json" -> version; nullopt for other names.
std::optional<Version> ParseVersionedName(std::string_view name, std::string_view stem) {
  const size_t digits = 20;
  if (name.size() != stem.size() + 2 + 2 * digits + 5 || name.substr(0, stem.size()) != stem ||
      name.substr(name.size() - 5) != ".json") {
    return std::nullopt;
  }
  Version v;
  std::string_view rest = name.substr(stem.size());
  if (rest[0] != '-' || rest[1 + digits] != '-') return std::nullopt;
  for (size_t i = 1; i <= 2 * digits + 1; ++i) {
    if (i == 1 + digits) continue;
    if (rest[i] < '0' || rest[i] > '9') return std::nullopt;
    uint64_t& n = i <= digits ? v.generation : v.seq;
    n = n * 10 + static_cast<uint64_t>(rest[i] - '0');
  }
  return v;
}

}  // namespace

std::string TimelineIndex::ToJson() const {
  json j = {{"format", 1},
            {"timeline", timeline},
            {"gc_cutoff", gc_cutoff.ToString()},
            {"wal_uploaded", wal_uploaded.ToString()},
            {"layers", json::array()},
            {"wal", json::array()}};
  if (ancestor) {
    j["ancestor"] = *ancestor;
    j["ancestor_lsn"] = ancestor_lsn.ToString();
  }
  if (readable_from) j["readable_from"] = readable_from->ToString();
  for (const auto& l : layers) j["layers"].push_back(LayerToJson(l));
  for (const auto& p : wal) j["wal"].push_back(PieceToJson(p));
  return j.dump(1) + "\n";
}

Result<TimelineIndex> TimelineIndex::FromJson(const std::string& text) {
  ZENITH_ASSIGN_OR_RETURN(json j, ParseObject(text, "a timeline index"));
  TimelineIndex index;
  try {
    if (j.at("format").get<int>() != 1) return Corruption("a timeline index of an unknown format");
    index.timeline = j.at("timeline").get<std::string>();
    if (j.contains("ancestor")) {
      index.ancestor = j.at("ancestor").get<std::string>();
      index.ancestor_lsn = LsnAt(j, "ancestor_lsn");
    }
    index.gc_cutoff = LsnAt(j, "gc_cutoff");
    if (j.contains("readable_from")) index.readable_from = LsnAt(j, "readable_from");
    index.wal_uploaded = LsnAt(j, "wal_uploaded");
    for (const auto& l : j.at("layers")) index.layers.push_back(LayerFromJson(l));
    for (const auto& p : j.at("wal")) index.wal.push_back(PieceFromJson(p));
  } catch (const std::exception& e) {
    return Corruption(std::string("a timeline index is incomplete: ") + e.what());
  }
  return index;
}

std::string Refs::ToJson() const {
  json j = {{"format", 1}, {"branches", branches}};
  return j.dump(1) + "\n";
}

Result<Refs> Refs::FromJson(const std::string& text) {
  ZENITH_ASSIGN_OR_RETURN(json j, ParseObject(text, "the refs"));
  Refs refs;
  try {
    if (j.at("format").get<int>() != 1) return Corruption("refs of an unknown format");
    refs.branches = j.at("branches").get<std::map<std::string, std::string>>();
  } catch (const std::exception& e) {
    return Corruption(std::string("the refs are incomplete: ") + e.what());
  }
  return refs;
}

std::string PaddedNumber(uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

std::string TimelinePrefix(const S3Url& url, const std::string& timeline) {
  return url.Key("timelines/" + timeline + "/");
}

std::string LayerKey(const S3Url& url, const std::string& timeline, const std::string& name, uint64_t generation) {
  return TimelinePrefix(url, timeline) + "layers/" + name + "-" + PaddedNumber(generation);
}

std::string WalPieceKey(const S3Url& url, const std::string& timeline, const IndexWalPiece& piece) {
  return TimelinePrefix(url, timeline) + "wal/" + WalSegmentFileName(kPgTimeLineId, piece.segno) + "-" +
         Hex16(piece.start) + "-" + Hex16(piece.end) + "-" + PaddedNumber(piece.generation);
}

std::string IndexKey(const S3Url& url, const std::string& timeline, uint64_t generation, uint64_t seq) {
  return TimelinePrefix(url, timeline) + "index-" + PaddedNumber(generation) + "-" + PaddedNumber(seq) + ".json";
}

std::string RefsKey(const S3Url& url, uint64_t generation, uint64_t seq) {
  return url.Key("refs/refs-" + PaddedNumber(generation) + "-" + PaddedNumber(seq) + ".json");
}

Result<std::optional<Version>> NewestVersion(ObjectStore& store, const std::string& dir_prefix,
                                             const std::string& stem, uint64_t max_generation) {
  ZENITH_ASSIGN_OR_RETURN(auto objects, store.ListAll(dir_prefix + stem + "-"));
  std::optional<Version> newest;
  for (const auto& o : objects) {
    auto v = ParseVersionedName(std::string_view(o.key).substr(dir_prefix.size()), stem);
    if (v && v->generation <= max_generation && (!newest || *v > *newest)) newest = v;
  }
  return newest;
}

Result<std::optional<VersionedIndex>> ReadNewestIndex(ObjectStore& store, const S3Url& url,
                                                      const std::string& timeline, uint64_t max_generation) {
  ZENITH_ASSIGN_OR_RETURN(auto v, NewestVersion(store, TimelinePrefix(url, timeline), "index", max_generation));
  if (!v) return std::optional<VersionedIndex>();
  const std::string key = IndexKey(url, timeline, v->generation, v->seq);
  ZENITH_ASSIGN_OR_RETURN(std::string text, store.Get(key));
  auto index = TimelineIndex::FromJson(text);
  if (!index.ok()) return index.status().WithContext(key);
  return std::optional<VersionedIndex>(VersionedIndex{*v, std::move(index).value()});
}

Result<std::optional<VersionedRefs>> ReadNewestRefs(ObjectStore& store, const S3Url& url, uint64_t max_generation) {
  ZENITH_ASSIGN_OR_RETURN(auto v, NewestVersion(store, url.Key("refs/"), "refs", max_generation));
  if (!v) return std::optional<VersionedRefs>();
  const std::string key = RefsKey(url, v->generation, v->seq);
  ZENITH_ASSIGN_OR_RETURN(std::string text, store.Get(key));
  auto refs = Refs::FromJson(text);
  if (!refs.ok()) return refs.status().WithContext(key);
  return std::optional<VersionedRefs>(VersionedRefs{*v, std::move(refs).value()});
}

std::optional<Version> IndexKeyVersion(std::string_view key) {
  return ParseVersionedName(key.substr(key.rfind('/') + 1), "index");
}

std::optional<uint64_t> KeyGeneration(std::string_view key) {
  if (auto v = IndexKeyVersion(key)) return v->generation;
  const size_t dash = key.rfind('-');
  if (dash == std::string_view::npos || key.size() - dash - 1 != 20 || key.rfind('/') > dash) return std::nullopt;
  uint64_t g = 0;
  for (char c : key.substr(dash + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    g = g * 10 + static_cast<uint64_t>(c - '0');
  }
  return g;
}

std::set<std::string> NamedKeys(const S3Url& url, const TimelineIndex& index) {
  std::set<std::string> keys;
  for (const auto& layer : index.layers) keys.insert(LayerKey(url, index.timeline, layer.name, layer.generation));
  for (const auto& piece : index.wal) keys.insert(WalPieceKey(url, index.timeline, piece));
  return keys;
}

Result<std::vector<std::string>> ListRemoteTimelines(ObjectStore& store, const S3Url& url) {
  const std::string prefix = url.Key("timelines/");
  ZENITH_ASSIGN_OR_RETURN(auto objects, store.ListAll(prefix));
  std::vector<std::string> out;
  for (const auto& o : objects) {
    std::string id = o.key.substr(prefix.size(), o.key.find('/', prefix.size()) - prefix.size());
    if (out.empty() || out.back() != id) out.push_back(id);
  }
  return out;
}

}  // namespace zenith::s3
