"""Issue 15: predicted against measured bandwidth, per run, on a real (emulated) fabric.

A 4 spine x 4 leaf x 4 host Mininet leaf-spine, every link capped at 20 Mbit/s with TCLink (htb),
driven by pulse-controller with steered placement (the switches keep plain ECMP; each flow's UDP
source port makes their hash follow its planned path). One cross-leaf permutation job at line
rate over every host (16 flows).

Two runs of the same flows, one UDP iperf3 per planned flow (destination port 4791, jumbo
datagrams, sent a little above line rate so the fabric, not the sender, sets the rate):
1. Pulse: each flow from the source port Pulse assigned (its planned path).
2. ECMP: each flow from a random source port; the switches' own hashing picks the spines. The paths
   really taken are read from the source leaves with ofproto/trace (and checked against the
   leaves' uplink counters afterwards).
For each run the fluid model (pulse-predict, the controller's flow_sim) is given the paths the
traffic took; the test prints predicted and measured fractions of line rate per flow and for the
job (delivered = mean over flows; bus bandwidth = the slowest flow, as a stage ends with it) and
asserts that every flow's measured fraction and the job's are within 0.05 of the prediction.
The emulated switches share a congested port fairly between flows (one htb class per flow: the
stand-in for RoCE's congestion control, which the max-min fair model assumes), and their shared
send buffer is sized so one congested port never stalls the others (fair_switch_queues,
pulse_net.ensure_datapath_send_buffer). Measured rates are
iperf3's received payload converted to bytes on the wire (the htb cap counts Ethernet frames).

The daemon's own measurement (item 1 of the issue: port counters -> per-job delivered fraction,
GetJob fields 260-267 and /metrics) is sampled during each run and must agree with iperf3's within
0.05 as well. Run with /usr/bin/python3 as root under the network lock; about 60 s.
"""

import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_net import (binary, capped_intent, controlled_lab,  # noqa: E402
                       ensure_datapath_send_buffer, log, metric_value, poll, run, watchdog)

LINK_MBPS = 20
LINE_BPS = LINK_MBPS * 1e6
# Jumbo frames (MTU 9000 on every interface of the lab): a sixth of the packets of 1500-byte
# frames for the same rate, so the userspace switches need a sixth of the CPU.
MTU = int(os.environ.get("PULSE_BW_MTU", "9000"))
PAYLOAD = MTU - 100
WIRE_PER_PAYLOAD = (PAYLOAD + 8 + 20 + 14) / PAYLOAD  # UDP + IPv4 + Ethernet headers
SEND_RATE = "20M"  # payload bits/s: a little above line rate on the wire
SECONDS = 8
ROCE_PORT = 4791
TOLERANCE = 0.05
SEED = int(os.environ.get("PULSE_BW_SEED", "15"))
# The job spans this many hosts of each leaf: 4 is every host (16 flows). Fewer once starved
# flows here; the cause was the datapath's shared send buffer (ensure_datapath_send_buffer), not
# the CPU.
HOSTS_PER_LEAF = int(os.environ.get("PULSE_BW_HOSTS_PER_LEAF", "4"))
# Frames a flow's queue on a switch port holds (see fair_switch_queues): 16 jumbo frames are
# 58 ms at 20 Mbit/s.
QUEUE_PACKETS = int(os.environ.get("PULSE_BW_QUEUE_PACKETS", "16"))
# The userspace datapath's shared send buffer (pulse_net.ensure_datapath_send_buffer): room for
# every flow's queue full on each of its hops, several times over.
DATAPATH_SEND_BUFFER = 8 << 20


