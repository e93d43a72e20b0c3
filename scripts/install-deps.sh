#!/usr/bin/env bash
# Installs everything Pulse needs to build, run and test on Debian 12 (as root).
# Build-only installs (the container's build stage) pass --build-only.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libboost-dev libboost-system-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libglpk-dev
  libhiredis-dev
)
test_packages=(
  clang libclang-rt-14-dev clang-format
  mininet openvswitch-switch iperf3 iputils-ping ethtool iproute2 procps psmisc
  etcd-server etcd-client
  redis-server redis-tools libyang2-tools
  python3 python3-grpcio python3-pytest python3-yaml python3-protobuf
  openssl curl
  chromium chromium-driver python3-selenium
  podman buildah runc debootstrap
  slurmctld slurmd slurm-client munge
)

packages=("${build_packages[@]}")
if [[ ${1:-} != --build-only ]]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi
