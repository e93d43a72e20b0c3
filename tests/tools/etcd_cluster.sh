#!/usr/bin/env bash
# Starts and stops a throwaway 1- or 3-member etcd cluster on free loopback ports, for tests.
#
#   etcd_cluster.sh start DIR N [OWNER_PID]  start N (1 or 3) members with data under DIR; prints
#                                            the client endpoints, comma-separated, and writes
#                                            them to DIR/endpoints. If OWNER_PID is given, the
#                                            members are killed when that process exits.
#   etcd_cluster.sh kill DIR I               kill -9 member I (1-based); the others carry on
#   etcd_cluster.sh pause DIR I              SIGSTOP member I (a hung member); resume DIR I: SIGCONT
#   etcd_cluster.sh leader DIR               print the index (1-based) of the raft leader
#   etcd_cluster.sh stop DIR                 kill every member and remove DIR
#
# Every member also dies by itself after PULSE_ETCD_MAX_LIFETIME_S (default 600) seconds, so a
# crashed test can never leave etcd running for long.
set -euo pipefail

ETCD=${ETCD:-/usr/bin/etcd}
ETCDCTL=${ETCDCTL:-/usr/bin/etcdctl}
MAX_LIFETIME_S=${PULSE_ETCD_MAX_LIFETIME_S:-600}

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

# Prints N free TCP ports on 127.0.0.1 (bound then released; good enough for tests).
free_ports() {
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

kill_members() {
  local dir=$1 pidfile pid
  for pidfile in "$dir"/member*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(cat "$pidfile")
    # Each member runs in its own session (setsid) whose id is the recorded pid: kill it whole,
    # so the `timeout` wrapper and etcd under it both go.
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/member*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
}

cmd_start() {
  local dir=$1 n=$2 owner=${3:-}
  [[ $n == 1 || $n == 3 ]] || { echo "etcd_cluster.sh: N must be 1 or 3, got $n" >&2; exit 2; }
  [[ -x $ETCD ]] || { echo "etcd_cluster.sh: $ETCD not found (Debian package etcd-server)" >&2; exit 3; }
  mkdir -p "$dir"
  # If anything below fails, leave nothing running.
  trap 'kill_members "$dir"' ERR INT TERM

  local -a ports
  read -r -a ports <<<"$(free_ports $((2 * n)))"
  local i cluster="" endpoints=""
  for ((i = 1; i <= n; i++)); do
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[$((2 * i - 1))]}"
    endpoints+="${endpoints:+,}127.0.0.1:${ports[$((2 * i - 2))]}"
  done
  for ((i = 1; i <= n; i++)); do
    local client=${ports[$((2 * i - 2))]} peer=${ports[$((2 * i - 1))]}
    setsid timeout --signal=KILL "$MAX_LIFETIME_S" "$ETCD" \
      --name "m$i" --data-dir "$dir/m$i.data" \
      --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "$cluster" --initial-cluster-token "pulse-test-$$" \
      --initial-cluster-state new >"$dir/m$i.log" 2>&1 &
    echo $! >"$dir/member$i.pid"
    echo "127.0.0.1:$client" >"$dir/member$i.endpoint"
  done
  echo "$endpoints" >"$dir/endpoints"

  # Healthy = every member answers a linearizable read (needs a raft leader). Bounded: 30 s.
  local deadline=$((SECONDS + 30)) healthy=0
  while ((SECONDS < deadline)); do
    if ETCDCTL_API=3 "$ETCDCTL" --endpoints="$endpoints" --command-timeout=2s \
      endpoint health >/dev/null 2>&1; then
      healthy=1
      break
    fi
    sleep 0.2
  done
  if ((healthy == 0)); then
    echo "etcd_cluster.sh: cluster in $dir not healthy after 30 s; logs in $dir/m*.log" >&2
    false
  fi
  trap - ERR INT TERM

  if [[ -n $owner ]]; then
    # Reaper: when the owning test process goes away, so does its etcd.
    (
      exec </dev/null >/dev/null 2>&1
      while kill -0 "$owner" 2>/dev/null && [[ -e $dir/endpoints ]]; do sleep 0.5; done
      kill_members "$dir"
    ) &
    disown
  fi
  echo "$endpoints"
}

cmd_kill() {
  local dir=$1 i=$2 pid
  pid=$(cat "$dir/member$i.pid")
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/member$i.pid"
}

cmd_leader() {
  local dir=$1 f i is_leader
  for f in "$dir"/member*.endpoint; do
    i=${f##*/member}
    i=${i%.endpoint}
    [[ -e $dir/member$i.pid ]] || continue
    # simple format: endpoint, id, version, db size, is leader, ...
    is_leader=$(ETCDCTL_API=3 "$ETCDCTL" --endpoints="$(cat "$f")" --command-timeout=2s \
      endpoint status -w simple 2>/dev/null | awk -F', ' '{print $5}') || true
    if [[ $is_leader == true ]]; then
      echo "$i"
      return 0
    fi
  done
  echo "etcd_cluster.sh: no raft leader found in $dir" >&2
  return 1
}

cmd_stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  kill_members "$dir"
  rm -rf "$dir"
}

[[ $# -ge 2 ]] || usage
# SIGSTOP / SIGCONT member I's whole session (timeout wrapper and etcd): a hung member.
cmd_signal() {
  local dir=$1 i=$2 sig=$3 pid
  pid=$(cat "$dir/member$i.pid")
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid"
}

case $1 in
  start) [[ $# -ge 3 ]] || usage; cmd_start "$2" "$3" "${4:-}" ;;
  kill) [[ $# -eq 3 ]] || usage; cmd_kill "$2" "$3" ;;
  pause) [[ $# -eq 3 ]] || usage; cmd_signal "$2" "$3" STOP ;;
  resume) [[ $# -eq 3 ]] || usage; cmd_signal "$2" "$3" CONT ;;
  leader) cmd_leader "$2" ;;
  stop) cmd_stop "$2" ;;
  *) usage ;;
esac
