#include "pageserver/repo/basebackup.h"

#include <array>
#include <cstring>
#include <ctime>

#include "common/byte_io.h"
#include "common/datadir_scan.h"
#include "common/pg_abi.h"
#include "common/pg_control.h"
#include "common/tar.h"

namespace zenith::pageserver {

namespace {

// Copies the reader's current file to the writer in pieces.
Status CopyFile(TarReader& in, const TarEntry& entry, TarWriter& out) {
  ZENITH_RETURN_IF_ERROR(out.BeginFile(entry.name, entry.mode, entry.mtime, entry.size));
  std::array<uint8_t, 65536> chunk;
  for (uint64_t left = entry.size; left > 0;) {
    ZENITH_ASSIGN_OR_RETURN(size_t n, in.ReadData(chunk));
    if (n == 0) return Corruption("layer files entry \"" + entry.name + "\" is truncated");
    ZENITH_RETURN_IF_ERROR(out.WriteData(std::span(chunk).first(n)));
    left -= n;
  }
  return Status::Ok();
}

}  // namespace

BasebackupManifest MakeManifest(const TimelineId& timeline, const LayerFile& layer, uint64_t system_id) {
  BasebackupManifest manifest{timeline.ToString(), layer.timeline_id().ToString(), layer.lsns(), system_id, {}};
  layer.ForEachRelation([&](const RelTag& rel, const RelationInfo& info) {
    for (auto& [path, size] : RelationSegmentFiles(rel, info.nblocks)) manifest.relations.push_back({path, size});
  });
  return manifest;
}

Result<std::string> PgControlForRecovery(std::string_view pg_control, Lsn checkpoint_end, Lsn lsn) {
  ZENITH_ASSIGN_OR_RETURN(ControlFile control, DecodeControlFile(AsBytes(pg_control)));
  if (lsn <= checkpoint_end || control.state != DbState::kShutdowned) return std::string(pg_control);
  control.state = DbState::kInProduction;
  return EncodeControlFile(control);
}

Status WriteBasebackup(const BasebackupManifest& manifest, const LayerFile& layer, Lsn lsn,
                       const std::function<Status(std::span<const uint8_t>)>& sink) {
  TarWriter out(sink);
  ZENITH_RETURN_IF_ERROR(out.AddFile(kManifestName, 0600, std::time(nullptr), AsBytes(manifest.ToJson())));
  TarReader in(MemoryTarSource({layer.files_tar(), TarEndOfArchive()}));
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, in.Next());
    if (!entry) break;
    switch (entry->type) {
      case TarEntryType::kDirectory:
        ZENITH_RETURN_IF_ERROR(out.AddDirectory(entry->name, entry->mode, entry->mtime));
        break;
      case TarEntryType::kSymlink:
        ZENITH_RETURN_IF_ERROR(out.AddSymlink(entry->name, entry->link_target, entry->mtime));
        break;
      case TarEntryType::kFile: {
        if (entry->name != kPgControlPath) {
          ZENITH_RETURN_IF_ERROR(CopyFile(in, *entry, out));
          break;
        }
        ZENITH_ASSIGN_OR_RETURN(std::string data, ReadTarEntryData(in, *entry, kZenithPgAbi.control_file_size));
        ZENITH_ASSIGN_OR_RETURN(data, PgControlForRecovery(data, layer.lsns().checkpoint, lsn));
        ZENITH_RETURN_IF_ERROR(out.AddFile(entry->name, entry->mode, entry->mtime, AsBytes(data)));
        break;
      }
    }
  }
  return out.Finish();
}

}  // namespace zenith::pageserver
