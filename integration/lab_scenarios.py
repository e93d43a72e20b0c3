"""Shared steps of the Mininet scenarios: each asserts on the switches and the traffic.

Run by the scenario scripts and the main job with /usr/bin/python3 as root.
"""

import json
import os
import time

from pulse_net import export_fabric, iperf3_pair, log, switch_names

LAB = os.path.join(os.environ.get("PULSE_SOURCE_DIR", "."), "examples", "leaf-spine.yaml")
PAIR_JOB = os.path.join(os.environ.get("PULSE_SOURCE_DIR", "."), "examples", "jobs",
                        "lab-pair.yaml")


def wait_discovery(ctl, timeout_s=30):
    """Polls GetDiscovery until discovery has judged the switches connected now; returns the JSON
    report. A verdict counts once two probe rounds ran after the first poll: the round that
    judges also sends the probe the next one hears, so a verdict formed just after the switches
    connected (a slow lab start) can predate their LLDP."""
    deadline = time.time() + timeout_s
    report = {}
    first_round = None
    while time.time() < deadline:
        out = ctl.pulsectl("--json", "discovery", check=False)
        if out.strip().startswith("{"):
            report = json.loads(out)
            rounds = report.get("probeRounds", 0)
            if first_round is None:
                first_round = rounds
            if rounds >= max(3, first_round + 2) and report.get("description", ""):
                return report
        time.sleep(1)
    return report


def pingall_loss(lab):
    return lab.net.pingAll(timeout=1)


def place_pair_job(ctl):
    """Places examples/jobs/lab-pair.yaml; returns the planned spine and the job JSON."""
    ctl.pulsectl("jobs", "place", "-f", PAIR_JOB)
    job = json.loads(ctl.pulsectl("--json", "jobs", "show", "lab-pair"))
    flows = job.get("job", job).get("flows", [])
    assert len(flows) == 1, f"expected one flow, got {job}"
    spine_names = set(switch_names(export_fabric(ctl.intent_path), "spine"))
    spines = [h["switchName"] for h in flows[0]["hops"] if h["switchName"] in spine_names]
    assert len(spines) == 1, f"a cross-leaf flow crosses exactly one spine: {flows[0]}"
    return spines[0], flows[0]


def spine_tx_towards(lab, spine, leaf):
    ports = lab.switch_ports_to(spine, leaf)
    tx = lab.port_tx_bytes(spine)
    return sum(tx.get(p, 0) for p in ports)


def traffic_follows_plan(lab, planned_spine, seconds=4):
    """Runs iperf3 server-0 -> server-4 and returns (bits/s, {spine: bytes towards leaf-2})."""
    spines = lab.switch_names("spine")
    before = {s: spine_tx_towards(lab, s, "leaf-2") for s in spines}
    bps = iperf3_pair(lab, "h1", "h5", seconds=seconds)
    time.sleep(1.5)  # let the switches' counters settle
    after = {s: spine_tx_towards(lab, s, "leaf-2") for s in spines}
    delta = {s: after[s] - before[s] for s in spines}
    log(f"iperf3 h1->h5 {bps / 1e6:.1f} Mbit/s; bytes towards leaf-2: {delta}; "
        f"planned {planned_spine}")
    return bps, delta


def pin_rules(lab, switch):
    return [f for f in lab.dump_flows(switch) if "priority=300" in f]
