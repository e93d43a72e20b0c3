#!/usr/bin/python3
"""Lossless QoS on a Mininet leaf-spine through the daemon (issue 5: push, classes, audit, repair).

pulse-controller runs with `qos: {ovsdb: <the machine's ovsdb-server>}` and the built-in RoCE
policy, and is started BEFORE Mininet builds the fabric, so the QoS of every bridge is programmed
when the bridge appears (not only at start-up).

Asserted on the switches and the traffic:
  - every planned port of every bridge gets a linux-htb QoS row with its queues, and the DSCP
    u32 filters on the port's HTB qdisc (ovs-vsctl / tc read back);
  - an iperf3 flow marked DSCP 26 (RoCE, lossless priority 3) and a best-effort flow through the
    same egress port land in different HTB classes: the class of the DSCP 26 filter counts the
    marked flow's bytes, the best-effort flow's bytes go elsewhere (tc -s class show);
  - each flow's iperf3 rate is held to its queue's shaping rate (policy queue_shaping: RoCE queue
    40 Mbit/s, default queue 1 20 Mbit/s), within -25%/+5%;
  - a port's QoS cleared by hand (ovs-vsctl clear port X qos) and its DSCP filters deleted by hand
    (tc filter del) are repaired by the daemon within a few seconds (read back), and its log says so;
  - a QoS row Pulse left behind (its bridge deleted) is deleted, a row that is not Pulse's is kept.
Run as root with /usr/bin/python3; label integration.
"""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pulse_net  # noqa: E402
from pulse_net import Controller, PulseLab, fail, log, run, seconds_until  # noqa: E402

LAB = os.path.join(pulse_net.SOURCE_DIR, "examples", "leaf-spine.yaml")
OVSDB = "unix:/var/run/openvswitch/db.sock"
ROCE_TOS = 26 << 2  # DSCP 26 in the IPv4 TOS byte
ROCE_CAP_MBPS = 40  # queue_shaping of the test policy
OTHER_CAP_MBPS = 20


def port_qos(port):
    return run(["ovs-vsctl", "--timeout=5", "get", "port", port, "qos"], check=False).strip()


def dscp_filters(dev):
    """{tos_byte: 'flowid'} of the u32 dsfield filters on dev's root qdisc."""
    out = run(["tc", "filter", "show", "dev", dev], check=False)
    filters = {}
    flowid = None
    for line in out.splitlines():
        m = re.search(r"flowid (\S+)", line)
        if m:
            flowid = m.group(1)
        m = re.search(r"match ([0-9a-f]{8})/([0-9a-f]{8}) at 0", line)
        if m and flowid:
            # ip dsfield sits in byte 1 of the IPv4 header: value 00XX0000 / mask 00fc0000.
            filters[int(m.group(1)[2:4], 16)] = flowid
    return filters


def class_bytes(dev):
    """{'1:N': bytes sent} from tc -s class show."""
    out = run(["tc", "-s", "class", "show", "dev", dev], check=False)
    result = {}
    for m in re.finditer(r"class htb (\S+) .*?\n\s*Sent (\d+) bytes", out):
        result[m.group(1)] = int(m.group(2))
    return result


