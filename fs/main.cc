// zenith-fs: the FUSE daemon of one mounted data directory (docs/design.md
// §8). Started by `zenith mount`; runs until the directory is
// unmounted (`zenith umount`, fusermount3 -u) or it gets SIGTERM/SIGINT,
// then uploads the snapshot it still owes (a clean shutdown's checkpoint)
// and exits.
//
// With --pageserver URL --scratch DIR instead of --repo it is a remote
// mount (fs/remote_compute.h): everything goes over the page server's TCP
// connection; the scratch and pg_wal are local.
//
// With --read-only-at LSN it mounts that point of the branch's history
// read-only instead (fs/readonly_mount.h): no lease, no uploads, a scratch
// of its own that goes when it exits.
//
// It reports to the CLI on --ready-fd: one line, "ok <snapshot LSN>" once
// the mount is ready, or "error <message>".
//
// The options and what they make are in fs/mount_plan.h; the mount itself
// is in fs/mount_run.h.
#include "fs/mount_run.h"

int main(int argc, char** argv) { return zenith::fs::ZenithFsMain(argc, argv); }
