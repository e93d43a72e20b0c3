"""The main job: pulse-controller driving a Mininet leaf-spine built from the example intent.

Starts Open vSwitch, the lab fabric from examples/leaf-spine.yaml and pulse-controller; waits for
the switches; shows discovery; places a job through the gRPC API with pulsectl; shows the job,
the hottest links and the pin rules on the switches; runs iperf3 along the job's flow and shows
from the spines' own port counters that the traffic crossed the planned spine. Tears down.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab_scenarios import (LAB, PAIR_JOB, pin_rules, pingall_loss, place_pair_job,  # noqa: E402
                           traffic_follows_plan, wait_discovery)
from pulse_net import Controller, PulseLab, log  # noqa: E402


def main():
    ctl = Controller(LAB).start()
    lab = PulseLab(LAB, of_port=ctl.of_port)
    try:
        log(f"pulse-controller: API {ctl.api}, OpenFlow 127.0.0.1:{ctl.of_port}")
        lab.start()
        if not lab.wait_connected(40):
            raise RuntimeError("switches did not connect:\n" + ctl.log_tail())
        log("all 6 switches connected")
        print(ctl.pulsectl("topology"))
        report = wait_discovery(ctl)
        print(ctl.pulsectl("discovery"))
        loss = pingall_loss(lab)
        log(f"pingall: {loss:.0f}% loss")
        log(f"placing {os.path.relpath(PAIR_JOB)} through the API")
        spine, _ = place_pair_job(ctl)
        print(ctl.pulsectl("jobs", "show", "lab-pair"))
        print(ctl.pulsectl("links", "--top", "5"))
        print("pin rules on leaf-0:\n  " + "\n  ".join(pin_rules(lab, "leaf-0")))
        bps, delta = traffic_follows_plan(lab, spine)
        ok = (report.get("matchesIntent") and loss == 0.0 and delta[spine] > 1_000_000 and
              all(v < delta[spine] / 50 for s, v in delta.items() if s != spine))
        log(f"traffic {bps / 1e6:.0f} Mbit/s crossed {spine} as planned: "
            f"{'yes' if ok else 'NO'} (bytes towards leaf-2 by spine: {delta})")
        return 0 if ok else 1
    finally:
        lab.stop()
        ctl.cleanup()


if __name__ == "__main__":
    sys.exit(main())
