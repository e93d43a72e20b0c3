#!/usr/bin/python3
"""The lossless health supervisor acting in a running daemon (issue 16), seen through pulsectl.

pulse-controller serves a leaf-spine fabric whose two leaves are SONiC-driven (`driver: sonic`,
one redis-server each with SONiC's database numbering) and whose spines are OpenFlow switches
that never connect (planning mode: no Open vSwitch or Mininet here). The config turns the
supervisor's actions on (`lossless_health: {dry_run: false, ...}`). A job is placed; the test
writes SONiC-shaped COUNTERS_DB updates: a PFC storm at leaf-0's uplink that carries the job
(pauses received from the spine, the lossless queue stalled) and port octets. Asserted:
  - `pulsectl health incidents`: one pfc_storm line rooted at that port, isolate_link, APPLIED yes;
  - `pulsectl --json links`: the root link is not usable and carries no planned load (the job's
    flows left it), the other uplink carries them;
  - `pulsectl links`: the root link's PFC_RX column counts the pauses, MEASURED carries a unit;
  - events (pulsectl watch): one LINK_ISOLATED, HEALTH_INCIDENT; /metrics:
    pulse_health_actions_total{action="isolate_link",outcome="applied"} 1;
  - the storm stops: after the clean window the link is usable again, the line reads "returned";
  - a switch whose APPL_DB ecmp_hash_seed is not the steering model's gets a WARNING line (and a
    `pulsectl qos audit` finding); Pulse does not write the seed;
  - a switch whose Redis goes away is shown DISCONNECTED and gets the plan back on its return.
No Open vSwitch: needs only redis-server (runs without the machine's network lock).
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("PULSE_SOURCE_DIR", "."), "integration"))
import pulse_net  # noqa: E402
from pulse_net import fail, log, run  # noqa: E402


def redis_cli(sock, db, *args):
    return run(["redis-cli", "-s", sock, "-n", str(db), *args]).strip()


def link_rows(ctl):
    return {l["name"]: l for l in json.loads(ctl.pulsectl("--json", "links", "--top", "0"))["links"]}


def main():
    tmp = tempfile.mkdtemp(prefix="pulse-sonic-health-")
    redis0, sock0 = pulse_net.start_sonic_redis(tmp, "leaf-0")
    redis1, sock1 = pulse_net.start_sonic_redis(tmp, "leaf-1")
    intent = os.path.join(tmp, "fabric.yaml")
    with open(intent, "w") as f:
        f.write(f"""name: sonic-leaves
switches:
  - {{name: leaf-0, role: leaf, driver: sonic, redis: "unix:{sock0}"}}
  - {{name: leaf-1, role: leaf, driver: sonic, redis: "unix:{sock1}"}}
  - {{name: spine-0, role: spine}}
  - {{name: spine-1, role: spine}}
servers: [{{name: server-0}}, {{name: server-1}}]
links:
  - {{a: "server-0/nic-0", b: "leaf-0:1", speed: 100G}}
  - {{a: "server-1/nic-0", b: "leaf-1:1", speed: 100G}}
  - {{a: "leaf-0:2", b: "spine-0:1", speed: 100G}}
  - {{a: "leaf-0:3", b: "spine-1:1", speed: 100G}}
  - {{a: "leaf-1:2", b: "spine-0:2", speed: 100G}}
  - {{a: "leaf-1:3", b: "spine-1:2", speed: 100G}}
