#!/bin/bash
# Container test: builds the Pulse image with podman from the repository's Dockerfile, runs it
# with the API on a free loopback port, and drives it with the host's pulsectl (topology, place a
# job, list) and with the image's own pulsectl (health, as the HEALTHCHECK does). Checks that the
# daemon runs as the image's non-root user. Cleans up the container (and any base rootfs it had to
# make) on every exit.
#
#   container_test.sh SOURCE_DIR PULSECTL
#
# The build context is the committed tree (git archive HEAD) when SOURCE_DIR is a git checkout,
# so other people's half-written changes in a shared work tree do not break the image; set
# PULSE_CONTAINER_CONTEXT=worktree to build the directory as it is (the .dockerignore applies).
# Recipe and podman flags: /work/shared/notes/environment.md, section Containers.
set -euo pipefail

SOURCE_DIR=$(cd "${1:?usage: container_test.sh SOURCE_DIR PULSECTL}" && pwd)
PULSECTL=${2:?usage: container_test.sh SOURCE_DIR PULSECTL}
IMAGE=${PULSE_TEST_IMAGE:-localhost/pulse:test}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
BUILD_TIMEOUT_S=${PULSE_CONTAINER_BUILD_TIMEOUT_S:-2400}
NAME="pulse-container-test-$$"
WORK=$(mktemp -d /tmp/pulse-container-test.XXXXXX)
PODMAN=(podman --cgroup-manager=cgroupfs)

