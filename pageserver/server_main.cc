// The zenith-pageserver program (server_main.h; its main() is main.cc):
// serves one repository and every timeline in it over the PostgreSQL protocol (docs/design.md §2). Started by the `zenith`
// CLI when absent; stops on SIGTERM or SIGINT.
//
// With --create-from it instead creates the repository from an initdb'd or
// stopped data directory and exits (`zenith init`), with
// --create-from-server from a running server's base backup (`zenith init
// --from`, pageserver/repo/backup_import.h), with --attach from its bucket
// (`zenith attach`, pageserver/repo/attach.h): the CLI stays a client and
// never links the server's code. Errors go to stderr as one line,
// "zenith-pageserver: <message>"; the exit code is 0 on success.
//
// One page server per repository: it holds an exclusive lock on
// .zenith/pageserver.lock for its lifetime (released by the kernel however
// it dies), so two can never serve, or write, one repository.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "common/datadir_scan.h"
#include "common/file_util.h"
#include "common/log_level.h"
#include "common/progress.h"
#include "common/rotating_log.h"
#include "pageserver/api/server_exit.h"
#include "pageserver/server_main.h"
#include "pageserver/metrics/metrics_endpoint.h"
#include "pageserver/metrics/server_metrics.h"
#include "pageserver/page_service.h"
#include "pageserver/pq/pq_server.h"
#include "pageserver/pq/pq_transport.h"
#include "pageserver/pq/scram.h"
#include "pageserver/pq/tcp_users.h"
#include "pageserver/pq/tls_certs.h"
#include "pageserver/repo/attach.h"
#include "pageserver/repo/backup_import.h"
#include "pageserver/repo/history.h"
#include "pageserver/repo/import.h"
#include "pageserver/repo/remote_uploader.h"
#include "pageserver/repo/repository.h"
#include "pageserver/repo/repository_metrics.h"
#include "pageserver/s3/s3_client.h"
#include "pageserver/s3/s3_settings.h"

namespace zenith::pageserver {
namespace {

// Holds the repository's page server lock; kBusy if another process has it.
Result<UniqueFd> LockRepository(const RepoLayout& layout) {
  ZENITH_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(layout.lock_file(), O_RDWR | O_CREAT, 0600));
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoStatus("lock", layout.lock_file(), errno);
    auto pid = ReadFileToString(layout.pid_file());
    return Busy("a page server is already running for " + layout.root + " (pid " + (pid.ok() ? *pid : "?") + ")");
  }
  return fd;
}

void RaiseFileLimit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

constexpr const char* kLogPattern = "%Y-%m-%d %H:%M:%S.%e [%P] %l: %v";

// When the launcher pointed stderr (and stdout) at the repository's log,
// keep that file bounded (rotating_log.h); otherwise (a test, a terminal)
// log as before.
void RotateTheLog(const RepoLayout& layout, const LimitsConfig& limits) {
  auto sink = RotatingLogSink::ForFds(layout.log_file(), {STDERR_FILENO, STDOUT_FILENO},
                                      {limits.log_max_bytes, limits.log_max_files});
  if (!sink.ok()) return;
  auto logger = std::make_shared<spdlog::logger>("pageserver", *sink);
  logger->set_pattern(kLogPattern);
  logger->set_level(spdlog::default_logger()->level());
  spdlog::set_default_logger(std::move(logger));
}

void ApplyLimits(const LimitsConfig& limits, PqServerOptions* options) {
  options->max_connections = limits.max_connections;
  options->startup_timeout = std::chrono::seconds(limits.auth_timeout_seconds);
  options->tcp_limits.max_unauthenticated = limits.max_unauthenticated;
  options->tcp_limits.max_unauthenticated_per_address = limits.max_unauthenticated_per_address;
  options->tcp_limits.failed_login_delay_max = std::chrono::seconds(limits.failed_login_delay_max_seconds);
  options->tcp_idle_timeout = std::chrono::seconds(limits.idle_timeout_seconds);
  options->tcp_send_timeout = std::chrono::seconds(limits.send_timeout_seconds);
}