""")
    job = os.path.join(tmp, "job.yaml")
    with open(job, "w") as f:
        f.write("id: train\npattern: ring\nendpoints: [server-0/nic-0, server-1/nic-0]\n"
                "rate: 40G\ntraffic_class: 3\n")
    ctl = pulse_net.Controller(intent, extra={
        "lossless_health": "{dry_run: false, counters_interval_ms: 300, audit_interval_ms: 1000, "
                           "clean_window_ms: 2000, max_isolated_links: 1}",
        "telemetry": "{period_ms: 300}"})
    try:
        ctl.start()
        ctl.pulsectl("jobs", "place", "-f", job)
        rows = link_rows(ctl)
        uplink = next((p for p in (2, 3)
                       if rows[f"leaf-0:{p} -> spine-{p - 2}:1"]["plannedLoadBps"] > 0), None)
        if uplink is None:
            fail("the job crosses neither leaf-0 uplink:\n" + ctl.pulsectl("links", "--top", "0"))
        other = 5 - uplink
        root = f"leaf-0:{uplink} -> spine-{uplink - 2}:1"
        other_name = f"leaf-0:{other} -> spine-{other - 2}:1"
        sonic_port = f"Ethernet{8 * (uplink - 1)}"  # the intent's default port-name stride, 8
        log(f"job on {root}; storm at leaf-0 {sonic_port}")

        # Counters: the uplink is paused by the spine (priority 3) and its lossless queue is
        # stalled; it still sends some bytes (octets feed the measured load).
        redis_cli(sock0, 2, "HSET", "COUNTERS_PORT_NAME_MAP", sonic_port, "oid:0x1000000000002")
        redis_cli(sock0, 2, "HSET", "COUNTERS_QUEUE_NAME_MAP", f"{sonic_port}:3",
                  "oid:0x1500000000023")
        redis_cli(sock0, 2, "HSET", "COUNTERS:oid:0x1500000000023", "SAI_QUEUE_STAT_PACKETS", "7")
        pauses, octets = 0, 0
        found = None
        deadline = time.time() + 20
        while time.time() < deadline and not found:
            pauses += 30000
            octets += 18  # 480 bits per 300 ms poll: a tiny measured load
            redis_cli(sock0, 2, "HSET", "COUNTERS:oid:0x1000000000002",
                      "SAI_PORT_STAT_PFC_3_RX_PKTS", str(pauses),
                      "SAI_PORT_STAT_IF_OUT_OCTETS", str(octets))
            time.sleep(0.3)
            out = ctl.pulsectl("health", "incidents")
            found = next((l for l in out.splitlines()
                          if "pfc_storm" in l and " yes " in f" {l} "), None)
        if not found:
            fail("no applied storm incident:\n" + ctl.pulsectl("health", "incidents") +
                 ctl.log_tail())
        if f"leaf-0:{uplink}" not in found or "isolate_link" not in found:
            fail(f"storm line has the wrong root or action: {found}")
        log(f"pulsectl health incidents: {found.strip()}")

        # Keep the storm up a little: still one incident, one action.
        for _ in range(4):
            pauses += 30000
            octets += 18
            redis_cli(sock0, 2, "HSET", "COUNTERS:oid:0x1000000000002",
                      "SAI_PORT_STAT_PFC_3_RX_PKTS", str(pauses),
                      "SAI_PORT_STAT_IF_OUT_OCTETS", str(octets))
            time.sleep(0.3)
        last_pause = time.time()  # the storm stops here
        rows = link_rows(ctl)
        if rows[root]["usable"] or rows[root]["plannedLoadBps"] != 0:
            fail(f"root link still in use: {rows[root]}")
        if rows[other_name]["plannedLoadBps"] <= 0:
            fail(f"the flows did not move to {other_name}: {rows[other_name]}")
        if int(rows[root].get("pfcPauseRxFrames", 0)) <= 0:
            fail(f"no PFC pauses on {root}: {rows[root]}")
        table = ctl.pulsectl("links", "--top", "0")
        header = table.splitlines()[0]
        if "PFC_RX" not in header or "ECN_MARKED" not in header:
            fail("links table has no PFC/ECN columns:\n" + table)
        line = next(l for l in table.splitlines() if l.startswith(root + " "))
        cells = line[len(root):].split()
        # CAPACITY PLANNED PLANNED_UTIL MEASURED MEASURED_UTIL UP USABLE PFC_RX PFC_TX ECN_MARKED
        if not cells[3].endswith("bps") or cells[7] == "-" or cells[6] != "no":
            fail(f"links row for {root}: {line}")
        log(f"pulsectl links: {line.strip()}")
        incidents = ctl.pulsectl("health", "incidents").splitlines()
        if sum("pfc_storm" in l for l in incidents) != 1:
            fail("more than one incident:\n" + "\n".join(incidents))
        if pulse_net.metric_value(ctl, "pulse_health_actions_total",
                                  {"action": "isolate_link", "outcome": "applied"}) != 1:
            fail("pulse_health_actions_total{isolate_link,applied} is not 1")
        # SWITCH_CONNECTED for each SONiC switch (FabricSync reports their Redis connections),
        # then JOB_PLACED, JOB_MOVED, LINK_ISOLATED, HEALTH_INCIDENT at least, in that order.
        events = [json.loads(l) for l in
                  ctl.pulsectl("--json", "watch", "--from", "1", "--count", "6",
                               timeout=10).splitlines() if l.strip().startswith("{")]
        kinds = [e.get("type") for e in events]
        if kinds.count("EVENT_TYPE_LINK_ISOLATED") != 1 or \
                "EVENT_TYPE_HEALTH_INCIDENT" not in kinds:
            fail(f"events: {kinds}")
        log("one LINK_ISOLATED event, HEALTH_INCIDENT events, metric applied = 1")

        # Calm: back in service after the clean window.
        took = pulse_net.seconds_until(lambda: link_rows(ctl)[root]["usable"], 15, 0.2)
        if took is None:
            fail("the root link did not return to service:\n" +
                 ctl.pulsectl("health", "incidents") + ctl.log_tail())
        back = time.time() - last_pause
        if back < 1.5:
            fail(f"link returned {back:.1f} s after the last pause, before the 2 s clean window")
        log(f"link back in service {back:.1f} s after the last pause (clean window 2 s)")
        out = ctl.pulsectl("health", "incidents")
        if not any("pfc_storm" in l and "returned" in l and "closed" in l
                   for l in out.splitlines()):
            fail("incident not shown as returned:\n" + out)

        # The ECMP hash seed: SONiC keeps it in APPL_DB SWITCH_TABLE:switch (swss's switch.json),
        # not in CONFIG_DB. A seed other than the steering model's (seed 0) is a warning line.
        redis_cli(sock1, 0, "HSET", "SWITCH_TABLE:switch", "ecmp_hash_seed", "10")
        redis_cli(sock0, 0, "HSET", "SWITCH_TABLE:switch", "ecmp_hash_seed", "0")
        # (Before, with no seed in APPL_DB, both switches were warned about a missing seed.)
        def warned():
            out = ctl.pulsectl("health", "incidents")
            return ("WARNING leaf-1: ECMP hash seed" in out and "want '0', have '10'" in out
                    and "WARNING leaf-0" not in out)
        if pulse_net.seconds_until(warned, 10, 0.2) is None:
            fail("no hash seed warning for leaf-1 alone:\n" + ctl.pulsectl("health", "incidents"))
        if redis_cli(sock1, 0, "HGET", "SWITCH_TABLE:switch", "ecmp_hash_seed") != "10":
            fail("Pulse wrote the seed into APPL_DB")
        audit = ctl.pulsectl("qos", "audit")
        if "ECMP hash seed" not in audit:
            fail("qos audit does not show the seed difference:\n" + audit)
        log("hash seed 10 on leaf-1 shown as a warning (health incidents, qos audit), not written")

        # Redis unreachable: leaf-1 shows DISCONNECTED, and gets the plan back when its Redis
        # returns empty (a switch restart).
        redis1.kill()
        redis1.wait()
        os.unlink(sock1)
        down = lambda: "DISCONNECTED" in next(
            l for l in ctl.pulsectl("health", "incidents").splitlines()
            if l.startswith("sonic leaf-1 "))
        if pulse_net.seconds_until(down, 10, 0.2) is None:
            fail("leaf-1 not shown disconnected:\n" + ctl.pulsectl("health", "incidents"))
        redis1, _ = pulse_net.start_sonic_redis(tmp, "leaf-1")
        back_in_sync = lambda: any(l.startswith("sonic leaf-1 ") and " connected " in l and
                                   "in-sync" in l
                                   for l in ctl.pulsectl("health", "incidents").splitlines())
        if pulse_net.seconds_until(back_in_sync, 15, 0.2) is None:
            fail("leaf-1 not back in sync:\n" + ctl.pulsectl("health", "incidents"))
        if redis_cli(sock1, 4, "HGET", "PORT_QOS_MAP|Ethernet0", "pfc_enable") != "3,4":
            fail("the plan was not applied when leaf-1's Redis returned")
        log("leaf-1 shown DISCONNECTED while its Redis was down, plan re-applied on return")
        log("PASS")
    finally:
        ctl.cleanup()
        for proc in (redis0, redis1):
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    import faulthandler
    faulthandler.dump_traceback_later(110, exit=True)
    main()
