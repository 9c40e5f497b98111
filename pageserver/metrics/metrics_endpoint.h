// The page server's metrics over HTTP (Prometheus's pull model): GET
// /metrics answers metrics::Global() rendered in the text exposition format;
// any other path is 404, any other method 405. Off unless the config names
// an address (`metrics_listen`): the endpoint has no authentication, so give
// it an address only the scraper reaches (127.0.0.1 by default in examples).
// HTTP is cpp-httplib's (Debian's libcpp-httplib), on two threads at most,
// with short read and write timeouts and no request bodies.
//
// Thread-safety: Start and the destructor from one thread; requests are
// served on the endpoint's own threads. Destroy it before whatever its
// collectors read (RepositoryMetrics).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace zenith::pageserver {

class MetricsEndpoint {
 public:
  // Listens on `host`:`port` (IPv4; port 0 picks a free one, see port()).
  static Result<std::unique_ptr<MetricsEndpoint>> Start(const std::string& host, uint16_t port);
  ~MetricsEndpoint();  // stops listening and joins its threads
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  uint16_t port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<httplib::Server> server, uint16_t port);

  std::unique_ptr<httplib::Server> server_;
  uint16_t port_;
  std::thread thread_;
};

}  // namespace zenith::pageserver
