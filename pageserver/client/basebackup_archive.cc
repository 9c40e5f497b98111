#include "pageserver/client/basebackup_archive.h"

#include "common/archive_links.h"
#include "common/byte_io.h"

namespace zenith::pageserver {

namespace {

// A non-relation file of a basebackup is at most this big (pg_xact and
// pg_multixact segments are 256 kB; configuration files are small).
constexpr uint64_t kMaxBasebackupFile = uint64_t{1} << 30;

}  // namespace

Result<BasebackupArchive> ParseBasebackupArchive(const std::string& tar) {
  TarReader reader(MemoryTarSource({AsBytes(tar)}));
  ZENITH_ASSIGN_OR_RETURN(auto first, reader.Next());
  if (!first || first->name != kManifestName) return Corruption("the basebackup does not start with its manifest");
  ZENITH_ASSIGN_OR_RETURN(std::string manifest_json, ReadTarEntryData(reader, *first, kMaxBasebackupFile));
  BasebackupArchive out;
  ZENITH_ASSIGN_OR_RETURN(out.manifest, BasebackupManifest::FromJson(manifest_json));
  ArchiveLinkCheck links;
  for (;;) {
    ZENITH_ASSIGN_OR_RETURN(auto entry, reader.Next());
    if (!entry) break;
    if (Status s = links.Check(*entry); !s.ok()) return Corruption("the basebackup: " + s.message());
    if (entry->name == "pg_wal" || entry->name.starts_with("pg_wal/")) continue;
    std::string data;
    if (entry->type == TarEntryType::kFile) {
      ZENITH_ASSIGN_OR_RETURN(data, ReadTarEntryData(reader, *entry, kMaxBasebackupFile));
    }
    out.entries.emplace_back(std::move(*entry), std::move(data));
  }
  for (const auto& file : out.manifest.relations) {
    if (!ValidateTarEntryName(file.path).ok()) return Corruption("bad relation path in the manifest: " + file.path);
    if (Status s = links.Check(TarEntry{.name = file.path}); !s.ok()) {
      return Corruption("the basebackup's manifest: " + s.message());
    }
  }
  return out;
}

}  // namespace zenith::pageserver
