#include "fs/mount_pages.h"

namespace zenith::fs {

LocalLayerSource::Loader LayerLoader(MountLease::Connector connect, std::string timeline) {
  return [connect = std::move(connect), timeline = std::move(timeline)](
             Lsn lsn) -> Result<std::shared_ptr<const pageserver::SnapshotView>> {
    ZENITH_ASSIGN_OR_RETURN(pageserver::RepoClient client, connect());
    ZENITH_ASSIGN_OR_RETURN(auto files, client.LayerFiles(timeline, lsn));
    return OpenLayerView(files, lsn);
  };
}

MountPages::MountPages(RemotePageSource& remote, std::optional<LocalLayerSource::Loader> local_loader, Lsn lsn,
                       size_t readahead_pages)
    : remote_(remote) {
  if (local_loader) local_.emplace(remote_, std::move(*local_loader), lsn);
  prefetch_.emplace(local_ ? static_cast<PageSource&>(*local_) : remote_, readahead_pages);
}

void MountPages::MoveTo(Lsn lsn) {
  remote_.MoveTo(lsn);
  if (local_) local_->MoveTo(lsn);
}

std::string MountPages::Summary() const {
  return "GetPage: " + remote_.Summary() + (local_ ? "; local reads: " + local_->Summary() : "") +
         "; read-ahead: " + prefetch_->Summary();
}

}  // namespace zenith::fs
