"""Issue 14: host-steered placement on a fabric that holds no per-flow state.

A 4 spine x 4 leaf x 4 host Mininet leaf-spine (Open vSwitch, links capped with TCLink so the
fabric, not the CPU, sets the rate) driven by pulse-controller with `placement: {enforcement:
steer}`. A cross-leaf permutation job is placed; Pulse answers with a UDP source port per flow.

1. No per-flow rule: no switch holds a pin (ovs-ofctl dump-flows), only destination rules and the
   multipath/fast-failover ECMP tables.
2. Every flow takes its planned spine: each host sends RoCEv2-shaped UDP (destination port 4791)
   from its assigned port (iperf3 --cport); the leaves' uplink counters show traffic on exactly
   the planned uplinks (the permutation puts one flow on each used uplink, so the counters name
   each flow's spine).
3. Steering beats hashing: the same flows from random source ports (plain ECMP) in the same run;
   the combined throughput ratio is printed and must be above 1.
4. A link cut under steered traffic: WatchEvents carries the affected flows' new ports (JOB_MOVED
   port_changes) within 100 ms of the controller's LINK_DOWN; a sender restarted on its new port
   crosses a surviving spine; flows that did not cross the cut keep their ports.
Run with /usr/bin/python3 as root, under the network lock. Bounded to about 90 s.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_net import (capped_intent, controlled_lab, ensure_datapath_send_buffer,  # noqa: E402
                       log, poll, watchdog)

LINK_MBPS = 10
FLOW_RATE = "9M"
SECONDS = 6
ROCE_PORT = 4791
PIN_PRIORITY = 300


def write_permutation_job(tmp, hosts_by_leaf):
    """A cross-leaf permutation: host i of leaf l sends to host i of leaf l+1 (a different spine
    per host under a non-blocking placement)."""
    flows = []
    leaves = sorted(hosts_by_leaf)
    for li, leaf in enumerate(leaves):
        nxt = leaves[(li + 1) % len(leaves)]
        for i, src in enumerate(hosts_by_leaf[leaf]):
            flows.append((src, hosts_by_leaf[nxt][i]))
    lines = ["id: perm", "pattern: explicit", "enforcement: steer", f"rate: {LINK_MBPS}M",
             "endpoints:"]
    lines += [f"  - {nic}" for leaf in leaves for nic in hosts_by_leaf[leaf]]
    lines.append("flows:")
    lines += [f"  - {{src: {s}, dst: {d}}}" for s, d in flows]
    path = os.path.join(tmp, "perm.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class HostSteering(unittest.TestCase):

    def setUp(self):
        watchdog(self, 240)
        self.tmp = tempfile.mkdtemp(prefix="pulse-steer-")
        intent = capped_intent(self.tmp, LINK_MBPS, "leaf-spine-4x4x4.yaml")
        # One congested port must not stall the others (the ECMP run congests some): see
        # ensure_datapath_send_buffer.
        ensure_datapath_send_buffer(self, 8 << 20)
        self.ctl, self.lab = controlled_lab(self, intent, bw_mbps=LINK_MBPS,
                                            extra={"placement": "{enforcement: steer}",
                                                   # no congestion moves: ports change only
                                                   # through the cut below
                                                   "telemetry": "{enabled: false}"})
        self.leaf_of_nic = {nic: leaf for nic, (leaf, _) in self.lab.nic_ports().items()}
        hosts_by_leaf = {}
        for nic, leaf in sorted(self.leaf_of_nic.items()):
            hosts_by_leaf.setdefault(leaf, []).append(nic)
        job = write_permutation_job(self.tmp, hosts_by_leaf)
        self.ctl.pulsectl("jobs", "place", "-f", job)
        self.steering = self.read_steering()

    def read_steering(self):
        return json.loads(self.ctl.pulsectl("jobs", "steering", "perm", "--format", "json"))

    def planned_uplinks(self, job):
        """{(leaf, spine)} crossed by the job's flows, from GetJob's hop lists."""
        used = set()
        for flow in job["job"]["flows"]:
            hops = [h["switchName"] for h in flow["hops"]]
            if len(hops) == 3:
                used.add((hops[0], hops[1]))
        return used

    def run_flows(self, flows, ports):
        """One UDP iperf3 per flow (dst port 4791, source port ports[i]) at once; returns the
        receivers' summed bits/s."""
        servers, clients = [], []
        for flow in flows:
            dst = self.lab.host_of_nic(flow["dst"])
            servers.append(dst.popen(["iperf3", "-s", "-1", "-p", str(ROCE_PORT), "-J"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(0.7)
        for flow, port in zip(flows, ports):
            src = self.lab.host_of_nic(flow["src"])
            clients.append(src.popen(
                ["iperf3", "-c", flow["dstIp"], "-p", str(ROCE_PORT), "-u", "-b", FLOW_RATE,
                 "-l", "1200", "--cport", str(port), "-t", str(SECONDS), "-J"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        total = 0.0
        for client in clients:
            try:
                out, _ = client.communicate(timeout=SECONDS + 30)
            except subprocess.TimeoutExpired:
                client.kill()
                out, _ = client.communicate()
                log(f"an iperf3 client did not finish in {SECONDS + 30} s")
            data = json.loads(out) if out.strip().startswith("{") else {}
            end = data.get("end", {})
            total += float((end.get("sum_received") or end.get("sum") or {}).get(
                "bits_per_second", 0.0))
        for server in servers:
            server.kill()
            server.communicate()
        return total

    def run_steered_on_plan(self, flows, name):
        """Runs the job's flows from their assigned ports and asserts that exactly its planned
        uplinks (one flow each) carried traffic. Returns (GetJob, planned uplinks, bits/s)."""
        job = json.loads(self.ctl.pulsectl("--json", "jobs", "show", "perm"))
        planned = self.planned_uplinks(job)
        self.assertEqual(len(planned), 16, planned)
        before = self.lab.uplink_tx()
        bps = self.run_flows(flows, [f["udpSrcPort"] for f in flows])
        after = self.lab.uplink_tx()
        carried = {k for k in after if after[k] - before.get(k, 0) > SECONDS * 1e6 / 8 * 0.5}
        log(f"{name}: {bps / 1e6:.1f} Mbit/s; {len(carried & planned)} of {len(planned)} planned "
            f"uplinks carried their flow, {len(carried - planned)} unplanned uplinks carried traffic")
        self.assertEqual(carried, planned, "uplinks that carried traffic differ from the plan")
        return job, planned, bps

    def test_steered_permutation_holds_without_per_flow_rules(self):
        flows = [f for f in self.steering["flows"]]
        self.assertTrue(self.steering["steered"])
        self.assertEqual(len(flows), 16)
        for f in flows:
            self.assertGreaterEqual(f["udpSrcPort"], 49152, f)
            self.assertEqual(f["udpDstPort"], ROCE_PORT)

        # 1. No per-flow rule anywhere.
        first_leaf = self.lab.switch_names("leaf")[0]

        def no_pins_and_groups_installed():
            pins = sum(f"priority={PIN_PRIORITY}" in line
                       for sw in self.lab.fabric["switches"]
                       for line in self.lab.dump_flows(sw["name"]))
            multipath = sum("multipath" in line for line in self.lab.dump_flows(first_leaf))
            return pins == 0 and multipath > 0
        self.assertTrue(poll(no_pins_and_groups_installed, 10),
                        "pins present or ECMP tables missing:\n" +
                        "\n".join(self.lab.dump_flows(first_leaf)))

        # 2. Steered: traffic on exactly the planned uplinks.
        job, planned, steered_bps = self.run_steered_on_plan(flows, "steered")

        # 3. Plain ECMP: the same flows from random source ports.
        log("ECMP: the same flows from random source ports")
        rng = random.Random(20261203)
        random_ports = [rng.randrange(49152, 65536) for _ in flows]
        hashed_bps = self.run_flows(flows, random_ports)
        ratio = steered_bps / max(hashed_bps, 1.0)
        log(f"ECMP with random ports: {hashed_bps / 1e6:.1f} Mbit/s; steered/ECMP = {ratio:.2f}")
        self.assertGreater(steered_bps, 0.85 * len(flows) * 9e6)
        self.assertGreater(ratio, 1.0)

        # 4. A link cut: new ports announced, senders follow, others keep theirs.
        leaf, spine = sorted(planned)[0]
        affected = [f for f in job["job"]["flows"]
                    if [h["switchName"] for h in f["hops"]][:2] == [leaf, spine]]
        self.assertEqual(len(affected), 1)
        watch = subprocess.Popen(
            [self.ctl_pulsectl_path(), "--server", self.ctl.api, "--insecure", "--json", "watch",
             "--count", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the stream is live (no --from): let it subscribe before the cut
        old_ports = {(f["src"], f["dst"], f["subflow"]): f["udpSrcPort"]
                     for f in self.read_steering()["flows"]}
        self.lab.set_link(leaf, spine, False)
        out, err = watch.communicate(timeout=20)
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        types = [e.get("type") for e in events]
        self.assertIn("EVENT_TYPE_LINK_DOWN", types, out + err)
        self.assertIn("EVENT_TYPE_JOB_MOVED", types, out + err)
        down = next(e for e in events if e["type"] == "EVENT_TYPE_LINK_DOWN")
        moved = next(e for e in events if e["type"] == "EVENT_TYPE_JOB_MOVED")
        delay_ms = int(moved["timeUnixMs"]) - int(down["timeUnixMs"])
        log(f"port changes announced {delay_ms} ms after LINK_DOWN: {moved.get('portChanges')}")
        self.assertLessEqual(abs(delay_ms), 100)
        changes = moved.get("portChanges", [])
        self.assertGreaterEqual(len(changes), 1)
        steering_after = self.read_steering()
        changed_keys = set()
        for f in steering_after["flows"]:
            key = (f["src"], f["dst"], f["subflow"])
            if f["udpSrcPort"] != old_ports[key]:
                changed_keys.add(key)
                self.assertIn(f["flowIndex"], [c["flowIndex"] for c in changes])
        # The flow on the cut link moved to another spine (its port changed unless the old one
        # happens to steer the new path as well).
        job_after = json.loads(self.ctl.pulsectl("--json", "jobs", "show", "perm"))
        moved_hops = [[h["switchName"] for h in f["hops"]] for f in job_after["job"]["flows"]
                      if f["src"] == affected[0]["src"] and f["dst"] == affected[0]["dst"]]
        self.assertEqual(len(moved_hops), 1)
        self.assertNotEqual(moved_hops[0][:2], [leaf, spine], moved_hops)
        self.assertGreaterEqual(moved.get("flowsMoved", 0), 1, moved)
        log(f"{len(changed_keys)} of {len(flows)} flows changed ports")
        # Only flows leaving or entering the cut link's leaf hash through a changed group (Open
        # vSwitch renumbers a group's slots when a member goes); every other flow keeps its port.
        leaf_nics = {nic for nic, l in self.leaf_of_nic.items() if l == leaf}
        for key in changed_keys:
            self.assertTrue(key[0] in leaf_nics or key[1] in leaf_nics, key)
        kept = [f for f in steering_after["flows"]
                if f["src"] not in leaf_nics and f["dst"] not in leaf_nics]
        self.assertGreater(len(kept), 0)
        for f in kept:
            self.assertEqual(f["udpSrcPort"], old_ports[(f["src"], f["dst"], f["subflow"])], f)
        # The affected sender follows its new port: traffic leaves its leaf on another spine.
        moved_flow = next(f for f in steering_after["flows"]
                          if f["src"] == affected[0]["src"] and f["dst"] == affected[0]["dst"])
        before = self.lab.uplink_tx()
        self.run_flows([moved_flow], [moved_flow["udpSrcPort"]])
        after = self.lab.uplink_tx()
        grew = {k for k in after if after[k] - before.get(k, 0) > SECONDS * 1e6 / 8 * 0.5}
        self.assertEqual(len([k for k in grew if k[0] == leaf]), 1, grew)
        self.assertNotIn((leaf, spine), grew)

    def ctl_pulsectl_path(self):
        from pulse_net import binary
        return binary("pulsectl")


if __name__ == "__main__":
    unittest.main(verbosity=2)
