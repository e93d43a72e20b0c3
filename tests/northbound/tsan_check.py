#!/usr/bin/python3
"""Runs a ThreadSanitizer test binary and fails on any data race in Pulse's own code.

Debian's gRPC, Abseil and protobuf are not built with -fsanitize=thread, so TSAN cannot see their
synchronisation (gRPC's inline header code locks an uninstrumented absl::Mutex). It then reports
races between gRPC's own inline functions, which are false positives. Two filters, both printed:
  - tsan.supp: `called_from_lib` for those libraries (their malloc/free/send calls are ignored);
  - here: a report is a race in Pulse when BOTH accesses are in Pulse's own sources (the first
    frame outside the C++ standard library headers; generated code excluded): Pulse synchronises
    only with std::mutex, std::atomic and Asio, which TSAN sees, so those are real and fail.
    Reports with one side in gRPC's inline code (e.g. a call finished from the controller thread
    and serialised on a gRPC thread) are synchronised inside gRPC; they are counted and printed.

usage: tsan_check.py SOURCE_DIR SUPPRESSIONS BINARY [ARGS...]
"""
import os
import re
import subprocess
import sys

source_dir, supp, binary = sys.argv[1:4]
env = dict(os.environ)
env["TSAN_OPTIONS"] = "halt_on_error=0 report_signal_unsafe=0 suppressions=%s" % supp
proc = subprocess.run([binary] + sys.argv[4:], env=env, stdout=subprocess.PIPE,
                      stderr=subprocess.STDOUT, text=True, errors="replace")
out = proc.stdout
reports = out.split("WARNING: ThreadSanitizer")[1:]
frame_re = re.compile(r"^\s+#\d+ .*? (/\S+?):\d+")


def first_owner(stack_lines):
    for line in stack_lines:
        m = frame_re.match(line)
        if not m:
            continue
        path = m.group(1)
        if path.startswith("/usr/include/c++/"):
            continue
        return path
    return ""


ours = []
one_sided = []  # one access in Pulse code, the other in gRPC code (its sync is invisible)
for report in reports:
    body = report.split("SUMMARY")[0]
    stacks = re.split(r"\n\s*(?:Previous )?(?:read|write|atomic read|atomic write|Read|Write|Atomic)"
                      r"[^\n]*\n", body)
    owners = []
    for stack in stacks[1:3]:
        stack = stack.split("\n\n")[0]  # the access stack only, not "Location"/"Thread" notes
        owners.append(first_owner(stack.split("\n")))
    mine = [o.startswith(source_dir + "/") and not re.search(r"\.pb\.(cc|h)$", o) for o in owners]
    if len(mine) == 2 and all(mine):
        ours.append(report)
    elif any(mine):
        one_sided.append(report)

tests = re.findall(r"^\[\s+(OK|FAILED)\s+\] (\S+)", out, re.M)
print("tsan_check: %d tests run, %d failed; %d TSAN reports: %d inside gRPC/Abseil, "
      "%d between Pulse and gRPC code, %d between two Pulse accesses (fail)"
      % (len(tests), sum(1 for t in tests if t[0] == "FAILED"), len(reports),
         len(reports) - len(ours) - len(one_sided), len(one_sided), len(ours)))
for report in ours[:5]:
    print("WARNING: ThreadSanitizer" + report[:6000])
if proc.returncode not in (0, 66) and "FAILED" in out:
    print(out[-4000:])
    sys.exit(1)
if any(t[0] == "FAILED" for t in tests) or not tests:
    sys.exit(1)
sys.exit(1 if ours else 0)
