"""The operator's own fabric and addresses (issue 13), on real Open vSwitch and Mininet.

The test builds its fabric from an explicit intent it writes itself: datapath ids that are not
the builders', uplinks on the low port numbers and hosts after them, and host addresses set by
the test (not Mininet's 10.0.0.x defaults):

  tor-1 (0xb1): 1 -> sp-a, 2 -> sp-b, 3 gpu-a, 4 gpu-b
  tor-2 (0xb2): 1 -> sp-a, 2 -> sp-b, 3 gpu-c, 4 gpu-d, 5 spare (a NIC cabled, no host behind)
  sp-a (0xa1), sp-b (0xa2): 1 -> tor-1, 2 -> tor-2

 1. per-leaf plan declared in the intent (10.20.0.0/16, a /24 per leaf): pingall 0%; the spines
    forward by the leaves' prefixes; a job placed by the NICs' addresses runs iperf3 across the
    spine Pulse planned (spine port counters).
 2. no addresses in the intent: every NIC is learned from its ARP, pingall 0% after learning,
    `pulsectl hosts` lists each NIC as learned, and a controller restart keeps them; a host
    re-addressed to another NIC's address raises HOST_CONFLICT and takes nobody's traffic; a
    host moved to the spare port raises HOST_MOVED and is reached there; the others keep
    talking.
Run as root with /usr/bin/python3.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulse_net import (Controller, PulseLab, binary, iperf3_pair, log, poll,  # noqa: E402
                       watchdog)

SERVERS = [("gpu-a", "tor-1", 3), ("gpu-b", "tor-1", 4), ("gpu-c", "tor-2", 3),
           ("gpu-d", "tor-2", 4), ("spare", "tor-2", 5)]


def write_intent(tmp, plan_line):
    lines = ["name: own-fabric",
             "switches:",
             "  - {name: tor-1, role: leaf, dpid: 0xb1}",
             "  - {name: tor-2, role: leaf, dpid: 0xb2}",
             "  - {name: sp-a, role: spine, dpid: 0xa1}",
             "  - {name: sp-b, role: spine, dpid: 0xa2}",
             "servers:"]
    lines += [f"  - {{name: {s}}}" for s, _, _ in SERVERS]
    lines += ["links:"]
    for leaf in ("tor-1", "tor-2"):
        for i, spine in enumerate(("sp-a", "sp-b")):
            lines.append(f'  - {{a: "{leaf}:{i + 1}", b: "{spine}:{leaf[-1]}", speed: 10G}}')
    for s, leaf, port in SERVERS:
        lines.append(f'  - {{a: "{s}/nic-0", b: "{leaf}:{port}", speed: 10G}}')
    if plan_line:
        lines.append(plan_line)
    path = os.path.join(tmp, "own.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def host_of(lab, server):
    return lab.host_of_nic(f"{server}/nic-0")


def ping_loss(lab, hosts):
    return lab.net.ping(hosts=hosts, timeout=1)


def pingall_until_clean(lab, hosts, rounds=4):
    loss = 100.0
    for _ in range(rounds):
        loss = ping_loss(lab, hosts)
        if loss == 0:
            break
        time.sleep(1)
    return loss


def hosts_json(ctl):
    return json.loads(ctl.pulsectl("--json", "hosts", "all"))


def by_nic(listing):
    return {h["nic"]: h for h in listing.get("hosts", [])}


def events(ctl, from_sequence):
    """Event types from `from_sequence` on (the ring restarts above its mark after a restart)."""
    out = ctl.pulsectl("--json", "watch", "--from", str(from_sequence), "--timeout", "2s",
                       check=False)
    return [json.loads(line).get("type") for line in out.splitlines()
            if line.strip().startswith("{")]


def next_event_sequence(ctl):
    topology = json.loads(ctl.pulsectl("--json", "topology"))
    return int(topology.get("topology", topology).get("eventSequence", 0)) + 1


def spine_tx_towards(lab, spine, leaf):
    tx = lab.port_tx_bytes(spine)
    return sum(tx.get(p, 0) for p in lab.switch_ports_to(spine, leaf))


class AddressingTest(unittest.TestCase):
    def start(self, intent):
        ctl = Controller(intent).start()
        self.addCleanup(ctl.cleanup)
        lab = PulseLab(intent, of_port=ctl.of_port)
        self.addCleanup(lab.stop)
        lab.start()
        self.assertTrue(lab.wait_connected(40), "switches did not connect:\n" + ctl.log_tail())
        return ctl, lab

    def test_per_leaf_plan_in_the_intent(self):
        watchdog(self, 150)
        tmp = tempfile.mkdtemp(prefix="pulse-addr-")
        intent = write_intent(tmp, "address_plan: {type: per-leaf, base: 10.20.0.0/16, block: 24}")
        ctl, lab = self.start(intent)
        # The test sets the planned addresses itself, on one /16 (proxy ARP answers across it).
        hosts = []
        for h in lab.fabric["hosts"]:
            node = lab.net.get(h["name"])
            node.setIP(h["ip"], 16)
            node.setMAC(h["mac"])
            hosts.append(node)
        addr = {h["nic"]: h["ip"] for h in lab.fabric["hosts"]}
        self.assertEqual(addr["gpu-a/nic-0"], "10.20.0.1")
        self.assertEqual(addr["gpu-c/nic-0"], "10.20.1.1")
        loss = pingall_until_clean(lab, hosts)
        self.assertEqual(loss, 0, ctl.log_tail())
        # Spines forward by the leaves' /24s, not per NIC.
        for spine in ("sp-a", "sp-b"):
            flows = [f for f in lab.dump_flows(spine) if "nw_dst=" in f]
            log(f"{spine}: {len(flows)} destination rules")
            self.assertTrue(any("nw_dst=10.20.0.0/24" in f for f in flows), flows)
            self.assertTrue(any("nw_dst=10.20.1.0/24" in f for f in flows), flows)
            self.assertEqual(len(flows), 2, flows)
        # A job named by the NICs' addresses; its iperf3 crosses the planned spine.
        job = os.path.join(tmp, "pair.yaml")
        with open(job, "w") as f:
            f.write("id: by-address\npattern: explicit\nendpoints: [10.20.0.1, 10.20.1.1]\n"
                    "flows:\n  - {src: 10.20.0.1, dst: 10.20.1.1}\n")
        ctl.pulsectl("jobs", "place", "-f", job)
        shown = json.loads(ctl.pulsectl("--json", "jobs", "show", "by-address"))
        flows = shown.get("job", shown).get("flows", [])
        spines = [h["switchName"] for h in flows[0]["hops"]
                  if h["switchName"] in lab.switch_names("spine")]
        self.assertEqual(len(spines), 1, flows)
        planned = spines[0]
        other = "sp-b" if planned == "sp-a" else "sp-a"
        time.sleep(1.0)  # pins reach the switches
        before = {s: spine_tx_towards(lab, s, "tor-2") for s in ("sp-a", "sp-b")}
        bps = iperf3_pair(lab, host_of(lab, "gpu-a").name, host_of(lab, "gpu-c").name, seconds=3)
        time.sleep(1.5)
        delta = {s: spine_tx_towards(lab, s, "tor-2") - before[s] for s in ("sp-a", "sp-b")}
        log(f"iperf3 gpu-a -> gpu-c {bps / 1e6:.1f} Mbit/s; bytes towards tor-2 {delta}; "
            f"planned {planned}")
        self.assertGreater(bps, 0)
        self.assertGreater(delta[planned], 1_000_000)
        self.assertLess(delta[other], delta[planned] / 50)

    def test_learned_addresses_restart_conflict_and_move(self):
        watchdog(self, 170)
        tmp = tempfile.mkdtemp(prefix="pulse-addr-")
        intent = write_intent(tmp, None)
        ctl, lab = self.start(intent)
        # Addresses only the hosts know: 10.30.<leaf>.<n>/16 with the test's own MACs.
        plan = {"gpu-a": ("10.30.0.11", "0c:42:a1:00:00:0a"),
                "gpu-b": ("10.30.0.12", "0c:42:a1:00:00:0b"),
                "gpu-c": ("10.30.1.11", "0c:42:a1:00:00:0c"),
                "gpu-d": ("10.30.1.12", "0c:42:a1:00:00:0d")}
        main = []
        for server, (ip, mac) in plan.items():
            h = host_of(lab, server)
            h.setIP(ip, 16)
            h.setMAC(mac)
            main.append(h)
        spare = host_of(lab, "spare")
        spare.cmd(f"ip link set {spare.defaultIntf()} down")
        t0 = time.time()
        loss = pingall_until_clean(lab, main)
        log(f"pingall 0% after learning in {time.time() - t0:.1f} s")
        self.assertEqual(loss, 0, ctl.log_tail())
        listing = by_nic(hosts_json(ctl))
        log(ctl.pulsectl("hosts"))
        for server, (ip, mac) in plan.items():
            h = listing[f"{server}/nic-0"]
            self.assertEqual(h.get("source"), "HOST_SOURCE_LEARNED", h)
            self.assertEqual((h.get("ipv4"), h.get("mac")), (ip, mac), h)
        self.assertEqual(listing["spare/nic-0"].get("source"), "HOST_SOURCE_NONE")
        learned = events(ctl, 1)
        self.assertGreaterEqual(learned.count("EVENT_TYPE_HOST_LEARNED"), 4, learned)

        # A restart keeps what was learned (before any new traffic), and forwarding with it.
        ctl.stop()
        ctl.start()
        self.assertTrue(lab.wait_connected(40))
        listing = by_nic(hosts_json(ctl))
        for server, (ip, _) in plan.items():
            self.assertEqual(listing[f"{server}/nic-0"].get("ipv4"), ip, listing)
        self.assertEqual(pingall_until_clean(lab, main), 0, ctl.log_tail())
        # Jobs by learned addresses.
        job = os.path.join(tmp, "pair.yaml")
        with open(job, "w") as f:
            f.write("id: learned-pair\npattern: explicit\nendpoints: [10.30.0.11, 10.30.1.11]\n"
                    "flows:\n  - {src: 10.30.0.11, dst: 10.30.1.11}\n")
        ctl.pulsectl("jobs", "place", "-f", job)
        shown = json.loads(ctl.pulsectl("--json", "jobs", "show", "learned-pair"))
        self.assertIn("gpu-a/nic-0", json.dumps(shown))
        # Steered jobs hash with the learned addresses (issue 14): ports for gpu-b <-> gpu-d; a
        # steered job with the spare NIC (nothing learned there) is refused naming it.
        steer_job = os.path.join(tmp, "steered.yaml")
        with open(steer_job, "w") as f:
            f.write("id: learned-steered\npattern: explicit\nenforcement: steer\n"
                    "endpoints: [10.30.0.12, 10.30.1.12]\nflows:\n"
                    "  - {src: 10.30.0.12, dst: 10.30.1.12}\n"
                    "  - {src: 10.30.1.12, dst: 10.30.0.12}\n")
        ctl.pulsectl("jobs", "place", "-f", steer_job)
        steering = json.loads(ctl.pulsectl("jobs", "steering", "learned-steered", "--format",
                                           "json"))
        log(f"steered by learned addresses: {steering['flows']}")
        self.assertTrue(steering["steered"])
        for flow in steering["flows"]:
            self.assertGreaterEqual(flow.get("udpSrcPort", 0), 49152, flow)
            self.assertIn(flow["srcIp"], ("10.30.0.12", "10.30.1.12"), flow)
        spare_job = os.path.join(tmp, "spare.yaml")
        with open(spare_job, "w") as f:
            f.write("id: to-spare\npattern: explicit\nenforcement: steer\n"
                    "endpoints: [gpu-a/nic-0, spare/nic-0]\nflows:\n"
                    "  - {src: gpu-a/nic-0, dst: spare/nic-0}\n")
        refused = subprocess.run(
            [binary("pulsectl"), "--server", ctl.api, "--insecure", "jobs", "place", "-f",
             spare_job], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("spare/nic-0", refused.stderr + refused.stdout)
        self.assertIn("no known IPv4 address", refused.stderr + refused.stdout)

        # gpu-b re-addressed to gpu-c's address: a conflict, not served; the others unaffected.
        since = next_event_sequence(ctl)
        gpu_b, gpu_a, gpu_c, gpu_d = (host_of(lab, s) for s in ("gpu-b", "gpu-a", "gpu-c", "gpu-d"))
        gpu_b.setIP("10.30.1.11", 16)
        gpu_b.cmd("ip neigh flush all")  # so it ARPs, claiming the address
        gpu_b.cmd("ping -c 2 -W 1 10.30.0.11")
        conflict = poll(lambda: by_nic(hosts_json(ctl))["gpu-b/nic-0"].get("conflict"), 5)
        log(f"conflict: {conflict}")
        self.assertTrue(conflict)
        self.assertEqual(by_nic(hosts_json(ctl))["gpu-c/nic-0"].get("ipv4"), "10.30.1.11")
        self.assertEqual(ping_loss(lab, [gpu_a, gpu_c]), 0)
        self.assertEqual(ping_loss(lab, [gpu_a, gpu_d]), 0)

        # gpu-d moves to the spare port (same address and MAC): HOST_MOVED, reached there.
        gpu_d.cmd(f"ip link set {gpu_d.defaultIntf()} down")
        spare.setMAC(plan["gpu-d"][1])
        spare.cmd(f"ip link set {spare.defaultIntf()} up")
        spare.setIP(plan["gpu-d"][0], 16)
        spare.cmd("ethtool -K %s tx off >/dev/null 2>&1" % spare.defaultIntf())
        spare.cmd("ping -c 2 -W 1 10.30.0.11")
        moved = poll(lambda: by_nic(hosts_json(ctl))["spare/nic-0"].get("ipv4"), 5)
        self.assertEqual(moved, plan["gpu-d"][0])
        self.assertEqual(ping_loss(lab, [gpu_a, spare]), 0)
        self.assertEqual(ping_loss(lab, [gpu_a, gpu_c]), 0)
        kinds = events(ctl, since)
        log(f"events: {kinds}")
        self.assertIn("EVENT_TYPE_HOST_CONFLICT", kinds)
        self.assertIn("EVENT_TYPE_HOST_MOVED", kinds)
        # gpu-d/nic-0 has no address any more: its steered flows lost their ports (JOB_MOVED).
        self.assertIn("EVENT_TYPE_JOB_MOVED", kinds)
        steering = json.loads(ctl.pulsectl("jobs", "steering", "learned-steered", "--format",
                                           "json"))
        for flow in steering["flows"]:
            self.assertEqual(flow.get("udpSrcPort", 0), 0, flow)


if __name__ == "__main__":
    unittest.main(verbosity=2)
