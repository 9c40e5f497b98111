#include "pageserver/repo/snapshot_put.h"

#include <spdlog/spdlog.h>

#include "common/archive_links.h"
#include "common/backup_rules.h"
#include "common/byte_io.h"
#include "common/pg_abi.h"
#include "common/pg_control.h"
#include "common/relation_path.h"
#include "common/tar.h"
#include "common/wal_reader.h"
#include "pageserver/layers/layer_writer.h"

namespace zenith::pageserver {

namespace {

// A snapshot's files are what a basebackup holds besides relation files:
// a relation file would shadow the relation's pages in a mount, and an
// excluded entry (pg_wal/..., postmaster.pid) has no place in one.
Status CheckFileEntry(const TarEntry& entry) {
  const bool is_dir = entry.type == TarEntryType::kDirectory;
  if (ParseRelationPath(entry.name)) {
    return InvalidArgument("\"" + entry.name + "\" is a relation file; relations travel as pages, not files");
  }
  if (entry.name == "pg_wal" || entry.name.starts_with("pg_wal/") || IsExcludedFromBackup(entry.name, is_dir)) {
    return InvalidArgument("\"" + entry.name + "\" does not belong in a snapshot (a basebackup leaves it out)");
  }
  return Status::Ok();
}

// Checks every entry of a tar body (names beneath the data directory, links
// only where PostgreSQL makes them and nothing below one: a mount extracts
// these files) and returns its global/pg_control.
Result<std::string> ControlFileFromTar(const std::string& body) {
  TarReader reader(MemoryTarSource({AsBytes(body), TarEndOfArchive()}));
  ArchiveLinkCheck links;
  std::optional<std::string> control;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, reader.Next());
    if (!entry) break;
    ZENITH_RETURN_IF_ERROR(links.Check(*entry));
    ZENITH_RETURN_IF_ERROR(CheckFileEntry(*entry));
    if (entry->name != kPgControlPath) continue;
    ZENITH_ASSIGN_OR_RETURN(control, ReadTarEntryData(reader, *entry, kZenithPgAbi.control_file_size));
  }
  if (!control) return InvalidArgument("the snapshot holds no global/pg_control");
  return *control;
}

// The snapshot's pg_control must describe the checkpoint its LSNs name.
Status CheckControlFile(Timeline& timeline, uint64_t system_id, const std::string& tar, const SnapshotLsns& lsns) {
  auto bytes = ControlFileFromTar(tar);
  if (!bytes.ok()) return bytes.status().WithContext("the snapshot's non-relation files");
  auto control = DecodeControlFile(AsBytes(*bytes));
  if (!control.ok()) return control.status().WithContext("the snapshot's pg_control");
  if (control->system_identifier != system_id) {
    return InvalidArgument("the snapshot belongs to database system " + std::to_string(control->system_identifier) +
                           ", not this repository's " + std::to_string(system_id));
  }
  if (control->checkpoint_copy.redo != lsns.redo) {
    return InvalidArgument("the snapshot's redo " + lsns.redo.ToString() + " differs from its pg_control's " +
                           control->checkpoint_copy.redo.ToString());
  }
  WalReader reader(timeline.MakeWalReader(), system_id, control->checkpoint);
  ZENITH_ASSIGN_OR_RETURN(auto record, reader.Next());
  if (!record || !record->is_checkpoint() || record->end_lsn != lsns.checkpoint) {
    return InvalidArgument("the checkpoint record of the snapshot's pg_control (" + control->checkpoint.ToString() +
                           ") does not end at " + lsns.checkpoint.ToString() + " in this timeline's WAL");
  }
  // PostgreSQL copies the record into pg_control: anything else is not the
  // pg_control that checkpoint wrote.
  auto logged = DecodeCheckPoint(record->main_data());
  if (!logged.ok() || *logged != control->checkpoint_copy) {
    return InvalidArgument("the snapshot's pg_control does not hold a copy of its checkpoint record at " +
                           control->checkpoint.ToString());
  }
  return Status::Ok();
}

struct Counts {
  uint64_t pages = 0, relations = 0;
};

// Applies one record to the writer; returns the End record when it is one.
Result<std::optional<SnapshotEnd>> Apply(const SnapshotRecord& rec, LayerWriter& writer, std::string* tar,
                                         Counts* counts) {
  if (auto* page = std::get_if<SnapshotPage>(&rec)) {
    if (counts->relations > 0 || !tar->empty()) return ProtocolError("snapshot pages must come before relations and files");
    ++counts->pages;
    ZENITH_RETURN_IF_ERROR(writer.AddPage(page->rel, page->block, page->page));
  } else if (auto* rel = std::get_if<SnapshotRelation>(&rec)) {
    if (rel->info.floor > rel->info.nblocks) return InvalidArgument("relation " + rel->rel.ToString() + " has a floor past its end");
    ++counts->relations;
    ZENITH_RETURN_IF_ERROR(writer.SetRelation(rel->rel, rel->info));
  } else if (auto* files = std::get_if<SnapshotFiles>(&rec)) {
    if (tar->size() + files->tar.size() > kMaxSnapshotFilesBytes) {
      return InvalidArgument("the snapshot's non-relation files pass " + std::to_string(kMaxSnapshotFilesBytes >> 20) +
                             " MB, more than the page server holds for one upload");
    }
    tar->append(reinterpret_cast<const char*>(files->tar.data()), files->tar.size());
    ZENITH_RETURN_IF_ERROR(writer.AppendFilesTar(files->tar));
  } else {
    return std::optional<SnapshotEnd>(std::get<SnapshotEnd>(rec));
  }
  return std::optional<SnapshotEnd>();
}

}  // namespace

Result<std::shared_ptr<const LayerFile>> ReceiveSnapshot(Timeline& timeline, uint64_t system_id, const CopyReader& next,
                                                         std::chrono::milliseconds wal_wait) {
  ZENITH_ASSIGN_OR_RETURN(auto writer, LayerWriter::Create(timeline.layers_dir(), timeline.id()));
  std::string tar;
  Counts counts;
  std::optional<SnapshotEnd> end;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto msg, next());
    if (!msg) break;
    if (end) return ProtocolError("snapshot data after its end record");
    ZENITH_ASSIGN_OR_RETURN(SnapshotRecord rec, DecodeSnapshotRecord(AsBytes(*msg)));
    ZENITH_ASSIGN_OR_RETURN(end, Apply(rec, *writer, &tar, &counts));
  }
  if (!end) return ProtocolError("the snapshot stream ended without its end record");
  if (end->page_count != counts.pages || end->relation_count != counts.relations) {
    return ProtocolError("the snapshot announced " + std::to_string(end->page_count) + " pages and " +
                         std::to_string(end->relation_count) + " relations but sent " + std::to_string(counts.pages) +
                         " and " + std::to_string(counts.relations));
  }
  // A Timeout makes the mount send the snapshot again later.
  if (wal_wait.count() > 0) ZENITH_RETURN_IF_ERROR(timeline.WaitForWal(end->lsns.valid, wal_wait));
  ZENITH_RETURN_IF_ERROR(CheckControlFile(timeline, system_id, tar, end->lsns));
  ZENITH_ASSIGN_OR_RETURN(auto layer, timeline.CommitLayer(*writer, end->lsns));
  spdlog::info("timeline {}: new snapshot at {} ({} pages, {} relations)", timeline.id().ToString(),
               end->lsns.valid.ToString(), counts.pages, counts.relations);
  return layer;
}

}  // namespace zenith::pageserver