std::string InRepo(const RepoLayout& layout, const std::string& path) {
  return path.empty() || path[0] == '/' ? path : layout.root + "/" + path;
}

// The TCP endpoint's TLS: the certificate and key the config names, else the
// repository's own (made now if needed, tls_certs.h). A key file others may
// read is refused, as PostgreSQL refuses it.
Status ConfigureTls(const RepoConfig& config, const RepoLayout& layout, const std::string& host, PqServerOptions* options) {
  std::string cert = InRepo(layout, config.tls_cert), key = InRepo(layout, config.tls_key);
  if (cert.empty()) {
    ZENITH_RETURN_IF_ERROR(EnsureRepositoryCertificate(layout, host));
    cert = layout.server_cert();
    key = layout.server_key();
  }
  struct stat st;
  if (::stat(key.c_str(), &st) != 0) return ErrnoStatus("read the TLS key", key, errno);
  if ((st.st_mode & 077) != 0) {
    return PermissionDenied("the TLS key \"" + key + "\" may be read by group or others; chmod 600 it");
  }
  ZENITH_ASSIGN_OR_RETURN(options->tcp_tls, TlsServerContext::Load(cert, key));
  if (options->tcp_tls->endpoint_binding().empty()) {
    spdlog::warn("the TLS certificate {} has no channel binding hash: SCRAM-SHA-256-PLUS is not offered", cert);
  }
  options->allow_plain_tcp = config.allow_plain_tcp;
  if (config.allow_plain_tcp) {
    spdlog::warn("allow_plain_tcp is set in {}: TCP clients that do not ask for TLS are served in clear text, their "
                 "pages, WAL and password exchange readable and open to tampering on the network", layout.config());
  }
  return Status::Ok();
}

// The TCP endpoint of config.listen, if any: TLS, and SCRAM-SHA-256 with the
// repository's passwords (tcp_users.h), read now (a new one takes effect at
// the next start). The password files are checked even when not listening.
Status ConfigureTcp(const RepoConfig& config, const RepoLayout& layout, PqServerOptions* options) {
  ZENITH_ASSIGN_OR_RETURN(TcpUsers users, LoadTcpUsers(layout, /*listening=*/!config.listen.empty()));
  if (config.listen.empty()) return Status::Ok();
  ZENITH_ASSIGN_OR_RETURN(ListenAddress listen, ParseListenAddress(config.listen));
  ZENITH_RETURN_IF_ERROR(ConfigureTls(config, layout, listen.host, options));
  options->tcp_host = listen.host;
  options->tcp_port = listen.port;
  options->tcp_users = std::make_shared<const TcpUsers>(std::move(users));
  return Status::Ok();
}


// The metrics endpoint of config.metrics_listen, or none.
Result<std::unique_ptr<MetricsEndpoint>> StartMetrics(const RepoConfig& config) {
  if (config.metrics_listen.empty()) return std::unique_ptr<MetricsEndpoint>();
  ZENITH_ASSIGN_OR_RETURN(ListenAddress at, ParseListenAddress(config.metrics_listen));
  return MetricsEndpoint::Start(at.host, at.port);
}