log() { echo "container_test: $*"; }
fail() {
  echo "container_test: FAIL: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  if "${PODMAN[@]}" container exists "$NAME" 2>/dev/null; then
    if [ "$rc" -ne 0 ]; then
      echo "--- container log (last 40 lines) ---" >&2
      "${PODMAN[@]}" logs "$NAME" 2>&1 | tail -40 >&2 || true
    fi
    timeout 60 "${PODMAN[@]}" rm -f -t 5 "$NAME" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$PULSECTL" ] || fail "pulsectl '$PULSECTL' is not an executable"
command -v podman >/dev/null || fail "podman is not installed"

# 1. The base image: imported from a minimal debootstrap when no registry copy exists.
if ! podman image exists "$BASE_IMAGE"; then
  log "$BASE_IMAGE absent: debootstrap --variant=minbase bookworm"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed"
  timeout 900 debootstrap --variant=minbase bookworm "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null ||
    fail "podman import of the bookworm rootfs failed"
  rm -rf "$WORK/rootfs"
fi

# 2. The build context.
CONTEXT="$SOURCE_DIR"
if [ "${PULSE_CONTAINER_CONTEXT:-committed}" != worktree ] &&
  git -C "$SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
  CONTEXT="$WORK/context"
  mkdir -p "$CONTEXT"
  git -C "$SOURCE_DIR" archive --format=tar HEAD | tar -x -C "$CONTEXT"
  log "context: committed tree $(git -C "$SOURCE_DIR" rev-parse --short HEAD)"
fi

# 3. The image (compiles Pulse inside it).
log "podman build -t $IMAGE (timeout ${BUILD_TIMEOUT_S}s)"
build_start=$(date +%s)
if ! timeout "$BUILD_TIMEOUT_S" podman build --isolation=chroot -t "$IMAGE" "$CONTEXT" \
  >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log" >&2
  fail "podman build failed or timed out"
fi
build_s=$(($(date +%s) - build_start))
log "image built in ${build_s}s ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"

# 4. Run it: host network, the API on a free loopback port (overrides the config's listen).
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${PODMAN[@]}" run --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --network host -d --name "$NAME" "$IMAGE" \
  --config /etc/pulse/pulse.yaml --listen "127.0.0.1:$PORT" >/dev/null ||
  fail "podman run failed"
NOAUTH=("$PULSECTL" --server "127.0.0.1:$PORT" --insecure --timeout 5s)
CTL=("${NOAUTH[@]}")

serving=0
for _ in $(seq 1 60); do
  if "${CTL[@]}" health >/dev/null 2>&1; then
    serving=1
    break
  fi
  [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$NAME")" = true ] ||
    fail "the container exited before serving"
  sleep 1
done
[ "$serving" = 1 ] || fail "the API on 127.0.0.1:$PORT did not become SERVING within 60 s"
log "serving on 127.0.0.1:$PORT"

# 4b. Secure by default: no open API. The first start created an owner-only admin token in the
# state volume and logged where; calls without it are refused.
if out=$("${NOAUTH[@]}" topology 2>&1); then
  fail "the default image serves the API without a token"
fi
echo "$out" | grep -q UNAUTHENTICATED || fail "unauthenticated call not refused as such: $out"
daemon_log=$("${PODMAN[@]}" logs "$NAME" 2>&1)
echo "$daemon_log" | grep -q "created an admin token in /var/lib/pulse/state/tokens.yaml" ||
  fail "the log does not say where the admin token is"
mode=$("${PODMAN[@]}" exec "$NAME" stat -c '%a %U' /var/lib/pulse/state/tokens.yaml)
[ "$mode" = "600 pulse" ] || fail "tokens file is '$mode', expected '600 pulse'"
TOKEN=$("${PODMAN[@]}" exec "$NAME" cat /var/lib/pulse/state/tokens.yaml |
  sed -n 's/.*token: "\([0-9a-f]*\)".*/\1/p')
[ ${#TOKEN} = 64 ] || fail "no admin token found in the tokens file"
CTL=("${NOAUTH[@]}" --token "$TOKEN")
log "unauthenticated call refused; admin token created ($mode)"

# 5. The host's pulsectl against the containerised daemon.
topology=$("${CTL[@]}" topology) || fail "pulsectl topology failed"
echo "$topology" | grep -q '^switches: 6 ' || fail "unexpected topology summary: $(echo "$topology" | head -1)"
echo "$topology" | grep -q '^leaf-0 ' || fail "topology lists no leaf-0"
placed=$("${CTL[@]}" jobs place -f "$SOURCE_DIR/examples/jobs/ring-lab.yaml") ||
  fail "pulsectl jobs place failed"
echo "$placed" | grep -q '^job ring-lab: ring, 8 endpoints, 16 flows' ||
  fail "unexpected placement: $(echo "$placed" | head -1)"
"${CTL[@]}" jobs list | grep -q '^ring-lab ' || fail "jobs list does not show ring-lab"
log "host pulsectl: topology, jobs place, jobs list OK"

# 6. The image's own pulsectl (what the HEALTHCHECK runs).
health=$("${PODMAN[@]}" exec "$NAME" /usr/local/bin/pulsectl --server "127.0.0.1:$PORT" --insecure health) ||
  fail "pulsectl health inside the container failed: $health"
[ "$health" = SERVING ] || fail "health inside the container: '$health'"
log "container pulsectl health: $health"

# 7. The daemon runs as the image's non-root user.
uid=$("${PODMAN[@]}" exec "$NAME" awk '/^Uid:/ {print $2}' /proc/1/status)
exe=$("${PODMAN[@]}" exec "$NAME" readlink /proc/1/exe)
[ "$exe" = /usr/local/bin/pulse-controller ] || fail "PID 1 in the container is '$exe', not pulse-controller"
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "pulse-controller runs as uid '$uid' (root)"
user=$("${PODMAN[@]}" exec "$NAME" id -un "$uid")
log "pulse-controller runs as uid $uid ($user)"

# 8. Stop: the daemon shuts down on SIGTERM within the grace period.
stop_start=$(date +%s)
timeout 60 "${PODMAN[@]}" stop -t 10 "$NAME" >/dev/null || fail "podman stop failed"
log "stopped in $(($(date +%s) - stop_start))s, exit code $("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")"
log "PASS (image build ${build_s}s)"