def destroy_orphan_qos_rows():
    """Deletes QoS rows no port uses and Queue rows no QoS uses.

    QoS and Queue are root tables in OVSDB: deleting a bridge leaves its ports' rows behind. The
    lab's bridges are gone by now, so every unreferenced row is this run's (or an earlier crashed
    run's) garbage; rows a live port still uses are kept.
    """
    used_qos = set(run("ovs-vsctl --bare --columns=qos list port", check=False).split())
    all_qos = run("ovs-vsctl --bare --columns=_uuid list qos", check=False).split()
    orphans = [q for q in all_qos if q not in used_qos]
    for q in orphans:
        run(["ovs-vsctl", "--if-exists", "destroy", "qos", q], check=False)
    used_queues = set(re.findall(r"[0-9a-f-]{36}",
                                 run("ovs-vsctl --bare --columns=queues list qos", check=False)))
    queues = [u for u in run("ovs-vsctl --bare --columns=_uuid list queue", check=False).split()
              if u not in used_queues]
    for u in queues:
        run(["ovs-vsctl", "--if-exists", "destroy", "queue", u], check=False)
    log(f"clean-up: {len(orphans)} orphan QoS rows and {len(queues)} orphan Queue rows removed")


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-qos-")
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        # The built-in RoCE layout with two queues shaped: RoCE data (queue 3) and the queue of
        # default_tc 1 (queue 1), where unmarked traffic goes.
        f.write(f"queue_shaping: {{3: {ROCE_CAP_MBPS}M, 1: {OTHER_CAP_MBPS}M}}\n")
    ctl = Controller(LAB, extra={"qos": f"{{policy_file: {policy}, ovsdb: '{OVSDB}'}}"})
    lab = PulseLab(LAB, of_port=ctl.of_port)
    try:
        pulse_net.ensure_ovs()
        # Rows a deleted bridge left behind (QoS/Queue are root tables): the daemon removes
        # Pulse's orphans, and leaves rows that are not Pulse's alone.
        orphan = run("ovs-vsctl create qos type=linux-htb external_ids:pulse-xoff-bytes=1").strip()
        foreign = run("ovs-vsctl create qos type=linux-htb external_ids:owner=someone").strip()
        ctl.start()
        lab.start()
        if not lab.wait_connected(40):
            fail("switches did not connect:\n" + ctl.log_tail())
        # Every fabric port of every bridge, as Mininet names it.
        ports = [f"{sw['name']}-eth{p}" for sw in lab.fabric["switches"]
                 for p in sorted({l["a_port"] for l in lab.fabric["links"] if l["a"] == sw["name"]}
                                 | {l["b_port"] for l in lab.fabric["links"]
                                    if l["b"] == sw["name"]})]
        t_all = seconds_until(lambda: all(port_qos(p) not in ("", "[]") for p in ports), 60, 0.5)
        if t_all is None:
            missing = [p for p in ports if port_qos(p) in ("", "[]")]
            fail(f"QoS never programmed on {len(missing)} of {len(ports)} ports (e.g. "
                 f"{missing[:4]}); log:\n{ctl.log_tail()}")
        log(f"QoS on all {len(ports)} ports of bridges created after the controller started, "
            f"{t_all:.1f} s after the switches connected")
        def bridges_appeared():
            with open(ctl.log_path) as f:
                return [l for l in f if "qos push: bridge" in l and "appeared" in l]

        # The daemon logs a bridge once all its ports are programmed: the last line may trail.
        seconds_until(lambda: len(bridges_appeared()) >= len(lab.fabric["switches"]), 10)
        appeared = bridges_appeared()
        if len(appeared) != len(lab.fabric["switches"]):
            fail(f"expected every bridge programmed as it appeared, log has {len(appeared)} of "
                 f"{len(lab.fabric['switches'])}")

        gone = seconds_until(lambda: run(["ovs-vsctl", "--if-exists", "get", "qos", orphan, "type"],
                                    check=False).strip() == "", 10)
        if gone is None:
            fail(f"the orphan Pulse QoS row {orphan} was not deleted")
        if run(["ovs-vsctl", "get", "qos", foreign, "type"], check=False).strip() != "linux-htb":
            fail("a QoS row that is not Pulse's was deleted")
        run(["ovs-vsctl", "destroy", "qos", foreign], check=False)
        log("orphan Pulse QoS row deleted by the daemon, a foreign one kept")

        # Classification on the egress port of leaf-1 towards server-2.
        dst = lab.host_of_nic("server-2/nic-0")
        src = lab.host_of_nic("server-0/nic-0")
        egress = f"leaf-1-eth{lab.switch_ports_to('leaf-1', dst.name)[0]}"
        filters = dscp_filters(egress)
        if ROCE_TOS not in filters:
            fail(f"{egress}: no DSCP 26 filter (filters {filters})")
        roce_class = filters[ROCE_TOS]
        log(f"{egress}: {len(filters)} DSCP filters; DSCP 26 -> class {roce_class}, DSCP 0 -> "
            f"{filters.get(0)}, DSCP 48 (CNP) -> {filters.get(48 << 2)}")
        before = class_bytes(egress)
        roce = pulse_net.iperf3_pair_summary(lab, src.name, dst.name, 4, port=5501, tos=ROCE_TOS)
        roce_bytes, roce_bps = int(roce.get("bytes", 0)), float(roce.get("bits_per_second", 0))
        mid = class_bytes(egress)
        be = pulse_net.iperf3_pair_summary(lab, src.name, dst.name, 4, port=5502)
        be_bytes, be_bps = int(be.get("bytes", 0)), float(be.get("bits_per_second", 0))
        after = class_bytes(egress)
        grew_roce = {c: mid.get(c, 0) - before.get(c, 0) for c in mid}
        grew_be = {c: after.get(c, 0) - mid.get(c, 0) for c in after}
        log(f"DSCP 26 flow: iperf3 {roce_bytes} B received, class bytes {grew_roce}")
        log(f"best-effort flow: iperf3 {be_bytes} B received, class bytes {grew_be}")
        if roce_bytes <= 0 or be_bytes <= 0:
            fail("iperf3 moved no data")
        if grew_roce.get(roce_class, 0) < 0.9 * roce_bytes:
            fail(f"class {roce_class} counted {grew_roce.get(roce_class, 0)} B of the DSCP 26 "
                 f"flow's {roce_bytes} B")
        if grew_be.get(roce_class, 0) > 0.05 * be_bytes:
            fail(f"best-effort traffic went into the RoCE class {roce_class}: {grew_be}")
        leaf_classes = {c: b for c, b in grew_be.items() if c != "1:fffe"}  # not the root
        be_class = max(leaf_classes, key=leaf_classes.get)
        if grew_be[be_class] < 0.9 * be_bytes:
            fail(f"no class counted the best-effort flow: {grew_be}")
        log(f"classes: RoCE {roce_class}, best effort {be_class}")
        if be_class != "1:2":  # DSCP 0 -> default_tc 1 -> queue 1 -> class 1:2
            fail(f"best-effort traffic in {be_class}, the policy puts it in queue 1 (1:2)")
        # Each class is held to its queue's shaping rate (iperf3's own numbers).
        log(f"iperf3 rates: DSCP 26 {roce_bps / 1e6:.2f} Mbit/s (queue cap {ROCE_CAP_MBPS}), "
            f"best effort {be_bps / 1e6:.2f} Mbit/s (queue cap {OTHER_CAP_MBPS})")
        for name, bps, cap in (("DSCP 26", roce_bps, ROCE_CAP_MBPS),
                               ("best effort", be_bps, OTHER_CAP_MBPS)):
            if not 0.75 * cap * 1e6 <= bps <= 1.05 * cap * 1e6:
                fail(f"{name} flow ran at {bps / 1e6:.2f} Mbit/s, its queue is shaped to {cap}")

        # Drift made by hand, repaired by the daemon.
        run(["ovs-vsctl", "clear", "port", egress, "qos"])
        t_ovs = seconds_until(lambda: port_qos(egress) not in ("", "[]"), 15)
        if t_ovs is None:
            fail(f"{egress}: QoS cleared by hand was not repaired; log:\n{ctl.log_tail()}")
        log(f"{egress}: QoS cleared with ovs-vsctl, repaired in {t_ovs * 1000:.0f} ms")
        seconds_until(lambda: ROCE_TOS in dscp_filters(egress), 10)
        run(["tc", "filter", "del", "dev", egress], check=False)
        if ROCE_TOS in dscp_filters(egress):
            fail("tc filter del did not remove the filters")
        t_tc = seconds_until(lambda: dscp_filters(egress).get(ROCE_TOS) == roce_class, 15)
        if t_tc is None:
            fail(f"{egress}: DSCP filters deleted by hand were not repaired; "
                 f"log:\n{ctl.log_tail()}")
        log(f"{egress}: DSCP filters deleted with tc, repaired in {t_tc * 1000:.0f} ms")
        with open(ctl.log_path) as f:
            repaired = [l for l in f if "qos drift found and repaired" in l]
        if not repaired:
            fail("the daemon's log does not report the repaired drift")
        log(f"daemon log: {len(repaired)} drift lines, e.g. {repaired[0].strip()}")
        audit = ctl.pulsectl("qos", "audit")
        log("pulsectl qos audit: " + audit.strip().splitlines()[0] if audit.strip() else "")
        print("PASS", flush=True)
    finally:
        lab.stop()
        ctl.cleanup()
        destroy_orphan_qos_rows()


if __name__ == "__main__":
    main()
