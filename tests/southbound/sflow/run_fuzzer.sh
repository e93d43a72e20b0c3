#!/bin/sh
# Runs the sFlow decoder fuzzer for a bounded time: run_fuzzer.sh FUZZER_BINARY [SECONDS]
# Seeds: the datagrams in corpus/ next to this script (compact and expanded samples) plus a minimal
# empty datagram; the working corpus lives in a temporary directory. A crash exits non-zero.
set -eu
fuzzer="$(readlink -f "$1")"
seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp "$(dirname "$(readlink -f "$0")")"/corpus/* "$work/corpus/" 2>/dev/null || true
# A minimal valid datagram (version 5, IPv4 agent, no samples) as a seed.
printf '\000\000\000\005\000\000\000\001\177\000\000\001\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\000' \
  > "$work/corpus/empty_v5"
cd "$work"
"$fuzzer" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 \
  "$work/corpus"
