#include "pageserver/metrics/metrics_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include "common/metrics.h"

namespace zenith::pageserver {

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

void Refuse(const httplib::Request&, httplib::Response& res) {
  res.status = 405;
  res.set_header("Allow", "GET");
  res.set_content("only GET /metrics is served\n", "text/plain");
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<httplib::Server> server, uint16_t port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& host, uint16_t port) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->set_read_timeout(5, 0);
  server->set_write_timeout(5, 0);
  server->set_keep_alive_max_count(10);
  server->set_payload_max_length(4096);
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would
  // let a second page server share the port and split the scrapes.
  server->set_socket_options([](auto sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::Global().Render(), kContentType);
  });
  server->Post(".*", Refuse);
  server->Put(".*", Refuse);
  server->Delete(".*", Refuse);
  server->Patch(".*", Refuse);
  server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("not found; metrics are at /metrics\n", "text/plain");
  });
  int bound = port == 0 ? server->bind_to_any_port(host) : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return Unavailable("cannot listen for metrics on " + host + ":" + std::to_string(port) +
                       " (in use, or not an address of this machine)");
  }
  spdlog::info("metrics served at http://{}:{}/metrics", host, bound);
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(server), static_cast<uint16_t>(bound)));
}

MetricsEndpoint::~MetricsEndpoint() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace zenith::pageserver
