#!/usr/bin/env bash
# The main job: installs dependencies, builds Pulse, and runs pulse-controller driving a Mininet
# leaf-spine (Open vSwitch, userspace datapath) built from examples/leaf-spine.yaml; places a
# sample job through the gRPC API and shows its traffic crossing the planned spine. As root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export PULSE_SOURCE_DIR="$PWD" PULSE_BINARY_DIR="$PWD/${BUILD_DIR:-build}"
exec /usr/bin/python3 integration/main_job.py
