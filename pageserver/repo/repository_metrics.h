// The repository's figures in the page server's metrics (README,
// "Metrics"): layers, their bytes and the end of WAL of every timeline, and
// every mount's own figures as it last reported them (MountInfo::stats), read
// from the repository when the metrics endpoint is scraped.
//
// Thread-safety: RepositoryMetrics reads the repository at scrape time on
// the endpoint's thread; destroy it before the repository.
#pragma once

namespace zenith::pageserver {

class Repository;

// Layers, their bytes and the end of WAL of every timeline, read from the
// repository when scraped, for as long as this object lives.
class RepositoryMetrics {
 public:
  explicit RepositoryMetrics(Repository& repo);
  ~RepositoryMetrics();
  RepositoryMetrics(const RepositoryMetrics&) = delete;
  RepositoryMetrics& operator=(const RepositoryMetrics&) = delete;

 private:
  int collector_id_;
};

}  // namespace zenith::pageserver
