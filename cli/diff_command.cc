// zenith diff A[@POINT] B[@POINT] [--schema]: what changed between two
// points of one branch, or between two branches since their common point.
//
// Which blocks changed comes from the page server (`changes`,
// pageserver/repo/changed_blocks.h: the WAL between the points, read once,
// no page). What the relations are called, and their sizes, comes from the
// catalog at each point, as PostgreSQL itself reads it: a private
// PostgreSQL on a read-only mount of each point (cli/private_postgres.h),
// both started at once. --schema diffs the two points' `pg_dumpall
// --schema-only` instead, with diff(1)'s unified format.
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/mounting.h"
#include "cli/private_postgres.h"
#include "cli/process.h"
#include "common/file_util.h"

namespace zenith::cli {

namespace {

// Every relation with storage, with the file it has now and its bytes in
// all forks. Shared catalogs appear in every database: relisshared says so.
constexpr const char* kRelationsSql =
    "SELECT c.oid, pg_relation_filenode(c.oid), c.relisshared, n.nspname || '.' || c.relname, "
    "pg_relation_size(c.oid, 'main') + pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm') + "
    "pg_relation_size(c.oid, 'init') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pg_relation_filenode(c.oid) IS NOT NULL";
constexpr const char* kDatabasesSql = "SELECT oid, datname, datallowconn FROM pg_database";
constexpr uint32_t kShared = 0;  // the database oid of shared catalogs, as the WAL names them

// A relation as the catalog of one point shows it; known by (database, oid).
struct Relation {
  uint32_t filenode = 0;
  std::string name;
  uint64_t bytes = 0;
};
using RelationKey = std::pair<uint32_t, uint32_t>;  // database (kShared for shared catalogs), oid

struct Catalog {
  std::map<uint32_t, std::string> databases;  // oid -> name
  std::map<RelationKey, Relation> relations;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> by_file;  // (database, filenode) -> oid
};

uint32_t ToOid(const std::string& s) { return static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 10)); }

// The catalog of every database that takes connections (template0 does not:
// its relations, if changed, are named by their files).
Result<Catalog> ReadCatalog(const PrivatePostgres& pg) {
  Catalog cat;
  auto dbs = pg.Query("postgres", kDatabasesSql);
  if (!dbs.ok()) dbs = pg.Query("template1", kDatabasesSql);
  ZENITH_RETURN_IF_ERROR(dbs.status());
  bool shared_read = false;
  for (const auto& db : *dbs) {
    const uint32_t db_oid = ToOid(db[0]);
    cat.databases[db_oid] = db[1];
    if (db[2] != "t") continue;
    ZENITH_ASSIGN_OR_RETURN(auto rows, pg.Query(db[1], kRelationsSql));
    for (const auto& row : rows) {
      const bool shared = row[2] == "t";
      if (shared && shared_read) continue;
      const uint32_t where = shared ? kShared : db_oid;
      const uint32_t oid = ToOid(row[0]), filenode = ToOid(row[1]);
      cat.relations[{where, oid}] = Relation{filenode, row[3], std::strtoull(row[4].c_str(), nullptr, 10)};
      cat.by_file[{where, filenode}] = oid;
    }
    shared_read = true;
  }
  return cat;
}

// A point as the command line names it, resolved.
struct Side {
  std::string label;  // as the user wrote it
  std::string branch;
  pageserver::ReadPoint point;
};

Result<Side> Resolve(Session& s, const std::string& target) {
  ZENITH_ASSIGN_OR_RETURN(PointTarget t, ParsePointTarget(target));
  ZENITH_ASSIGN_OR_RETURN(pageserver::ReadPoint p, s.client.ResolvePoint(t.branch, t.spec));
  return Side{target, t.branch, p};
}

// f(a) and f(b), run at once: each side's mount and recovery take about a
// second, mostly waiting.
template <typename T, typename F>
std::pair<Result<T>, Result<T>> OnBothSides(const F& f, const Side& a, const Side& b) {
  Result<T> rb = Unavailable("not run");
  std::thread other([&] { rb = f(b); });
  Result<T> ra = f(a);
  other.join();
  return {std::move(ra), std::move(rb)};
}

