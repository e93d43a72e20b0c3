#!/usr/bin/python3
"""Every thread of a running pulse-controller is named (common/thread_name.h, docs/threads.md).

An operator reads `top -H` or `ps -L -o tid,comm` to see which part of the daemon burns a core or
is stuck; a thread left with the binary's name tells them nothing. The daemon runs here with the
subsystems that start threads of their own and need no switch: OpenFlow listening on loopback (no
switch connects), sFlow, /metrics, the web view, the path oracle, the embedded store and one
SONiC-driven switch over a redis-server (the supervisor and the switch's Redis thread).
Asserted from /proc/PID/task/*/comm:
  - exactly one task carries the binary's name: the main thread (a second one is a thread someone
    started without naming it);
  - each subsystem's thread is there under its documented name;
  - every name that starts with "pulse-" is one docs/threads.md lists.
No Open vSwitch: needs only redis-server.
"""

import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("PULSE_SOURCE_DIR", "."), "integration"))
import pulse_net  # noqa: E402
from pulse_net import fail, log  # noqa: E402

EXPECTED = ["pulse-state", "pulse-telemetry", "pulse-fab-sync", "pulse-openflow", "pulse-sflow",
            "pulse-metrics", "pulse-web", "pulse-oracle", "pulse-health", "pulse-advice",
            "pulse-sonic-sup", "pulse-sonic-sw"]


def documented_names():
    path = os.path.join(os.environ.get("PULSE_SOURCE_DIR", "."), "docs", "threads.md")
    with open(path) as f:
        return set(re.findall(r"`(pulse-[a-z-]+)`", f.read()))


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass  # the thread ended while we read
    return sorted(names)


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-thread-names-")
    redis, sock = pulse_net.start_sonic_redis(tmp, "leaf-0")
    intent = os.path.join(tmp, "fabric.yaml")
    with open(intent, "w") as f:
        f.write(f"""name: thread-names
switches:
  - {{name: leaf-0, role: leaf, driver: sonic, redis: "unix:{sock}"}}
  - {{name: leaf-1, role: leaf}}
  - {{name: spine-0, role: spine}}
servers: [{{name: server-0}}, {{name: server-1}}]
links:
  - {{a: "server-0/nic-0", b: "leaf-0:1", speed: 100G}}
  - {{a: "server-1/nic-0", b: "leaf-1:1", speed: 100G}}
  - {{a: "leaf-0:2", b: "spine-0:1", speed: 100G}}
  - {{a: "leaf-1:2", b: "spine-0:2", speed: 100G}}
""")
    ctl = pulse_net.Controller(intent, extra={
        "sflow_listen": f"127.0.0.1:{pulse_net.free_port()}",
        "web_listen": f"127.0.0.1:{pulse_net.free_port()}",
        "oracle": "{enabled: true}",
        "lossless_health": "{counters_interval_ms: 300}"})
    try:
        ctl.start()
        binary_name = os.path.basename(pulse_net.binary("pulse-controller"))[:15]
        names, missing = [], EXPECTED
        deadline = time.time() + 10
        while time.time() < deadline:
            names = thread_names(ctl.proc.pid)
            missing = [n for n in EXPECTED if n not in names]
            if not missing:
                break
            time.sleep(0.2)
        log(f"{len(names)} threads: {' '.join(names)}")
        if missing:
            fail(f"threads missing (or not named): {missing}\n" + ctl.log_tail())
        unnamed = names.count(binary_name)
        if unnamed != 1:
            fail(f"{unnamed} threads named {binary_name!r}; only the main thread may be "
                 "(name the others with pulse::NameThisThread)")
        documented = documented_names()
        undocumented = sorted({n for n in names if n.startswith("pulse-") and n != binary_name}
                              - documented)
        if undocumented:
            fail(f"threads not in docs/threads.md: {undocumented}")
        log("PASS: every thread named; names documented")
    finally:
        ctl.cleanup()
        redis.terminate()
        redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
