// `zenith branch --tree`: the branches as a tree, each under the branch it
// was made from (like `git log --graph`), with its branch point and size.
// A branch whose parent has no name any more (deleted while children
// lived, or reset with the children still on its old state) hangs under a
// node naming the parent's timeline.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pageserver/client/repo_client.h"

namespace zenith::cli {

// Rows of a table: the first column is the name indented by its depth
// ("|-- ", "`-- " as `tree --charset=ascii` draws), then BRANCH POINT and
// LOGICAL SIZE; with `verbose` also END OF WAL, OWN SIZE and LAYERS. The
// first row is the header. Roots and siblings in name order.
std::vector<std::vector<std::string>> BranchTreeRows(const std::vector<pageserver::BranchSizes>& branches,
                                                     bool verbose);

// zenith branch --tree --json: {"branches": [...]} with the roots only,
// each as in BranchSizesJson plus "children" (the same, nested); an
// unnamed parent is {"name": null, "timeline": ID, "children": [...]}.
nlohmann::json BranchTreeJson(const std::vector<pageserver::BranchSizes>& branches);

}  // namespace zenith::cli
