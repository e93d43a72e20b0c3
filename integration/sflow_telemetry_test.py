#!/usr/bin/python3
"""Link load from sFlow on a Mininet leaf-spine (issue 6: collect with sFlow, expose measured load).

The controller runs with `sflow_listen` and OpenFlow port-stats polling off
(openflow.stats_interval_ms: 0), so the only source of measured load is the sFlow agent of every
Open vSwitch bridge (an `sFlow` row, counter polling every second) sending to the daemon's
collector. The daemon maps the agent's ifindex to (datapath id, OpenFlow port) through OVSDB.

Asserted from outside the controller's own estimate:
  - with one iperf3 TCP flow pinned by a placed job, the API's link view (pulsectl links) shows
    measured load on the job's leaf-to-spine link within 25% of the rate iperf3 reports, and the
    other spine's uplink from that leaf near idle;
  - garbage datagrams sent to the collector's UDP port are counted as malformed on /metrics
    (pulse_sflow_datagrams_total{result="malformed"}), well-formed ones as ok, and the daemon keeps
    serving (pulsectl health).
Run as root with /usr/bin/python3; label integration.
"""

import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pulse_net  # noqa: E402
from pulse_net import PulseLab, fail, log, run  # noqa: E402

BW_MBPS = 20


def sflow_count(text, result):
    m = re.search(r'pulse_sflow_datagrams_total\{result="%s"\} (\S+)' % result, text)
    return float(m.group(1)) if m else 0.0


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-sflow-")
    intent = pulse_net.capped_intent(tmp, BW_MBPS)
    of_port = pulse_net.free_port()
    sflow_port = pulse_net.free_port()
    # OpenFlow port stats off: sFlow is the only source of measured load.
    ctl = pulse_net.Controller(intent, of_port=of_port,
                               openflow_options={"stats_interval_ms": 0},
                               extra={"sflow_listen": f"127.0.0.1:{sflow_port}",
                                      "telemetry": "{period_ms: 500, enabled: false}"})
    lab = PulseLab(intent, of_port, bw_mbps=BW_MBPS)
    try:
        ctl.start()
        lab.start()
        if not lab.wait_connected(30):
            fail("switches did not connect")
        for sw in lab.fabric["switches"]:
            run(f'ovs-vsctl --timeout=10 -- --id=@s create sFlow agent=lo '
                f'target=\\"127.0.0.1:{sflow_port}\\" header=128 sampling=1000 polling=1 '
                f'-- set bridge {sw["name"]} sflow=@s')
        job = pulse_net.write_pair_job(tmp, "a", "server-0/nic-0", "server-2/nic-0")
        ctl.pulsectl("jobs", "place", "-f", job)
        shown = ctl.pulsectl("jobs", "show", "a")
        spine = "spine-0" if "spine-0" in shown else "spine-1"
        other = "spine-1" if spine == "spine-0" else "spine-0"
        log(f"job a crosses {spine}")
        time.sleep(2)  # pins installed

        src = lab.host_of_nic("server-0/nic-0").name
        dst = lab.host_of_nic("server-2/nic-0").name
        reader, links_during = pulse_net.read_links_later(ctl, 5)
        rate = pulse_net.iperf3_pair(lab, src, dst, seconds=8, port=5401)
        reader.join()
        by_pair = {(l.get("fromNode"), l.get("toNode")): l for l in links_during.get("links", [])}
        on_path = by_pair.get(("leaf-0", spine), {})
        off_path = by_pair.get(("leaf-0", other), {})
        log(f"iperf3 {rate / 1e6:.2f} Mbit/s; API measured leaf-0 -> {spine}: "
            f"{on_path.get('measuredLoadBps')}, leaf-0 -> {other}: {off_path.get('measuredLoadBps')}")
        if on_path.get("measuredLoadBps") is None:
            fail(f"no measured load on leaf-0 -> {spine} from sFlow; log:\n{ctl.log_tail()}")
        measured = float(on_path["measuredLoadBps"])
        if abs(measured - rate) > 0.25 * rate:
            fail(f"sFlow-measured {measured / 1e6:.2f} Mbit/s not within 25% of iperf3's "
                 f"{rate / 1e6:.2f} Mbit/s")
        if float(off_path.get("measuredLoadBps", 0.0)) > 0.1 * rate:
            fail(f"leaf-0 -> {other} carries {off_path.get('measuredLoadBps')} b/s, job is on {spine}")

        # Garbage to the collector: counted, dropped, and the daemon keeps serving.
        before = pulse_net.metrics_text(ctl)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for payload in (b"", b"\x00\x00\x00\x05garbage", os.urandom(200), b"\xff" * 1400):
                s.sendto(payload, ("127.0.0.1", sflow_port))
        time.sleep(1.5)
        after = pulse_net.metrics_text(ctl)
        ok_before, ok_after = sflow_count(before, "ok"), sflow_count(after, "ok")
        bad_before, bad_after = sflow_count(before, "malformed"), sflow_count(after, "malformed")
        log(f"/metrics sflow datagrams ok {ok_before:.0f} -> {ok_after:.0f}, "
            f"malformed {bad_before:.0f} -> {bad_after:.0f}")
        if ok_after <= 0:
            fail("no well-formed sFlow datagram counted")
        if bad_after - bad_before < 3:  # the empty datagram may not count as received
            fail(f"garbage not counted as malformed: {bad_before} -> {bad_after}")
        rpc = re.search(r'pulse_rpc_latency_seconds_count\{method="/pulse.v1.LinkService/ListLinks"\}'
                        r' (\S+)', after)
        log(f"/metrics ListLinks calls timed: {rpc.group(1) if rpc else None}")
        if not rpc or float(rpc.group(1)) < 1:
            fail("pulse_rpc_latency_seconds has no ListLinks call although pulsectl links ran")
        if ctl.proc.poll() is not None:
            fail("the daemon died on garbage sFlow")
        ctl.pulsectl("health")
        print("PASS", flush=True)
    finally:
        lab.stop()
        ctl.cleanup()


if __name__ == "__main__":
    main()
