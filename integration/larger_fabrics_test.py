"""Scenario 2 of issue 4 on the other example fabrics: a 4 x 4 x 4 leaf-spine and a
rail-optimized fabric (two NICs per server, one per rail). For each, the controller drives a
Mininet lab built from the same intent file: every switch connects, discovery equals the intent,
and pingall between every pair of hosts has 0% loss. Bounded to about a minute per fabric; each
lab is torn down on every exit path. Run with /usr/bin/python3 as root, under the network lock.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab_scenarios import pingall_loss, wait_discovery  # noqa: E402
from pulse_net import SOURCE_DIR, controlled_lab, log, watchdog  # noqa: E402


class LargerFabrics(unittest.TestCase):

    def pingall_on(self, intent_name):
        intent = os.path.join(SOURCE_DIR, "examples", intent_name)
        started = time.time()
        watchdog(self, 80)
        ctl, lab = controlled_lab(self, intent)
        report = wait_discovery(ctl, timeout_s=40)
        self.assertTrue(report.get("matchesIntent"), report)
        n_links = sum(1 for l in lab.fabric["links"] if not lab.is_host(l["a"]))
        self.assertEqual(len(report.get("observed", [])), n_links, report)
        loss = pingall_loss(lab)
        log(f"{intent_name}: {len(lab.fabric['switches'])} switches, "
            f"{len(lab.fabric['hosts'])} hosts, {n_links} fabric links; pingall loss {loss}% "
            f"({time.time() - started:.0f} s from controller start)")
        self.assertEqual(loss, 0.0)

    def test_leaf_spine_4x4x4(self):
        self.pingall_on("leaf-spine-4x4x4.yaml")

    def test_rail_optimized(self):
        self.pingall_on("rail-optimized.yaml")


if __name__ == "__main__":
    unittest.main(verbosity=2)
