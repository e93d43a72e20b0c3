"""Issue 14: the path oracle with the real daemon, on a fabric whose hash is declared nowhere.

The 4 spine x 4 leaf x 4 host Mininet leaf-spine of host_steering_test (Open vSwitch, links capped
with TCLink), whose intent names no ECMP hash model, driven by pulse-controller with `placement:
{enforcement: steer}` and `oracle: {enabled: true}`. Nothing tells Pulse how the switches hash:

1. A cross-leaf permutation is placed with `steer`. Its flows start pinned (no model yet); the
   oracle learns the leaves' source-port-to-uplink tables for the job's pairs on its own (probes
   injected by packet-out and caught on the next hop) and the job is re-steered: every flow gets
   a UDP source port, pulse_oracle_switches{state="learned"} covers the leaves, none failed; the
   probes used are printed.
2. No switch then holds a per-flow rule.
3. Each host sends RoCEv2-shaped UDP (destination port 4791) from its assigned port: the leaves'
   uplink counters show traffic on exactly the planned uplinks (one flow per used uplink).
Run with /usr/bin/python3 as root, under the network lock. Bounded to about a minute.
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import host_steering_test  # noqa: E402
from host_steering_test import LINK_MBPS, PIN_PRIORITY, write_permutation_job  # noqa: E402
from pulse_net import (capped_intent, controlled_lab, ensure_datapath_send_buffer,  # noqa: E402
                       log, metric_value, poll, watchdog)


class PathOracleOnMininet(host_steering_test.HostSteering):
    """Reuses HostSteering's traffic and counter helpers; only its own test runs here."""

    test_steered_permutation_holds_without_per_flow_rules = None

    def setUp(self):
        watchdog(self, 240)
        self.tmp = tempfile.mkdtemp(prefix="pulse-oracle-")
        intent = capped_intent(self.tmp, LINK_MBPS, "leaf-spine-4x4x4.yaml")
        with open(intent) as f:
            self.assertNotIn("ecmp_hash", f.read())  # the point: no model declared anywhere
        ensure_datapath_send_buffer(self, 8 << 20)
        self.ctl, self.lab = controlled_lab(self, intent, bw_mbps=LINK_MBPS,
                                            extra={"placement": "{enforcement: steer}",
                                                   "oracle": "{enabled: true}",
                                                   "telemetry": "{enabled: false}"})
        self.leaf_of_nic = {nic: leaf for nic, (leaf, _) in self.lab.nic_ports().items()}

    def oracle_switches(self, state):
        return metric_value(self.ctl, "pulse_oracle_switches", {"state": state})

    def test_learned_tables_steer_a_permutation(self):
        # 1. The job comes first: the oracle learns the tables for the pairs steered jobs use.
        # Until a leaf's table is learned its flows are pinned (port 0); then they get ports.
        hosts_by_leaf = {}
        for nic, leaf in sorted(self.leaf_of_nic.items()):
            hosts_by_leaf.setdefault(leaf, []).append(nic)
        self.ctl.pulsectl("jobs", "place", "-f", write_permutation_job(self.tmp, hosts_by_leaf))

        def all_steered():
            flows = self.read_steering()["flows"]
            return len(flows) == 16 and all(f["udpSrcPort"] > 0 for f in flows)
        self.assertTrue(poll(all_steered, 60), json.dumps(self.read_steering())[:800] + "\n" +
                        self.ctl.log_tail(30))
        leaves = sorted(set(self.leaf_of_nic.values()))
        self.assertGreaterEqual(self.oracle_switches("learned"), len(leaves))
        self.assertEqual(self.oracle_switches("failed"), 0)
        probes = metric_value(self.ctl, "pulse_oracle_probes_total")
        self.assertGreater(probes, 0)
        log(f"oracle: {self.oracle_switches('learned'):.0f} switches learned with {probes:.0f} "
            f"probes ({probes / len(leaves):.0f} per leaf, the only switches with a choice)")
        steering = self.read_steering()
        self.assertTrue(steering["steered"])
        flows = steering["flows"]

        # 2. No per-flow rule once steered.
        def pins():
            return sum(f"priority={PIN_PRIORITY}" in line for sw in self.lab.fabric["switches"]
                       for line in self.lab.dump_flows(sw["name"]))
        self.assertTrue(poll(lambda: pins() == 0, 10), f"{pins()} per-flow rules installed")

        # 3. Traffic from the assigned ports crosses exactly the planned uplinks.
        self.run_steered_on_plan(flows, "steered by learned tables")


if __name__ == "__main__":
    unittest.main(verbosity=2)
