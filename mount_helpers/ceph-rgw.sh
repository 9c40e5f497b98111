#!/usr/bin/env bash
# A single-node Ceph with a RADOS Gateway, for tests and for trying zenith's
# object storage without a cloud account. Runs as whoever calls it (no root):
# every file, socket, log and pid lives in DIR.
#
#   ceph-rgw.sh start DIR [PORT]  one monitor, one manager, one BlueStore OSD
#                                 on a sparse file in DIR (not tmpfs: BlueStore
#                                 opens it with O_DIRECT), and radosgw (beast)
#                                 on 127.0.0.1:PORT (default 7480); an S3 user
#                                 with fresh random keys and a bucket "zenith".
#                                 Prints the path of DIR/s3.env (mode 0600):
#                                 AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
#                                 AWS_SECRET_ACCESS_KEY, ZENITH_TEST_BUCKET.
#   ceph-rgw.sh stop DIR          SIGTERM to every daemon; waits until they are gone
#   ceph-rgw.sh env DIR           prints the path of DIR/s3.env
#
# The monitor listens on PORT+1 (msgr2). The secret key is never on a
# command line: radosgw-admin makes it and the script copies it from its
# answer into the 0600 file. Packages: ceph-mon ceph-osd ceph-mgr radosgw
# uuid-runtime (mount_helpers/install-deps.sh).
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR | env DIR" >&2; exit 2; }
die() { echo "ceph-rgw.sh: $*" >&2; exit 1; }

DAEMONS=(radosgw osd mgr mon)  # stop order

write_conf() {
  local dir=$1 port=$2 fsid=$3
  cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$((port + 1))
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
run dir = $dir/run
crash dir = $dir/crash
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
mon data = $dir/mon/\$id
mgr data = $dir/mgr/\$id
osd data = $dir/osd/\$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 939524096
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
mgr initial modules = iostat
auth allow insecure global id reclaim = false
[mon]
keyring = $dir/mon/\$id/keyring
[mgr]
keyring = $dir/mgr/\$id/keyring
[osd]
keyring = $dir/osd/\$id/keyring
[client]
keyring = $dir/keyring
[client.rgw.zenith]
keyring = $dir/rgw/keyring
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
CONF
}

ceph_cli() { ceph -c "$DIR/ceph.conf" --connect-timeout 30 "$@"; }

make_mon() {
  local fsid=$1 port=$2
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$((port + 1))]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$DIR/ceph.conf" -i a
}

make_mgr() {
  mkdir -p "$DIR/mgr/x"
  ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$DIR/mgr/x/keyring"
  ceph-mgr -c "$DIR/ceph.conf" -i x
}

make_osd() {
  local uuid key
  uuid=$(uuidgen)
  key=$(ceph-authtool --gen-print-key)
  mkdir -p "$DIR/osd/0"
  # The OSD's key goes to the monitor in a file, not on a command line.
  (umask 077; printf '{"cephx_secret": "%s"}\n' "$key" >"$DIR/osd/new.json")
  ceph_cli osd new "$uuid" -i "$DIR/osd/new.json" >/dev/null
  rm -f "$DIR/osd/new.json"
  (umask 077; printf '[osd.0]\n\tkey = %s\n' "$key" >"$DIR/osd/0/keyring")
  ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" >"$DIR/log/osd-mkfs.log" 2>&1 ||
    die "OSD mkfs failed: see $DIR/log/osd-mkfs.log"
  ceph-osd -c "$DIR/ceph.conf" -i 0 2>>"$DIR/log/osd-start.log"
}

make_rgw() {
  local port=$1
  mkdir -p "$DIR/rgw"
  ceph_cli auth get-or-create client.rgw.zenith mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    -o "$DIR/rgw/keyring"
  radosgw -c "$DIR/ceph.conf" -n client.rgw.zenith
  local i
  for i in $(seq 1 120); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.5
  done
  die "radosgw did not answer on 127.0.0.1:$port within 60 s: see $DIR/log/client.rgw.zenith.log"
}

field() {  # the value of "NAME": "value" in radosgw-admin's JSON on stdin
  grep -o "\"$1\": \"[^\"]*\"" | head -1 | sed 's/.*: "\(.*\)"/\1/'
}

make_user_and_bucket() {
  local port=$1 answer ak sk
  answer=$(radosgw-admin -c "$DIR/ceph.conf" -n client.admin user create --uid zenith --display-name zenith)
  ak=$(field access_key <<<"$answer")
  sk=$(field secret_key <<<"$answer")
  [ -n "$ak" ] && [ -n "$sk" ] || die "radosgw-admin made no keys"
  (umask 077; cat >"$DIR/s3.env" <<ENV
AWS_ENDPOINT_URL=http://127.0.0.1:$port
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$ak
AWS_SECRET_ACCESS_KEY=$sk
ZENITH_TEST_BUCKET=zenith
ENV
  )
  # s3cmd reads its keys from a 0600 config file, not the command line.
  (umask 077; cat >"$DIR/s3cmd.cfg" <<CFG
[default]
access_key = $ak
secret_key = $sk
host_base = 127.0.0.1:$port
host_bucket = 127.0.0.1:$port
use_https = False
signature_v2 = False
CFG
  )
  s3cmd -c "$DIR/s3cmd.cfg" mb s3://zenith >/dev/null
}

start() {
  local port=${1:-7480}
  [ -e "$DIR/ceph.conf" ] && die "$DIR already holds a cluster; stop it and remove the directory first"
  mkdir -p "$DIR"/{run,log,mon,osd,crash}
  chmod 0700 "$DIR"
  # A start that fails half-way stops the daemons it did start.
  trap 'rc=$?; [ $rc -eq 0 ] || { echo "ceph-rgw.sh: start failed; stopping what started" >&2; stop; }' EXIT
  local t0=$SECONDS fsid
  fsid=$(uuidgen)
  write_conf "$DIR" "$port" "$fsid"
  make_mon "$fsid" "$port"
  make_mgr
  make_osd
  make_rgw "$port"
  make_user_and_bucket "$port"
  echo "ceph-rgw.sh: RGW on http://127.0.0.1:$port in $((SECONDS - t0)) s" >&2
  echo "$DIR/s3.env"
}

stop() {
  local pids=() f pid
  for f in "$DIR"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  local i
  for i in $(seq 1 600); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  echo "ceph-rgw.sh: daemons did not stop within 60 s; killed them" >&2
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$(realpath -m "$2")
case "$CMD" in
  start) start "${3:-}" ;;
  stop) stop ;;
  env) [ -e "$DIR/s3.env" ] || die "no cluster in $DIR"; echo "$DIR/s3.env" ;;
  *) usage ;;
esac
