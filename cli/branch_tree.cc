#include "cli/branch_tree.h"

#include <algorithm>
#include <map>
#include <set>

#include "cli/format.h"
#include "cli/json_output.h"

namespace zenith::cli {

namespace {

using pageserver::BranchSizes;

// Children by parent key (a branch name, or a timeline id for an unnamed
// parent); roots under "".
struct Forest {
  std::map<std::string, std::vector<const BranchSizes*>> children;
  std::map<std::string, const BranchSizes*> by_name;
  std::vector<std::string> unnamed_parents;  // parent keys no branch is called
};

Forest Grow(const std::vector<BranchSizes>& branches) {
  Forest f;
  for (const auto& b : branches) f.by_name[b.name] = &b;
  std::set<std::string> unnamed;
  for (const auto& b : branches) {
    f.children[b.parent].push_back(&b);
    if (!b.parent.empty() && !f.by_name.contains(b.parent)) unnamed.insert(b.parent);
  }
  for (auto& [key, list] : f.children) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  }
  f.unnamed_parents.assign(unnamed.begin(), unnamed.end());
  return f;
}

std::string Lsn0(Lsn lsn) { return lsn.valid() ? lsn.ToString() : "-"; }

struct RowWriter {
  const Forest& forest;
  bool verbose;
  std::vector<std::vector<std::string>> rows;

  // `key`: the node's name in forest.children; `b` null for an unnamed parent.
  void Node(const std::string& label, const std::string& key, const BranchSizes* b, const std::string& prefix) {
    std::vector<std::string> row = {label, b && !b->parent.empty() ? "@" + Lsn0(b->branch_lsn) : "-",
                                    b ? FormatBytes(b->logical_size) : "-"};
    if (verbose) {
      row.insert(row.end(), {b ? Lsn0(b->end_of_wal) : "-", b ? FormatBytes(b->own_bytes) : "-",
                             b ? std::to_string(b->layers) : "-"});
    }
    rows.push_back(std::move(row));
    auto it = forest.children.find(key);
    if (it == forest.children.end()) return;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const bool last = i + 1 == it->second.size();
      const BranchSizes* c = it->second[i];
      Node(prefix + (last ? "`-- " : "|-- ") + c->name, c->name, c, prefix + (last ? "    " : "|   "));
    }
  }
};

nlohmann::json JsonNode(const Forest& f, const std::string& key, nlohmann::json node) {
  nlohmann::json kids = nlohmann::json::array();
  if (auto it = f.children.find(key); it != f.children.end()) {
    for (const BranchSizes* c : it->second) {
      kids.push_back(JsonNode(f, c->name, BranchSizesJson({*c})["branches"][0]));
    }
  }
  node["children"] = std::move(kids);
  return node;
}

}  // namespace

std::vector<std::vector<std::string>> BranchTreeRows(const std::vector<BranchSizes>& branches, bool verbose) {
  Forest forest = Grow(branches);
  RowWriter w{forest, verbose, {{"BRANCH", "BRANCH POINT", "LOGICAL SIZE"}}};
  if (verbose) w.rows[0].insert(w.rows[0].end(), {"END OF WAL", "OWN SIZE", "LAYERS"});
  if (auto it = forest.children.find(""); it != forest.children.end()) {
    for (const BranchSizes* root : it->second) w.Node(root->name, root->name, root, "");
  }
  for (const std::string& id : forest.unnamed_parents) w.Node("(timeline " + id + ", no branch)", id, nullptr, "");
  return w.rows;
}

nlohmann::json BranchTreeJson(const std::vector<BranchSizes>& branches) {
  Forest forest = Grow(branches);
  nlohmann::json roots = nlohmann::json::array();
  if (auto it = forest.children.find(""); it != forest.children.end()) {
    for (const BranchSizes* r : it->second) roots.push_back(JsonNode(forest, r->name, BranchSizesJson({*r})["branches"][0]));
  }
  for (const std::string& id : forest.unnamed_parents) {
    roots.push_back(JsonNode(forest, id, {{"name", nullptr}, {"timeline", id}}));
  }
  return {{"branches", roots}};
}

}  // namespace zenith::cli
