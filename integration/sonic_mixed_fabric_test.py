#!/usr/bin/python3
"""One daemon serving a mixed fabric (issue 16): Open vSwitch switches over OpenFlow and a SONiC
switch over its Redis databases.

The fabric: leaf-0, leaf-1 and spine-0 are Open vSwitch bridges in Mininet (OpenFlow); spine-1 is
SONiC-driven (`driver: sonic`) and stands as a redis-server with SONiC's database numbering (no
data plane: it has no Mininet bridge). Asserted from the switches' side:
  - every OVS bridge connects and holds Pulse's flow rules (ovs-ofctl dump-flows);
  - spine-1's CONFIG_DB holds the QoS plan (redis-cli, db 4): PORT_QOS_MAP, BUFFER_PG,
    SCHEDULER, SWITCH_HASH; a foreign key stays untouched; an HDEL behind Pulse's back is undone
    within 5 s;
  - PFC pauses written into spine-1's COUNTERS_DB (a NIC-less storm: leaf-0 pausing spine-1 with
    the lossless queue stalled) show up on /metrics (pulse_pfc_pause_frames_total) and as a
    `pulsectl health incidents` line rooted at spine-1's port to leaf-0, decided in dry-run.
Run as root with /usr/bin/python3; label integration.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pulse_net  # noqa: E402
from pulse_net import PulseLab, fail, log, run  # noqa: E402


def redis_cli(sock, db, *args):
    return run(["redis-cli", "-s", sock, "-n", str(db), *args]).strip()


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-sonic-")
    redis, sock = pulse_net.start_sonic_redis(tmp, "spine-1")
    intent = os.path.join(tmp, "mixed.yaml")
    with open(intent, "w") as f:
        f.write(f"""name: mixed
switches:
  - {{name: leaf-0, role: leaf, dpid: 0x11}}
  - {{name: leaf-1, role: leaf, dpid: 0x12}}
  - {{name: spine-0, role: spine, dpid: 0x21}}
  - {{name: spine-1, role: spine, dpid: 0x22, driver: sonic, redis: "unix:{sock}"}}
servers: [{{name: server-0}}, {{name: server-1}}]
links:
  - {{a: "server-0/nic-0", b: "leaf-0:1", speed: 100G}}
  - {{a: "server-1/nic-0", b: "leaf-1:1", speed: 100G}}
  - {{a: "leaf-0:2", b: "spine-0:1", speed: 100G}}
  - {{a: "leaf-1:2", b: "spine-0:2", speed: 100G}}
  - {{a: "leaf-0:3", b: "spine-1:1", speed: 100G}}
  - {{a: "leaf-1:3", b: "spine-1:2", speed: 100G}}
""")
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    redis_cli(sock, 4, "HSET", "PORT|Ethernet0", "speed", "100000")  # the switch's own key
    ctl = pulse_net.Controller(intent, extra={
        "lossless_health": "{counters_interval_ms: 500, audit_interval_ms: 1000}"})
    lab = PulseLab(intent, ctl.of_port)
    # spine-1 is SONiC: no Mininet bridge, no data-plane links to it.
    lab.fabric["switches"] = [s for s in lab.fabric["switches"] if s["name"] != "spine-1"]
    lab.fabric["links"] = [l for l in lab.fabric["links"] if "spine-1" not in (l["a"], l["b"])]
    try:
        ctl.start()
        lab.start()
        if not lab.wait_connected(30):
            fail("OVS switches did not connect over OpenFlow")
        if not pulse_net.poll(lambda: all(lab.dump_flows(s["name"])
                                          for s in lab.fabric["switches"]), 20):
            fail("OVS bridges hold no flow rules")
        log("OVS leaves and spine-0 connected over OpenFlow, flow rules installed")

        def in_sync():
            out = ctl.pulsectl("health", "incidents")
            return "sonic spine-1" in out and "connected" in out and "in-sync" in out
        if not pulse_net.poll(in_sync, 15):
            fail("spine-1 not in sync:\n" + ctl.pulsectl("health", "incidents") + ctl.log_tail())
        for key, field, want in [("PORT_QOS_MAP|Ethernet0", "pfc_enable", "3,4"),
                                 ("PORT_QOS_MAP|Ethernet8", "pfc_to_pg_map", "AZURE"),
                                 ("BUFFER_PG|Ethernet0|3-4", "profile",
                                  "pg_lossless_100000_40m_profile"),
                                 ("SCHEDULER|scheduler.lossless", "type", "DWRR"),
                                 ("SWITCH_HASH|GLOBAL", "ecmp_hash_algorithm", "CRC")]:
            have = redis_cli(sock, 4, "HGET", key, field)
            if have != want:
                fail(f"spine-1 CONFIG_DB {key} {field}: want {want!r}, have {have!r}")
        if redis_cli(sock, 4, "HGET", "PORT|Ethernet0", "speed") != "100000":
            fail("Pulse touched spine-1's own PORT|Ethernet0")
        log("spine-1 CONFIG_DB holds the plan; its own PORT key is untouched")

        redis_cli(sock, 4, "HDEL", "PORT_QOS_MAP|Ethernet0", "pfc_enable")
        took = pulse_net.seconds_until(
            lambda: redis_cli(sock, 4, "HGET", "PORT_QOS_MAP|Ethernet0", "pfc_enable") == "3,4", 5)
        if took is None:
            fail("an HDEL behind Pulse's back was not repaired within 5 s")
        log(f"HDEL behind Pulse's back repaired in {took:.2f} s")

        # A storm at spine-1's port to leaf-0: leaf-0 keeps pausing it, the queue sends nothing.
        redis_cli(sock, 2, "HSET", "COUNTERS_PORT_NAME_MAP", "Ethernet0", "oid:0x1000000000001",
                  "Ethernet8", "oid:0x1000000000002")
        redis_cli(sock, 2, "HSET", "COUNTERS_QUEUE_NAME_MAP", "Ethernet0:3", "oid:0x1500000000003")
        redis_cli(sock, 2, "HSET", "COUNTERS:oid:0x1500000000003", "SAI_QUEUE_STAT_PACKETS", "7")
        pauses = 0
        found = None
        deadline = time.time() + 15
        while time.time() < deadline and not found:
            pauses += 50000
            redis_cli(sock, 2, "HSET", "COUNTERS:oid:0x1000000000001",
                      "SAI_PORT_STAT_PFC_3_RX_PKTS", str(pauses))
            time.sleep(0.5)
            out = ctl.pulsectl("health", "incidents")
            found = next((l for l in out.splitlines() if "pfc_storm" in l), None)
        if not found:
            fail("no storm incident:\n" + ctl.pulsectl("health", "incidents"))
        if "spine-1:1" not in found or "leaf-0" not in found or "(dry)" not in found:
            fail(f"storm line has the wrong root or action: {found}")
        log(f"pulsectl health incidents: {found.strip()}")
        if not pulse_net.metric_value(ctl, "pulse_pfc_pause_frames_total"):
            fail("no pulse_pfc_pause_frames_total on /metrics")
        log("PASS")
    finally:
        lab.stop()
        ctl.cleanup()
        redis.kill()
        redis.wait()


if __name__ == "__main__":
    import faulthandler
    faulthandler.dump_traceback_later(170, exit=True)  # a stuck Mininet call shows where it hung
    main()
