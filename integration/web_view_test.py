"""Issue 18: the web view in headless Chromium against a controller driving the Mininet lab
(examples/leaf-spine.yaml on Open vSwitch).

With viewer tokens on: the API answers 401 without or with a wrong token; the page draws exactly
the intent's switch links (one line each: the lab is small enough not to be bundled), all
discovered by LLDP and none marked; a drained spine and its links are marked drained; a placed
job, picked in the selector with real clicks, lights up exactly its path; a link cut in Mininet
shows as down in the page within 2 s, and its event appears in the live list. Screenshot:
$PULSE_BINARY_DIR/web_view_lab.png.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pulse_net as pn  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from web_browser import Browser, api, http_get  # noqa: E402

INTENT = os.path.join(pn.SOURCE_DIR, "examples", "leaf-spine.yaml")
JOB = os.path.join(pn.SOURCE_DIR, "examples", "jobs", "lab-pair.yaml")
VIEWER = "viewer-token-lab-0123456789"
ADMIN = "admin-token-lab-0123456789"
CUT = ("leaf-1", "spine-0")
DRAINED = "spine-1"


class WebViewLabTest(unittest.TestCase):
    def setUp(self):
        pn.watchdog(self, 170)
        self.tmp = tempfile.mkdtemp(prefix="pulse-web-lab-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        tokens = os.path.join(self.tmp, "tokens.yaml")
        with open(tokens, "w") as f:
            f.write("tokens:\n"
                    f"  - {{name: ops, token: {VIEWER}, role: viewer}}\n"
                    f"  - {{name: root, token: {ADMIN}, role: admin}}\n")
        self.web_port = pn.free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.ctl = pn.Controller(INTENT, openflow_options={"probe_interval_ms": 500},
                                 extra={"web_listen": f"127.0.0.1:{self.web_port}",
                                        "tokens_file": tokens})
        self.ctl.start()
        self.addCleanup(self.ctl.cleanup)
        self.lab = pn.PulseLab(INTENT, of_port=self.ctl.of_port)
        self.addCleanup(self.lab.stop)
        self.lab.start()
        self.assertTrue(self.lab.wait_connected(40),
                        "switches did not connect:\n" + self.ctl.log_tail())

    def pulsectl(self, *args):
        res = subprocess.run([pn.binary("pulsectl"), "--server", self.ctl.api, "--insecure",
                              "--token", ADMIN, *args], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr + res.stdout)
        return res.stdout

    def intent_switch_links(self):
        """{(lower switch, upper switch): count} from the lab's own export of the intent."""
        level = {s["name"]: s["level"] for s in self.lab.fabric["switches"]}
        pairs = {}
        for l in self.lab.fabric["links"]:
            if l["a"] in level and l["b"] in level:
                key = tuple(sorted((l["a"], l["b"]), key=lambda n: level[n]))
                pairs[key] = pairs.get(key, 0) + 1
        return pairs

    def test_fabric_view_in_chromium(self):
        # Auth first: nothing of the fabric without a viewer token.
        for path in ("topology", "links", "jobs", "events?after=0"):
            self.assertEqual(http_get(f"{self.base}/api/v1/{path}")[0], 401, path)
            self.assertEqual(http_get(f"{self.base}/api/v1/{path}", "not-the-token-0000000")[0],
                             401, path)
        self.assertEqual(http_get(f"{self.base}/api/v1/topology", VIEWER)[0], 200)

        # LLDP has seen every switch link (else the page would rightly mark them missing).
        def discovered():
            links = api(self.base, "links", VIEWER)
            return (links["discovery"]["available"]
                    and all(l["discovery"] == "ok" and l["up"] for l in links["links"]))
        self.assertTrue(pn.poll(discovered, 30), "discovery did not match the intent:\n"
                        + self.ctl.log_tail())

        self.pulsectl("jobs", "place", "-f", JOB)
        self.pulsectl("drain", DRAINED)
        job = api(self.base, "jobs/lab-pair", VIEWER)
        switches = {s["name"] for s in api(self.base, "topology", VIEWER)["switches"]}
        job_switch_links = {l["id"] for l in job["links"] if l["a"] in switches
                            and l["b"] in switches}
        self.assertTrue(job_switch_links)

        browser = Browser(1400, 820)
        self.addCleanup(browser.close)
        seconds = browser.load(f"{self.base}/?token={VIEWER}")
        pn.log(f"page ready in {seconds * 1000:.0f} ms")
        # The token went from the URL into a cookie.
        self.assertNotIn("token=", browser.driver.current_url)

        # Drawn links = the intent's switch links, one line each, all fine but the drained ones.
        bundles = browser.bundles()
        drawn = {}
        for b in bundles:
            self.assertEqual(b["count"], 1, b)
            drawn[(b["a"], b["b"])] = drawn.get((b["a"], b["b"]), 0) + 1
        self.assertEqual(drawn, self.intent_switch_links())
        for b in bundles:
            want = "drained" if DRAINED in (b["a"], b["b"]) else "ok"
            self.assertEqual(b["state"], want, b)
        for n in browser.nodes():
            self.assertEqual(n["drained"], n["members"] == [DRAINED], n)
            self.assertFalse(n["lost"], n)  # every switch is connected

        # The job, picked with clicks: exactly its path's links light up.
        browser.select_job("lab-pair")
        browser.wait_for(lambda: browser.body_attr("data-job") == "lab-pair", 10, "job shown")
        lit = {b["links"][0] for b in browser.bundles() if b["job"]}
        self.assertEqual(lit, job_switch_links)
        self.assertNotIn(DRAINED, {n for b in browser.bundles() if b["job"]
                                   for n in (b["a"], b["b"])})
        self.assertIn("predicted bandwidth", browser.text("job"))
        pn.log(f"job lab-pair highlighted on {sorted(lit)}")

        # Colour by measured load: the switches' port counters reach every link.
        browser.driver.find_element(By.ID, "colour-measured").click()
        browser.wait_for(lambda: browser.body_attr("data-colour") == "measured", 5, "toggle")
        browser.wait_for(lambda: all(b["util"] != "" for b in browser.bundles()), 15,
                         "measured load on every link")
        browser.driver.find_element(By.ID, "colour-planned").click()
        browser.wait_for(lambda: browser.body_attr("data-colour") == "planned", 5, "toggle")

        # A cable cut in Mininet: down in the page within 2 s.
        def cut_shown():
            return any(b["state"] == "down" for b in browser.bundles()
                       if (b["a"], b["b"]) == CUT)
        self.assertFalse(cut_shown())
        t0 = time.monotonic()
        self.lab.set_link(*CUT, up=False)
        shown_at = browser.wait_for(cut_shown, 10, f"{CUT} down in the page")
        elapsed = shown_at - t0
        pn.log(f"link {CUT[0]}-{CUT[1]} cut: shown down after {elapsed * 1000:.0f} ms")
        self.assertLess(elapsed, 2.0)
        self.assertEqual(browser.body_attr("data-links-down"), "1")
        browser.wait_for(lambda: "link-down" in browser.text("events"), 3, "link-down event")

        # Detail of the cut link's switch; the screenshot shows the whole state.
        browser.click_node(CUT[0])
        browser.wait_for(lambda: "down" in browser.text("detail"), 5, "detail panel")
        pn.log("screenshot: " + browser.screenshot(os.path.join(pn.BINARY_DIR,
                                                                "web_view_lab.png")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
