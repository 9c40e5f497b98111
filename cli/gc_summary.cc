#include "cli/gc_summary.h"

#include "cli/format.h"

namespace zenith::cli {

uint64_t FreedBytes(const pageserver::TimelineGc& gc) {
  return gc.compacted_bytes_removed + gc.layer_bytes_removed + gc.wal_bytes_removed;
}

std::string DescribeGc(const pageserver::TimelineGc& gc) {
  const std::string name = gc.branch.empty() ? "timeline " + gc.timeline.ToString() : gc.branch;
  if (gc.deleted) return name + " (deleted): removed its layers and WAL, " + FormatBytes(FreedBytes(gc));
  std::string out = name + ": history from " + (gc.cutoff.valid() ? gc.cutoff.ToString() : "its start");
  if (gc.layers_merged > 0) {
    out += "; merged " + Plural(gc.layers_merged, "layer", "layers") + " into " + std::to_string(gc.merges);
  }
  if (gc.images > 0) out += "; wrote " + Plural(gc.images, "image", "images");
  if (gc.layers_removed + gc.wal_removed > 0) {
    out += "; removed " + Plural(gc.layers_removed, "layer", "layers") + " (" + FormatBytes(gc.layer_bytes_removed) +
           ") and " + Plural(gc.wal_removed, "WAL segment", "WAL segments") + " (" +
           FormatBytes(gc.wal_bytes_removed) + ")";
  }
  return out + "; keeps " + Plural(gc.layers_left, "layer", "layers") + " (" + FormatBytes(gc.layer_bytes_left) +
         ") and " + Plural(gc.wal_left, "WAL segment", "WAL segments") + " (" + FormatBytes(gc.wal_bytes_left) + ")";
}

}  // namespace zenith::cli
