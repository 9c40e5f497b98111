// RepoLayout: where everything lives inside a repository (docs/design.md §3).
//
//   .zenith/
//     config                        RepoConfig as JSON
//     refs/branches/<name>          timeline id + "\n"
//     timelines/<id>/metadata       TimelineMetadata as JSON
//     timelines/<id>/wal/           the timeline's WAL segments (a compute's pg_wal)
//     timelines/<id>/layers/        immutable snapshot layers
//     datadirs/<id>/                a mount's working files; safe to delete:
//       scratch/                    its local files (pg_control, pg_xact...)
//       zenith-fs.log               its daemon's log
//       pgdata/                     the mountpoint `zenith start` uses
//       readonly-<pid>/scratch/     a read-only mount's local files (zenith-fs pid)
//       readonly.log                the read-only mounts' daemons' log
//     branch-reset.json             a branch reset in progress (its journal)
//     .s.PGSQL.<port>               the page server's Unix socket
//     pageserver.pid, pageserver.log, pageserver.lock
//     password                      the TCP endpoint's password of user zenith (0600)
//     compute-password              the same of user compute (pageserver/pq/role.h)
//     ca.crt, ca.key                the repository CA (key 0600): signs server.crt;
//                                   TCP clients trust ca.crt (sslrootcert)
//     server.crt, server.key        the TCP endpoint's TLS certificate (key 0600),
//                                   made at the first start with --listen
//
// Thread-safety: plain value type.
#pragma once

#include <string>

#include "pageserver/api/timeline_id.h"

namespace zenith::pageserver {

struct RepoLayout {
  std::string root;  // absolute path of the .zenith directory

  std::string config() const { return root + "/config"; }
  std::string branches_dir() const { return root + "/refs/branches"; }
  std::string branch_ref(const std::string& name) const { return branches_dir() + "/" + name; }
  std::string timelines_dir() const { return root + "/timelines"; }
  std::string timeline_dir(const TimelineId& id) const { return timelines_dir() + "/" + id.ToString(); }
  std::string metadata(const TimelineId& id) const { return timeline_dir(id) + "/metadata"; }
  std::string wal_dir(const TimelineId& id) const { return timeline_dir(id) + "/wal"; }
  std::string layers_dir(const TimelineId& id) const { return timeline_dir(id) + "/layers"; }
  // A prepared branch's first readable point (an LSN; absent for others).
  std::string readable_from(const TimelineId& id) const { return timeline_dir(id) + "/readable_from"; }
  std::string datadirs_dir() const { return root + "/datadirs"; }
  std::string datadir(const TimelineId& id) const { return datadirs_dir() + "/" + id.ToString(); }
  std::string scratch_dir(const TimelineId& id) const { return datadir(id) + "/scratch"; }
  std::string mount_log(const TimelineId& id) const { return datadir(id) + "/zenith-fs.log"; }
  std::string default_mountpoint(const TimelineId& id) const { return datadir(id) + "/pgdata"; }
  static constexpr const char* kReadOnlyPrefix = "readonly-";
  std::string readonly_dir(const TimelineId& id, long pid) const {
    return datadir(id) + "/" + kReadOnlyPrefix + std::to_string(pid);
  }
  std::string readonly_log(const TimelineId& id) const { return datadir(id) + "/readonly.log"; }
  std::string pid_file() const { return root + "/pageserver.pid"; }
  std::string log_file() const { return root + "/pageserver.log"; }
  std::string lock_file() const { return root + "/pageserver.lock"; }
  // The TCP endpoint's password (mode 0600), made by `zenith init`.
  std::string password_file() const { return root + "/password"; }
  // The same for user compute: what remote mounts need (pageserver/pq/role.h).
  std::string compute_password_file() const { return root + "/compute-password"; }
  // The repository CA, made with the first TLS certificate (tls_certs.h).
  std::string ca_cert() const { return root + "/ca.crt"; }
  std::string ca_key() const { return root + "/ca.key"; }
  // The TCP endpoint's certificate when the config names none.
  std::string server_cert() const { return root + "/server.crt"; }
  std::string server_key() const { return root + "/server.key"; }
  // With a remote: the generation this repository claimed in the bucket
  // (docs/design.md §12), decimal.
  std::string generation_file() const { return root + "/generation"; }
  // The remote uploader's latest pass (pageserver/repo/remote_uploader.h), JSON.
  std::string remote_status_file() const { return root + "/remote-status.json"; }
  // A branch reset's journal while its refs change (pageserver/repo/branch_reset.cc).
  std::string reset_journal() const { return root + "/branch-reset.json"; }
  // libpq's host= for the Unix socket: the directory holding .s.PGSQL.<port>.
  std::string socket_dir() const { return root; }
  std::string socket_path(int port) const { return root + "/.s.PGSQL." + std::to_string(port); }
};

}  // namespace zenith::pageserver