int Serve(const std::string& root, const ServerSeams& seams) {
  auto repo = Repository::Open(root);
  if (!repo.ok()) {
    spdlog::error("{}", repo.status().message());
    return 1;
  }
  const RepoLayout& layout = (*repo)->layout();
  // The config was checked when read: the level is one of ParseLogLevel's.
  spdlog::set_level(ParseLogLevel((*repo)->config().log_level).value_or(spdlog::level::info));
  RotateTheLog(layout, (*repo)->config().limits);
  auto lock = LockRepository(layout);
  if (!lock.ok()) {
    spdlog::error("{}", lock.status().message());
    return lock.status().code() == StatusCode::kBusy ? kExitAlreadyRunning : 1;
  }
  if (auto removed = (*repo)->RemoveStaleTempFiles(); !removed.ok()) {
    spdlog::warn("could not remove the temp files a crash left: {}", removed.status().message());
  }
  // Before anyone is served: a reset a crash cut short is decided, so its
  // refs are made whole first.
  if (Status s = (*repo)->FinishInterruptedReset(); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  // Before the socket accepts anyone: a client that got in (the CLI's
  // sign that the server is up) finds the pid file in place.
  IgnoreError(WriteFileDurably(layout.pid_file(), std::to_string(getpid())));
  // Signals are taken synchronously by sigwait below; block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  const RepoConfig& config = (*repo)->config();
  PqServerOptions options;
  options.unix_socket_path = UnixSocketPath(layout.socket_dir(), static_cast<uint16_t>(config.port));
  options.unix_owner_only = true;
  if (Status s = ConfigureTcp(config, layout, &options); !s.ok()) {
    spdlog::error("{}", s.message());
    IgnoreError(RemoveFile(layout.pid_file()));
    return 1;
  }
  ApplyLimits(config.limits, &options);
  HistoryOptions history_options = HistoryOptionsFor(config.history);
  history_options.test_pause = seams.history_pause;
  History history(**repo, history_options);
  RegisterServerMetrics();
  RepositoryMetrics repository_metrics(**repo);
  auto metrics_endpoint = StartMetrics(config);
  if (!metrics_endpoint.ok()) {
    spdlog::error("{}", metrics_endpoint.status().message());
    IgnoreError(RemoveFile(layout.pid_file()));
    return 1;
  }
  PageServiceOptions service;
  service.history = &history;
  PqServer server(options, MakePageServiceCommands(**repo, service));
  if (Status s = server.Start(); !s.ok()) {
    spdlog::error("could not start the page server: {}", s.message());
    IgnoreError(RemoveFile(layout.pid_file()));
    return 1;
  }
  history.Start();
  // Local work goes on without the remote: an error here is logged, not fatal.
  auto uploader = MakeRemoteUploader(**repo);
  if (!uploader.ok()) {
    spdlog::error("nothing will be uploaded to the remote: {}", uploader.status().message());
  } else if (*uploader) {
    (*uploader)->Start(std::chrono::milliseconds(static_cast<int64_t>(config.remote.wal_upload_interval * 1000)));
  }
  spdlog::info("page server {} serving {} on {}", getpid(), root, options.unix_socket_path);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received signal {}, stopping", sig);
  history.Stop();  // cancels a compaction or collection in progress, also one a client asked for
  metrics_endpoint->reset();  // no scrape reads the repository from here on
  if (uploader.ok() && *uploader) (*uploader)->Stop();
  server.Stop();
  IgnoreError(RemoveFile(layout.pid_file()));
  return 0;
}

}  // namespace
}  // namespace zenith::pageserver