// A private PostgreSQL of each side, started at once.
using PrivatePair = std::pair<std::unique_ptr<PrivatePostgres>, std::unique_ptr<PrivatePostgres>>;
Result<PrivatePair> StartBoth(const GlobalOptions& g, const Side& a, const Side& b) {
  auto [pa, pb] = OnBothSides<std::unique_ptr<PrivatePostgres>>(
      [&](const Side& side) { return PrivatePostgres::Start(g, side.branch, side.point); }, a, b);
  ZENITH_RETURN_IF_ERROR(pa.status());
  ZENITH_RETURN_IF_ERROR(pb.status());
  return PrivatePair(std::move(*pa), std::move(*pb));
}

// Stops both and unmounts them at once.
void StopBoth(PrivatePair& both) {
  std::thread other([&] { both.second.reset(); });
  both.first.reset();
  other.join();
}

// One side's catalog, read by its own private PostgreSQL (kept running
// until `pg` goes, so both stop at once).
struct SideCatalog {
  std::unique_ptr<PrivatePostgres> pg;
  Catalog catalog;
};

Result<SideCatalog> CatalogAt(const GlobalOptions& g, const Side& side) {
  ZENITH_ASSIGN_OR_RETURN(auto pg, PrivatePostgres::Start(g, side.branch, side.point));
  auto catalog = ReadCatalog(*pg);
  if (!catalog.ok()) return catalog.status().WithContext("could not read the catalog of " + side.label);
  return SideCatalog{std::move(pg), std::move(*catalog)};
}

// One relation's line: what happened to it, its name, blocks, sizes.
struct Change {
  std::string database, what, name;
  uint64_t blocks = 0;
  std::optional<uint64_t> before, after;
};

std::string SizeOr(const std::optional<uint64_t>& bytes, const char* none) {
  return bytes ? FormatBytes(*bytes) : std::string(none);
}

// Blocks changed per relation of either catalog; files neither names
// (created and dropped in between) as lines of their own.
std::vector<Change> Compare(const Catalog& a, const Catalog& b, const pageserver::RelationChanges& changes) {
  std::map<RelationKey, uint64_t> blocks;
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> unnamed;
  for (const auto& f : changes.forks) {
    const std::pair<uint32_t, uint32_t> file{f.database, f.relfilenode};
    if (auto it = b.by_file.find(file); it != b.by_file.end()) blocks[{f.database, it->second}] += f.blocks;
    else if (auto it = a.by_file.find(file); it != a.by_file.end()) blocks[{f.database, it->second}] += f.blocks;
    else unnamed[file] += f.blocks;
  }
  auto db_name = [&](uint32_t oid) -> std::string {
    if (oid == kShared) return "(shared catalogs)";
    if (auto it = b.databases.find(oid); it != b.databases.end()) return it->second;
    if (auto it = a.databases.find(oid); it != a.databases.end()) return it->second;
    return "database " + std::to_string(oid);
  };
  std::set<RelationKey> keys;
  for (const auto& [key, rel] : a.relations) keys.insert(key);
  for (const auto& [key, rel] : b.relations) keys.insert(key);
  std::vector<Change> out;
  for (const RelationKey& key : keys) {
    auto in_a = a.relations.find(key), in_b = b.relations.find(key);
    Change c{db_name(key.first), "", "", blocks.count(key) ? blocks[key] : 0, std::nullopt, std::nullopt};
    if (in_a != a.relations.end()) c.before = in_a->second.bytes, c.name = in_a->second.name;
    if (in_b != b.relations.end()) c.after = in_b->second.bytes, c.name = in_b->second.name;
    if (!c.before) c.what = "created";
    else if (!c.after) c.what = "dropped";
    else if (c.blocks > 0 || *c.before != *c.after) c.what = "changed";
    else continue;
    out.push_back(std::move(c));
  }
  for (const auto& [file, n] : unnamed) {
    out.push_back(Change{db_name(file.first), "transient", "file " + std::to_string(file.second) + " (created and dropped in between)", n,
                         std::nullopt, std::nullopt});
  }
  std::sort(out.begin(), out.end(), [](const Change& x, const Change& y) {
    return std::tie(x.database, x.name) < std::tie(y.database, y.name);
  });
  return out;
}