class MeasuredBandwidth(unittest.TestCase):

    def setUp(self):
        watchdog(self, 280)
        self.tmp = tempfile.mkdtemp(prefix="pulse-bw-")
        self.intent = capped_intent(self.tmp, LINK_MBPS, "leaf-spine-4x4x4.yaml")
        ensure_datapath_send_buffer(self, DATAPATH_SEND_BUFFER)
        self.ctl, self.lab = controlled_lab(self, self.intent, bw_mbps=LINK_MBPS,
                                            extra={"placement": "{enforcement: steer}",
                                                   # measure and export only: no flow moves
                                                   "telemetry": "{enabled: false}"})
        nic_ports = self.lab.nic_ports()
        self.leaf_of_nic = {nic: leaf for nic, (leaf, _) in nic_ports.items()}
        self.leaf_port_of_nic = {nic: port for nic, (_, port) in nic_ports.items()}
        self.host_of_nic = {h["nic"]: h for h in self.lab.fabric["hosts"]}
        self.place_permutation()
        self.raise_switch_priority()
        if MTU != 1500:
            self.set_mtu(MTU)

    def set_mtu(self, mtu):
        """Every link of the lab carries frames of `mtu` bytes: both ends' interfaces, and Open
        vSwitch told to size its receive buffers for them (mtu_request)."""
        switch_names = {sw["name"] for sw in self.lab.fabric["switches"]}
        for link in self.lab.net.links:
            for intf in (link.intf1, link.intf2):
                intf.node.cmd(f"ip link set dev {intf.name} mtu {mtu}")
                if intf.node.name in switch_names:
                    run(["ovs-vsctl", "set", "interface", intf.name, f"mtu_request={mtu}"])

    def fair_switch_queues(self, flows, limit_packets):
        """Every switch port shares its line rate fairly between the job's flows, each in a
        queue of limit_packets frames of its own.

        The prediction is max-min fair sharing, which RoCE's congestion control (DCQCN)
        approximates on a real fabric. UDP senders into one drop-tail FIFO share nothing fairly
        (seen: two colliding flows got 0.004 and 0.61 of line rate). So under TCLink's htb class
        5:1 (the port's line rate) each flow gets a class of an equal share that may borrow up
        to the line rate, matched by its source and destination address; everything else
        (control traffic, ARP) has a class of its own."""
        switch_names = {sw["name"] for sw in self.lab.fabric["switches"]}
        classes = len(flows) + 1
        share = LINK_MBPS / classes
        batch = []
        for link in self.lab.net.links:
            for intf in (link.intf1, link.intf2):
                if intf.node.name not in switch_names:
                    continue
                dev = intf.name
                for minor, flow in enumerate(flows + [None], start=16):
                    batch += [
                        f"class add dev {dev} parent 5:1 classid 5:{minor:x} htb rate "
                        f"{share:.3f}Mbit ceil {LINK_MBPS}Mbit burst 20k cburst 20k",
                        f"qdisc add dev {dev} parent 5:{minor:x} pfifo limit {limit_packets}"]
                    if flow is None:  # the rest: lowest priority, matches everything
                        batch.append(f"filter add dev {dev} parent 5: protocol all prio 9 u32 "
                                     f"match u32 0 0 flowid 5:{minor:x}")
                    else:
                        src = self.host_of_nic[flow["src"]]["ip"]
                        dst = self.host_of_nic[flow["dst"]]["ip"]
                        batch.append(f"filter add dev {dev} parent 5: protocol ip prio 1 u32 "
                                     f"match ip src {src}/32 match ip dst {dst}/32 "
                                     f"flowid 5:{minor:x}")
        path = os.path.join(self.tmp, "fair-queues.tc")
        with open(path, "w") as f:
            f.write("\n".join(batch) + "\n")
        run(["tc", "-batch", path])

    def raise_switch_priority(self):
        """The machine's 2 cores are shared with other work (compilers at nice 0): for the few
        seconds of traffic, Open vSwitch's threads (the userspace datapath forwards in them) and
        the kernel's ksoftirqd threads run at nice -10, and the old values come back when the test ends, so the 20 Mbit/s caps and
        not the CPU set the rates. The iperf3 processes run at nice -10 as well."""
        pid = run("pidof ovs-vswitchd", check=False).split()
        if not pid:
            return
        tasks = os.listdir(f"/proc/{pid[0]}/task")
        # The kernel's softirq threads move the packets between veth pairs when the senders'
        # own contexts do not get to it.
        tasks += run("pgrep ksoftirqd", check=False).split()
        old = {t: os.getpriority(os.PRIO_PROCESS, int(t)) for t in tasks}
        for t in tasks:
            os.setpriority(os.PRIO_PROCESS, int(t), -10)

        def restore():
            for t, nice in old.items():
                try:
                    os.setpriority(os.PRIO_PROCESS, int(t), nice)
                except OSError:
                    pass  # the thread is gone
        self.addCleanup(restore)

    def place_permutation(self):
        """A random cross-leaf permutation (seeded): every NIC sends to one NIC on another leaf
        and receives from one."""
        by_leaf = {}
        for nic in sorted(self.leaf_of_nic):
            by_leaf.setdefault(self.leaf_of_nic[nic], []).append(nic)
        nics = sorted(n for leaf_nics in by_leaf.values() for n in leaf_nics[:HOSTS_PER_LEAF])
        rng = random.Random(SEED)
        while True:
            dsts = nics[:]
            rng.shuffle(dsts)
            if all(self.leaf_of_nic[s] != self.leaf_of_nic[d] for s, d in zip(nics, dsts)):
                break
        lines = ["id: perm", "pattern: explicit", "enforcement: steer", f"rate: {LINK_MBPS}M",
                 "endpoints:"] + [f"  - {n}" for n in nics] + ["flows:"]
        lines += [f"  - {{src: {s}, dst: {d}}}" for s, d in zip(nics, dsts)]
        path = os.path.join(self.tmp, "perm.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.ctl.pulsectl("jobs", "place", "-f", path)

    def job(self):
        return json.loads(self.ctl.pulsectl("--json", "jobs", "show", "perm"))["job"]

    def steering(self):
        return json.loads(self.ctl.pulsectl("jobs", "steering", "perm", "--format", "json"))

    def spine_of_port(self, leaf, port):
        for spine in self.lab.switch_names("spine"):
            if port in self.lab.switch_ports_to(leaf, spine):
                return spine
        return None

    def traced_spine(self, flow, udp_src):
        """The spine the source leaf's tables send this flow to (ofproto/trace, no traffic)."""
        leaf = self.leaf_of_nic[flow["src"]]
        src, dst = self.host_of_nic[flow["src"]], self.host_of_nic[flow["dst"]]
        fields = [f"in_port={self.leaf_port_of_nic[flow['src']]}"]
        if src.get("mac") and dst.get("mac"):
            fields += [f"dl_src={src['mac']}", f"dl_dst={dst['mac']}"]
        fields += ["dl_type=0x0800", "nw_proto=17", f"nw_src={src['ip']}", f"nw_dst={dst['ip']}",
                   f"udp_src={udp_src}", f"udp_dst={ROCE_PORT}"]
        out = run(["ovs-appctl", "ofproto/trace", leaf, ",".join(fields)])
        outputs = re.findall(r"output:(\d+)", out)
        self.assertTrue(outputs, f"trace of {flow['src']} -> {flow['dst']} found no output:\n{out}")
        spine = self.spine_of_port(leaf, int(outputs[-1]))
        self.assertIsNotNone(spine, f"trace ends on port {outputs[-1]} of {leaf}, not an uplink")
        return spine

    def predict(self, flows, spines):
        """pulse-predict on the paths src NIC > src leaf > spine > dst leaf > dst NIC."""
        path = os.path.join(self.tmp, "flows.txt")
        with open(path, "w") as f:
            for flow, spine in zip(flows, spines):
                f.write(f"{LINE_BPS:.0f} {flow['src']} {self.leaf_of_nic[flow['src']]} {spine} "
                        f"{self.leaf_of_nic[flow['dst']]} {flow['dst']}\n")
        return json.loads(run([binary("pulse-predict"), "--fabric", self.intent, "--flows", path]))

    def uplinks_carrying(self, before, after):
        grew = set()
        for (leaf, spine), b in after.items():
            if b - before.get((leaf, spine), 0) > SECONDS * LINE_BPS / 8 * 0.2:
                grew.add((leaf, spine))
        return grew

    def start_server(self, flow):
        return self.lab.host_of_nic(flow["dst"]).popen(
            ["nice", "-n", "-10", "iperf3", "-s", "-1", "-p", str(ROCE_PORT), "-J"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def start_client(self, flow, port):
        return self.lab.host_of_nic(flow["src"]).popen(
            ["nice", "-n", "-10", "iperf3", "-c", self.host_of_nic[flow["dst"]]["ip"], "-p",
             str(ROCE_PORT), "-u", "-b", SEND_RATE, "-l", str(PAYLOAD), "--cport", str(port),
             "-t", str(SECONDS + 8), "-J"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def start_flows(self, flows, ports):
        """An iperf3 server on every destination, then every client at once. iperf3's UDP
        handshake is one datagram on the flow's own 5-tuple, never retried: a client started
        while earlier flows already fill a link it shares (ECMP collisions do exactly that) loses
        it in the full queue and never sends. Started together, every handshake crosses the
        fabric before any queue has built up. Returns [(server, client)]."""
        servers = [self.start_server(flow) for flow in flows]
        time.sleep(0.5)
        return [(server, self.start_client(flow, port))
                for server, flow, port in zip(servers, flows, ports)]

    def delivered_tx(self, flows):
        """Bytes each flow's destination leaf has sent to its destination host (wire bytes)."""
        by_leaf = {}
        out = []
        for flow in flows:
            leaf = self.leaf_of_nic[flow["dst"]]
            if leaf not in by_leaf:
                by_leaf[leaf] = self.lab.port_tx_bytes(leaf)
            out.append(by_leaf[leaf].get(self.leaf_port_of_nic[flow["dst"]], 0))
        return out

    def run_flows(self, flows, ports):
        """One UDP iperf3 per flow at once (a client whose start-up handshake was lost, which
        happens on a starved machine, is started again at once). Returns (per-flow fraction of
        line rate delivered to the destination NIC over the middle of the run, from the
        destination leaves' port counters; iperf3's received payload rate as a fraction of line
        rate on the wire; the daemon's job samples taken in the same window)."""
        start_tx = self.delivered_tx(flows)
        pairs = self.start_flows(flows, ports)
        time.sleep(1.5)
        for i, (server, client) in enumerate(pairs):
            if client.poll() is not None:  # ended already: its handshake failed
                out, _ = client.communicate()
                log(f"iperf3 {flows[i]['src']} -> {flows[i]['dst']} failed to start "
                    f"({out[-160:]!r}); started again")
                server.kill()
                server.communicate()
                server = self.start_server(flows[i])
                time.sleep(0.3)
                pairs[i] = (server, self.start_client(flows[i], ports[i]))
        # On a loaded machine a client's start-up handshakes can take seconds: the window opens
        # once every destination port has seen its flow's traffic (and a second more to settle).
        deadline = time.time() + 10
        while time.time() < deadline:
            now_tx = self.delivered_tx(flows)
            waiting = [f["dst"] for f, a, b in zip(flows, start_tx, now_tx) if b - a < 50000]
            if not waiting:
                break
            time.sleep(0.5)
        if waiting:
            log(f"flows to {waiting} had not started after 10 s")
        time.sleep(1.0)
        # The window: every flow running, rates settled; the daemon's 1 s counters read in it.
        t0, c0 = time.time(), self.delivered_tx(flows)
        samples = []
        for _ in range(3):
            time.sleep(1.2)
            job = self.job()
            if job.get("bandwidthMeasured"):
                samples.append((job.get("measuredBusbwFraction", 0.0),
                                job.get("deliveredFraction", 0.0)))
        t1, c1 = time.time(), self.delivered_tx(flows)
        delivered = [(b - a) * 8 / (t1 - t0) / LINE_BPS for a, b in zip(c0, c1)]
        fractions = []
        for server, client in pairs:
            try:
                out, _ = client.communicate(timeout=SECONDS + 40)
            except subprocess.TimeoutExpired:
                client.kill()
                out, _ = client.communicate()
            data = json.loads(out) if out.strip().startswith("{") else {}
            if data.get("error") or not data:
                log(f"iperf3 client: {data.get('error') or out[-300:]!r}")
            received = float((data.get("end", {}).get("sum_received") or {}).get(
                "bits_per_second", 0.0))
            fractions.append(received * WIRE_PER_PAYLOAD / LINE_BPS)
            server.kill()
            server.communicate()
        return delivered, fractions, samples

    def check_run(self, name, flows, ports, spines):
        predicted = self.predict(flows, spines)
        log(f"{name}: machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        before, started = self.lab.uplink_tx(), time.time()
        measured, iperf, daemon = self.run_flows(flows, ports)
        after, elapsed = self.lab.uplink_tx(), time.time() - started
        planned_uplinks = {(self.leaf_of_nic[f["src"]], s) for f, s in zip(flows, spines)}
        carried = self.uplinks_carrying(before, after)
        log(f"{name}: uplink Mbit/s over the {elapsed:.0f} s run: " + ", ".join(
            f"{l}>{s} {(after[(l, s)] - before.get((l, s), 0)) * 8 / elapsed / 1e6:.1f}"
            for l, s in sorted(after) if after[(l, s)] - before.get((l, s), 0) > 1e5))
        log(f"{name}: flow  predicted  measured (switch counters)  iperf3 average  (fractions of "
            f"{LINK_MBPS} Mbit/s line rate)")
        for flow, spine, p, m, i in zip(flows, spines, predicted["flow_fractions"], measured,
                                        iperf):
            log(f"{name}:   {flow['src']} -> {flow['dst']} via {spine}: {p:.3f}  {m:.3f}  {i:.3f}")
        job_pred_bus = predicted["busbw_fraction"]
        job_pred_delivered = statistics.mean(predicted["flow_fractions"])
        job_bus, job_delivered = min(measured), statistics.mean(measured)
        daemon_bus = statistics.median([s[0] for s in daemon]) if daemon else float("nan")
        daemon_delivered = statistics.median([s[1] for s in daemon]) if daemon else float("nan")
        flow_errors = [abs(p - m) for p, m in zip(predicted["flow_fractions"], measured)]
        log(f"{name}: job bus bandwidth predicted {job_pred_bus:.3f}, measured {job_bus:.3f} "
            f"(switch counters), {min(iperf):.3f} (iperf3), {daemon_bus:.3f} (daemon, samples {[round(s[0], 3) for s in daemon]})")
        log(f"{name}: job delivered   predicted {job_pred_delivered:.3f}, measured "
            f"{job_delivered:.3f} (switch counters), {statistics.mean(iperf):.3f} (iperf3), {daemon_delivered:.3f} (daemon, samples "
            f"{[round(s[1], 3) for s in daemon]})")
        log(f"{name}: per-flow |predicted - measured|: max {max(flow_errors):.3f}, mean "
            f"{statistics.mean(flow_errors):.3f}; {sum(e <= TOLERANCE for e in flow_errors)} of "
            f"{len(flow_errors)} within {TOLERANCE}")
        # Checked after both runs (test method), so one run's numbers never hide the other's.
        with self.subTest(run=name):
            self.assertEqual(carried, planned_uplinks,
                             f"{name}: the uplinks that carried traffic are not the predicted ones")
            self.assertTrue(daemon, f"{name}: the daemon measured nothing")
            self.assertLessEqual(max(flow_errors), TOLERANCE,
                                 f"{name}: a flow's measured fraction against its prediction")
            self.assertLessEqual(abs(job_bus - job_pred_bus), TOLERANCE,
                                 f"{name}: bus bandwidth, measured against the prediction")
            self.assertLessEqual(abs(job_delivered - job_pred_delivered), TOLERANCE,
                                 f"{name}: delivered, measured against the prediction")
            self.assertLessEqual(abs(daemon_bus - job_bus), TOLERANCE,
                                 f"{name}: bus bandwidth, the daemon against the counters")
            self.assertLessEqual(abs(daemon_delivered - job_delivered), TOLERANCE,
                                 f"{name}: delivered, the daemon against the counters")
        return job_pred_bus, job_bus

    def test_predicted_and_measured_agree_under_pulse_and_under_ecmp(self):
        job = self.job()
        self.assertTrue(job.get("bandwidthPredicted"), job)
        by_pair = {(f["src"], f["dst"]): f for f in job["flows"]}
        flows = [f for f in self.steering()["flows"]]
        self.assertEqual(len(flows), 4 * HOSTS_PER_LEAF)
        planned_spines = [[h["switchName"] for h in by_pair[(f["src"], f["dst"])]["hops"]][1]
                          for f in flows]
        pulse_ports = [f["udpSrcPort"] for f in flows]
        self.fair_switch_queues(flows, QUEUE_PACKETS)
        # The switches' hashing follows the plan: the trace of each assigned port names its spine.
        self.assertEqual([self.traced_spine(f, p) for f, p in zip(flows, pulse_ports)],
                         planned_spines)
        log(f"daemon prediction at placement: Pulse {job.get('predictedBusbwFraction', 0):.3f}, "
            f"ECMP with {job.get('ecmpQps')} QPs {job.get('ecmpBusbwFraction', 0):.3f} (mean of "
            "random draws; the ECMP run below is one draw with 1 QP, predicted on its own paths)")
        pred, meas = self.check_run("pulse", flows, pulse_ports, planned_spines)
        self.assertAlmostEqual(pred, job.get("predictedBusbwFraction", 0), delta=1e-6)

        # /metrics carries the job's gauges.
        self.assertTrue(poll(lambda: metric_value(self.ctl, "pulse_job_measured_busbw_fraction",
                                                  {"job": "perm"}) > 0, 5))
        self.assertGreater(metric_value(self.ctl, "pulse_job_predicted_busbw_fraction",
                                        {"job": "perm"}), 0.99)

        rng = random.Random(SEED * 7919)
        random_ports = [rng.randrange(49152, 65536) for _ in flows]
        ecmp_spines = [self.traced_spine(f, p) for f, p in zip(flows, random_ports)]
        self.check_run("ecmp", flows, random_ports, ecmp_spines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
