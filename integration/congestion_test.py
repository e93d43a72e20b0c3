#!/usr/bin/python3
"""Congestion-driven re-placement on a Mininet leaf-spine (issue 6).

The lab fabric of examples/leaf-spine.yaml (4 leaves, 2 spines), every link capped at BW_MBPS
with TCLink, and the intent rewritten to the same speed so the controller's utilisation is
measured against the real capacity. Two explicit jobs, server-0 -> server-2 and server-1 ->
server-3 (leaf-0 to leaf-1), are placed while spine-1 is drained, so both are pinned through
spine-0 (a deterministic collision: ECMP hashing of two flows collides only half the time);
their colliding throughput is measured, then spine-1 is undrained, which by itself moves nothing. Two iperf3 TCP flows follow those pins.

Asserted from the hosts and switches, not from the controller:
  - the controller moves one flow onto spine-1 within MAX_DETECT_S of spine-1 coming back
    (the colliding baseline is measured while spine-1 is still drained);
  - the combined iperf3 throughput after the move is >= 1.8x what it was while they collided;
  - the spines' port counters show the traffic on both spines afterwards;
  - while they run, the API's link view (pulsectl links) shows measured load on leaf-0's
    uplinks within 25% of iperf3's combined rate;
  - the daemon's /metrics shows pulse_link_utilisation, pulse_connected_switches and
    pulse_flow_moves_total.
Run as root with /usr/bin/python3; label integration.
"""

import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pulse_net  # noqa: E402
from pulse_net import PulseLab, fail, log  # noqa: E402

BW_MBPS = 20
MAX_DETECT_S = 15


def spine_bytes(lab):
    return {s: sum(lab.port_tx_bytes(s).values()) for s in lab.switch_names("spine")}