void Print(const Side& a, const Side& b, const pageserver::RelationChanges& changes, const std::vector<Change>& list) {
  std::printf("%s at %s -> %s at %s, from their common point %s\n", a.label.c_str(), a.point.lsn.ToString().c_str(),
              b.label.c_str(), b.point.lsn.ToString().c_str(), changes.common.lsn.ToString().c_str());
  std::map<std::string, int> counts;
  uint64_t total_blocks = 0;
  std::string database;
  std::vector<std::vector<std::string>> rows;
  auto flush = [&] {
    if (rows.empty()) return;
    std::printf("\n%s:\n%s", database.c_str(), RenderTable(rows).c_str());
    rows.clear();
  };
  for (const Change& c : list) {
    if (c.database != database) flush(), database = c.database;
    rows.push_back({"  " + c.what, c.name, Plural(c.blocks, "block", "blocks"),
                    SizeOr(c.before, "-") + " -> " + SizeOr(c.after, "-")});
    ++counts[c.what];
    total_blocks += c.blocks;
  }
  flush();
  if (list.empty()) {
    std::printf("no relation changed\n");
    return;
  }
  std::printf("\n%d changed, %d created, %d dropped; %s\n", counts["changed"], counts["created"], counts["dropped"],
              Plural(total_blocks, "block", "blocks").c_str());
}

int DiffSchemas(const GlobalOptions& g, const Side& a, const Side& b) {
  auto both = StartBoth(g, a, b);
  if (!both.ok()) return Fail(both.status().message());
  auto fa = both->first->DumpSchema();
  if (!fa.ok()) return Fail(fa.status().message());
  auto fb = both->second->DumpSchema();
  if (!fb.ok()) return Fail(fb.status().message());
  std::fflush(stdout);
  auto code = RunForeground({"/usr/bin/diff", "-u", "--label", a.label + " (" + a.point.lsn.ToString() + ")", "--label",
                             b.label + " (" + b.point.lsn.ToString() + ")", *fa, *fb});
  std::fflush(stdout);
  StopBoth(*both);
  if (!code.ok()) return Fail(code.status().message());
  return *code <= 1 ? kExitOk : Fail("diff(1) failed comparing the two schemas");  // 1: they differ
}

}  // namespace

int CmdDiff(const GlobalOptions& g, const std::string& from, const std::string& to, bool schema) {
  auto s = Connect(g);
  if (!s.ok()) return Fail(s.status().message());
  auto a = Resolve(*s, from);
  if (!a.ok()) return Fail(a.status().message());
  auto b = Resolve(*s, to);
  if (!b.ok()) return Fail(b.status().message());
  if (schema) return DiffSchemas(g, *a, *b);
  // The WAL is read while both sides start.
  Result<pageserver::RelationChanges> changes = Unavailable("not read");
  std::thread wal([&] { changes = s->client.Changes(a->point, b->point); });
  auto [ca, cb] = OnBothSides<SideCatalog>([&](const Side& side) { return CatalogAt(g, side); }, *a, *b);
  wal.join();
  Status failed = !changes.ok() ? changes.status().WithContext("could not compare " + from + " with " + to)
                  : !ca.ok()    ? ca.status()
                                : cb.status();
  if (!failed.ok()) return Fail(failed.message());
  Print(*a, *b, *changes, Compare(ca->catalog, cb->catalog, *changes));
  std::fflush(stdout);
  PrivatePair both(std::move(ca->pg), std::move(cb->pg));
  StopBoth(both);
  return kExitOk;
}

}  // namespace zenith::cli