namespace {

// The bytes an import reads: relation files and WAL segments.
uint64_t ImportBytes(const std::string& datadir) {
  uint64_t total = 0;
  if (auto entries = zenith::ScanDatadir(datadir); entries.ok()) {
    for (const auto& e : *entries) {
      if (e.relation) total += e.size;
    }
  }
  if (auto names = zenith::ListDirectory(datadir + "/pg_wal"); names.ok()) {
    for (const auto& name : *names) {
      if (zenith::ParseWalSegmentFileName(name)) total += zenith::kWalSegmentSize;
    }
  }
  return total;
}

// How `zenith init` makes the repository: from a data directory or from
// the server at `conninfo`.
struct Source {
  std::string datadir, conninfo;
};

int Create(const std::string& root, const Source& source, const std::string& pg_bin_dir) {
  // The user sees initdb's output and the CLI's one line; the import's
  // log would interleave with them. Failures come back as a Status. On a
  // terminal, a progress line (stdout is the CLI's; its stderr is not).
  spdlog::set_level(spdlog::level::off);
  zenith::pageserver::RepoConfig config;
  if (!pg_bin_dir.empty()) config.pg_bin_dir = pg_bin_dir;
  zenith::Status s;
  if (!source.conninfo.empty()) {
    s = zenith::pageserver::CreateRepositoryFromServer(root, source.conninfo, config.pg_bin_dir, config, stdout);
  } else {
    zenith::ProgressLine progress("imported", ImportBytes(source.datadir), stdout);
    s = zenith::pageserver::CreateRepository(root, source.datadir, config, &progress);
    progress.End();
  }
  if (s.ok()) return 0;
  std::fprintf(stderr, "zenith-pageserver: %s\n", s.message().c_str());
  return 1;
}

// `zenith attach URL`: the repository rebuilt from its bucket, the S3
// settings taken as AWS's tools take them (the CLI's environment).
int Attach(const std::string& root, const std::string& remote, const std::string& pg_bin_dir) {
  spdlog::set_level(spdlog::level::off);
  auto fail = [](const zenith::Status& s) {
    std::fprintf(stderr, "zenith-pageserver: %s\n", s.message().c_str());
    return 1;
  };
  auto url = zenith::s3::ParseS3Url(remote);
  if (!url.ok()) return fail(url.status());
  auto settings = zenith::s3::LoadS3Settings(zenith::s3::ProcessEnvironment());
  if (!settings.ok()) return fail(settings.status());
  zenith::pageserver::RepoConfig config;
  if (!pg_bin_dir.empty()) config.pg_bin_dir = pg_bin_dir;
  config.remote.url = url->ToString();
  config.remote.endpoint = settings->endpoint;
  config.remote.region = settings->region;
  zenith::s3::S3Client store(std::move(settings).value(), url->bucket);
  auto summary = zenith::pageserver::AttachRepository(root, store, *url, config);
  if (!summary.ok()) return fail(summary.status());
  std::printf("attached as generation %llu: %d branches, %d timelines; %d layers (%s) stay in the bucket and are "
              "read on demand; downloaded %s of WAL\n",
              static_cast<unsigned long long>(summary->generation), summary->branches, summary->timelines,
              summary->layers, zenith::FormatBytes(summary->layer_bytes).c_str(),
              zenith::FormatBytes(summary->wal_bytes).c_str());
  return 0;
}

}  // namespace

namespace zenith::pageserver {

int RunPageServer(int argc, char** argv, const ServerSeams& seams) {
  CLI::App app{"zenith page server: serves a zenith repository over the PostgreSQL protocol"};
  std::string repo, pg_bin_dir;
  Source source;
  app.add_option("--repo", repo, "the repository's .zenith directory")->required();
  auto* from_dir = app.add_option("--create-from", source.datadir,
                                  "create the repository from this initdb'd or stopped data directory, then exit");
  app.add_option("--create-from-server", source.conninfo,
                 "create the repository from a base backup of this running server (a libpq connection string)")
      ->excludes(from_dir);
  std::string attach;
  app.add_option("--attach", attach, "create the repository from its bucket, s3://BUCKET/PREFIX, then exit")
      ->excludes(from_dir);
  app.add_option("--pg-bin-dir", pg_bin_dir, "with --create-from* or --attach: PostgreSQL's programs");
  CLI11_PARSE(app, argc, argv);
  if (!attach.empty()) return Attach(repo, attach, pg_bin_dir);
  if (!source.datadir.empty() || !source.conninfo.empty()) return Create(repo, source, pg_bin_dir);
  spdlog::set_pattern(zenith::pageserver::kLogPattern);
  char resolved[PATH_MAX];
  if (realpath(repo.c_str(), resolved) == nullptr) {
    std::fprintf(stderr, "zenith-pageserver: no repository at \"%s\"\n", repo.c_str());
    return 1;
  }
  return Serve(resolved, seams);
}

}  // namespace zenith::pageserver
