#!/bin/bash
# Builds the OpenFlow codec fuzzer (clang, ASan+UBSan+libFuzzer) in its own build directory and
# runs it for a bounded time, seeded with the golden OpenFlow 1.3 packets. Fails if it finds a
# crash, a sanitizer report, or a round-trip mismatch.
#   usage: run_fuzzer.sh [seconds]   (default 60; env PULSE_SHARED_DIR, PULSE_FUZZ_BUILD_DIR)
set -euo pipefail
seconds="${1:-60}"
source_dir="$(cd "$(dirname "$0")/../../.." && pwd)"
shared_dir="${PULSE_SHARED_DIR:-${source_dir}/../shared}"
golden="${shared_dir}/testdata/openflow13/packets"
build_dir="${PULSE_FUZZ_BUILD_DIR:-${source_dir}/build-fuzz-openflow}"

if ! command -v clang++ >/dev/null; then
  echo "run_fuzzer.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
if [ ! -d "$golden" ]; then
  echo "run_fuzzer.sh: golden packets not found at $golden (set PULSE_SHARED_DIR)" >&2
  exit 1
fi

CXX=clang++ CC=clang cmake -S "$source_dir" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPULSE_FUZZ=ON -DPULSE_BUILD_TESTS=OFF >"$build_dir.cmake.log" 2>&1 \
  || { cat "$build_dir.cmake.log" >&2; exit 1; }
cmake --build "$build_dir" --target openflow_codec_fuzzer -j2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp "$golden"/*.packet "$work/corpus/"
set +e
"$build_dir/southbound/openflow/openflow_codec_fuzzer" "$work/corpus" \
  -max_total_time="$seconds" -max_len=65535 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>"$work/log"
rc=$?
set -e
tail -n 25 "$work/log"
if [ $rc -ne 0 ] || ls "$work/artifacts"/* >/dev/null 2>&1; then
  echo "run_fuzzer.sh: FAILED (rc=$rc); artifacts:" >&2
  for f in "$work/artifacts"/*; do [ -f "$f" ] && { echo "$f" >&2; xxd "$f" | head -20 >&2; }; done
  exit 1
fi
echo "run_fuzzer.sh: no findings in ${seconds}s"
