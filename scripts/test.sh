#!/usr/bin/env bash
# Installs dependencies, builds Pulse, and runs every test: unit tests, the fuzzers (bounded),
# the Open vSwitch / Mininet / etcd integration suite, and the container build.
# Needs root (Open vSwitch, Mininet namespaces, podman). Traffic stays on loopback and inside the
# test's own Mininet hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# Integration tests hold a shared lock (RESOURCE_LOCK machine_network), so -j2 only overlaps
# unit tests with them.
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j2 "$@"