def iperf_window(lab, pairs, seconds):
    """Runs one iperf3 TCP flow per (src_host, dst_host, port) at once; returns bits/s each."""
    results = [0.0] * len(pairs)

    def one(i, src, dst, port):
        results[i] = pulse_net.iperf3_pair(lab, src, dst, seconds=seconds, port=port)

    threads = [threading.Thread(target=one, args=(i, *p)) for i, p in enumerate(pairs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-congestion-")
    intent = pulse_net.capped_intent(tmp, BW_MBPS)
    of_port = pulse_net.free_port()
    # 0.5 s port stats and a 1 s hold.
    ctl = pulse_net.Controller(
        intent, of_port=of_port, openflow_options={"stats_interval_ms": 500},
        extra={"telemetry": "{period_ms: 500, hold_ms: 1000, hot_percent: 80, clear_percent: 60,"
                            " move_interval_ms: 5000, flow_cooldown_ms: 30000}"})
    lab = PulseLab(intent, of_port, bw_mbps=BW_MBPS)
    try:
        ctl.start()
        lab.start()
        if not lab.wait_connected(30):
            fail("switches did not connect")
        time.sleep(2)
        ctl.pulsectl("drain", "spine-1")
        ctl.pulsectl("jobs", "place", "-f", pulse_net.write_pair_job(tmp, "a", "server-0/nic-0", "server-2/nic-0"))
        ctl.pulsectl("jobs", "place", "-f", pulse_net.write_pair_job(tmp, "b", "server-1/nic-0", "server-3/nic-0"))
        shows = ctl.pulsectl("jobs", "show", "a") + ctl.pulsectl("jobs", "show", "b")
        if "spine-1" in shows:
            fail("setup: a job crosses spine-1 although it was drained:\n" + shows)
        time.sleep(2)  # pins installed
        h = {n: lab.host_of_nic(f"server-{n}/nic-0").name for n in range(4)}
        pairs = [(h[0], h[2], 5301), (h[1], h[3], 5302)]

        # While they collide: both pinned through spine-0. Measured with spine-1 still drained,
        # so the controller has nowhere to move them during the baseline (with spine-1 up, it
        # separates them within ~2 s, inside a 4 s window, and the baseline would be half
        # separated already).
        before_spines = spine_bytes(lab)
        before = iperf_window(lab, pairs, 4)
        log(f"colliding: {[round(x / 1e6, 2) for x in before]} Mbit/s, "
            f"combined {sum(before) / 1e6:.2f}")
        # The undrain itself moves nothing (its reply says so); any move after it is the
        # telemetry loop's, which may act at once since spine-0 was hot through the baseline.
        undrain = json.loads(ctl.pulsectl("--json", "undrain", "spine-1"))
        if int(undrain.get("flowsMoved", 0)) != 0:
            fail(f"setup: undraining spine-1 moved flows by itself: {undrain}")
        t0 = time.time()  # from here the controller may separate them

        # Keep them running until the controller moves one (bounded), then measure again.
        moved_at = None
        while time.time() - t0 < MAX_DETECT_S + 4:
            iperf_window(lab, pairs, 2)
            shows = ctl.pulsectl("jobs", "show", "a") + ctl.pulsectl("jobs", "show", "b")
            if "spine-1" in shows:
                moved_at = time.time() - t0
                break
        if moved_at is None:
            fail(f"no flow moved to spine-1 within {MAX_DETECT_S} s; log:\n{ctl.log_tail()}")
        log(f"controller moved a flow {moved_at:.1f} s after spine-1 came back (traffic running)")
        mid_spines = spine_bytes(lab)
        # While the separated flows run, read what the API reports as measured load (from the
        # switches' port counters) next to the planned load.
        reader, links_during = pulse_net.read_links_later(ctl, 3.5)
        after = iperf_window(lab, pairs, 5)
        reader.join()
        after_spines = spine_bytes(lab)
        log(f"separated: {[round(x / 1e6, 2) for x in after]} Mbit/s, "
            f"combined {sum(after) / 1e6:.2f}")
        ratio = sum(after) / max(sum(before), 1.0)
        log(f"combined throughput ratio after/before: {ratio:.2f}")
        spine_delta = {s: after_spines[s] - mid_spines[s] for s in after_spines}
        log(f"spine tx bytes during the last window: {spine_delta}; before: "
            f"{ {s: mid_spines[s] - before_spines[s] for s in mid_spines} }")

        text = pulse_net.metrics_text(ctl)
        for name in ("pulse_link_utilisation", "pulse_connected_switches",
                     "pulse_flow_moves_total"):
            if name not in text:
                fail(f"/metrics lacks {name}")
        m = re.search(r'pulse_flow_moves_total\{reason="congestion"\} (\S+)', text)
        connected = re.search(r"^pulse_connected_switches (\S+)", text, re.M)
        log(f"/metrics: flow moves {m.group(1) if m else None}, connected switches "
            f"{connected.group(1) if connected else None}")

        # Measured load on leaf-0's uplinks (both flows leave leaf-0) against iperf3's own rate.
        spines = lab.switch_names("spine")
        uplinks = [l for l in links_during.get("links", [])
                   if l.get("fromNode") == "leaf-0" and l.get("toNode") in spines]
        measured = [l.get("measuredLoadBps") for l in uplinks]
        log(f"API during the separated window: leaf-0 uplinks measured "
            f"{[None if m is None else round(m / 1e6, 2) for m in measured]} Mbit/s, planned "
            f"{[round(l.get('plannedLoadBps', 0) / 1e6, 2) for l in uplinks]} Mbit/s; "
            f"iperf3 {sum(after) / 1e6:.2f} Mbit/s")
        if len(uplinks) != 2 or any(m is None for m in measured):
            fail(f"ListLinks has no measured load on leaf-0's uplinks: {uplinks}")
        measured_sum = sum(measured)
        if abs(measured_sum - sum(after)) > 0.25 * sum(after):
            fail(f"measured load {measured_sum / 1e6:.2f} Mbit/s is not within 25% of iperf3's "
                 f"{sum(after) / 1e6:.2f} Mbit/s")
        if moved_at > MAX_DETECT_S:
            fail(f"moved after {moved_at:.1f} s (bound {MAX_DETECT_S} s)")
        if ratio < 1.8:
            fail(f"combined throughput only {ratio:.2f}x after the move (need 1.8x)")
        if min(spine_delta.values()) < 0.3 * max(spine_delta.values()):
            fail(f"traffic not on both spines after the move: {spine_delta}")
        if not m or float(m.group(1)) < 1:
            fail("pulse_flow_moves_total{reason=congestion} not counted")
        print("PASS", flush=True)
    finally:
        with open(ctl.log_path) as f:
            for line in f:
                if "congestion" in line or "flows moved" in line:
                    print("controller: " + line.rstrip(), flush=True)
        lab.stop()
        ctl.cleanup()


if __name__ == "__main__":
    main()
