#!/usr/bin/python3
"""Failure-to-fix time on the 4x4 leaf-spine (examples/leaf-spine-4x4x4.yaml: 4 spines, 4 leaves,
4 hosts per leaf) in Mininet with Open vSwitch, driven by pulse-controller.

Each of the 16 leaf-spine links is cut in turn (ip link down at both ends, as a failing optic
would), then restored before the next. For every cut it reports:
  - the controller's own repair time (FabricSync: port-down message -> barrier reply of the last
    switch fix), from its log;
  - the switch-side fix time: from the cut to the moment the leaf's group table no longer sends
    to the dead port in a live bucket (ovs-ofctl dump-groups, polled every ~5 ms);
  - the baseline in the same run: the time until OVS itself reports the port down (ovs-ofctl
    show: LINK_DOWN), i.e. detection without any controller; fix time minus it is what the
    controller adds.
Printed as p50 / p90 / max over the cuts. Bounded (about 2-3 minutes); run as root, under the
network lock:  flock /work/locks/network.lock /usr/bin/python3 bench/failover_bench.py
"""

import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import pulse_net  # noqa: E402
from pulse_net import (Controller, PulseLab, log, log_numbers, log_size, run,  # noqa: E402
                       seconds_until)

INTENT = os.path.join(pulse_net.SOURCE_DIR, "examples", "leaf-spine-4x4x4.yaml")
REPAIR_LINE = r"repair: port-down to last barrier reply in ([0-9.]+) ms"
POLL_S = 0.005
MAX_WAIT_S = 5.0


def port_down_in_ovs(switch, port):
    out = run(["ovs-ofctl", "-O", "OpenFlow13", "show", switch], check=False)
    m = re.search(r"^\s*%d\(.*?\n(?:\s+.*\n)*?\s+state:\s+(\S+)" % port, out, re.M)
    return bool(m) and "LINK_DOWN" in m.group(1)


def groups_use_port(switch, port):
    """True while a group bucket still outputs to `port` (the controller's fix removes it)."""
    out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-groups", switch], check=False)
    return re.search(r"actions=output:%d\b" % port, out) is not None or \
        re.search(r"output:%d[,\s]" % port, out) is not None


def summary(name, values_ms):
    if not values_ms:
        return f"{name:44s}  no samples"
    v = sorted(values_ms)
    p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
    return (f"{name:44s}  p50 {statistics.median(v):7.1f} ms   p90 {p90:7.1f} ms   "
            f"max {v[-1]:7.1f} ms   (n={len(v)})")


def main():
    ctl = Controller(INTENT)
    lab = PulseLab(INTENT, of_port=ctl.of_port)
    repair_ms, fix_ms, detect_ms = [], [], []
    try:
        ctl.start()
        lab.start()
        if not lab.wait_connected(60):
            print("switches did not connect", file=sys.stderr)
            return 1
        time.sleep(3)  # tables pushed, discovery settled
        leaves = [s["name"] for s in lab.fabric["switches"] if s["name"].startswith("leaf")]
        spines = [s["name"] for s in lab.fabric["switches"] if s["name"].startswith("spine")]
        for leaf in leaves:
            for spine in spines:
                port = lab.switch_ports_to(leaf, spine)[0]
                if not groups_use_port(leaf, port):
                    log(f"{leaf}:{port} is in no group before the cut; skipped")
                    continue
                since = log_size(ctl)
                t0 = time.time()
                lab.set_link(leaf, spine, False)
                detected = seconds_until(lambda: port_down_in_ovs(leaf, port), MAX_WAIT_S, POLL_S)
                if detected is not None:
                    detect_ms.append(detected * 1000)
                fixed = seconds_until(lambda: not groups_use_port(leaf, port), MAX_WAIT_S, POLL_S)
                if fixed is not None:
                    fix_ms.append((time.time() - t0) * 1000)  # both waits count from the cut
                time.sleep(0.3)
                repairs = log_numbers(ctl, REPAIR_LINE, since)
                if repairs:
                    repair_ms.append(repairs[0])
                log(f"cut {leaf}:{port} - {spine}: OVS saw it down after "
                    f"{'-' if detected is None else f'{detected * 1000:.0f}'} ms, group fixed "
                    f"{'-' if fixed is None else f'{fix_ms[-1]:.0f}'} ms after the cut, "
                    f"controller repair {repairs[0] if repairs else '-'} ms")
                lab.set_link(leaf, spine, True)
                seconds_until(lambda: groups_use_port(leaf, port), MAX_WAIT_S, POLL_S)  # back in the groups
        print()
        print("Failure-to-fix on the 4x4 leaf-spine (16 leaf-spine links cut one at a time)")
        print(summary("OVS detects the port down (baseline)", detect_ms))
        print(summary("switch fixed: dead port out of the groups", fix_ms))
        print(summary("controller repair (port-down -> last barrier)", repair_ms))
        if detect_ms and fix_ms:
            print(f"controller adds {statistics.median(fix_ms) - statistics.median(detect_ms):.1f}"
                  f" ms (p50) after OVS's own detection")
        return 0 if fix_ms and repair_ms else 1
    finally:
        lab.stop()
        ctl.cleanup()


if __name__ == "__main__":
    sys.exit(main())
