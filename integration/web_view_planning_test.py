"""The web view on the 64x64 fabric (examples/leaf-spine-64x64.yaml: 128 switches, 4096
servers, 8192 links), in headless Chromium, with the daemon in planning mode (no switches).

Checks that the page loads with tokens on (and the API answers 401 without or with a wrong
token), that it stays small (bundled links, collapsed servers: bounded DOM), that every intent
link is inside a drawn bundle, that a drained spine is marked, and that a placed job is
highlighted after it is picked in the selector with real clicks. Prints the time to data-ready
and the API's answer times. Screenshot: $PULSE_BINARY_DIR/web_view_64x64.png.

Run with /usr/bin/python3 (Debian's selenium).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from selenium.webdriver.common.by import By  # noqa: E402
from web_browser import Browser, api, http_get  # noqa: E402

SOURCE_DIR = os.environ.get(
    "PULSE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY_DIR = os.environ.get("PULSE_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
VIEWER = "viewer-token-web-0123456789"
ADMIN = "admin-token-web-0123456789"
MAX_DOM_ELEMENTS = 2500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebViewPlanningTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pulse-web-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(os.path.join(self.tmp, "tokens.yaml"), "w") as f:
            f.write("tokens:\n"
                    f"  - {{name: ops, token: {VIEWER}, role: viewer}}\n"
                    f"  - {{name: root, token: {ADMIN}, role: admin}}\n")

    def start_daemon(self, security="insecure: true\n", scheme="http",
                     fabric="leaf-spine-64x64.yaml"):
        self.api_port, self.web_port = free_port(), free_port()
        config = os.path.join(self.tmp, "pulse.yaml")
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:{self.api_port}\n"
                    f"fabric: {SOURCE_DIR}/examples/{fabric}\n"
                    f"{security}"
                    "tokens_file: tokens.yaml\n"
                    f"web_listen: 127.0.0.1:{self.web_port}\n"
                    "qos: {enabled: false}\n")
        self.log = open(os.path.join(self.tmp, "controller.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(BINARY_DIR, "daemon", "pulse-controller"), "--config", config],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop)
        self.base = f"{scheme}://127.0.0.1:{self.web_port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            self.assertIsNone(self.proc.poll(), self.log_tail())
            if http_get(self.base + "/")[0] == 200:
                return
            time.sleep(0.2)
        self.fail("web view did not answer:\n" + self.log_tail())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_tail(self):
        with open(os.path.join(self.tmp, "controller.log")) as f:
            return "".join(f.readlines()[-30:])

    def pulsectl(self, *args):
        res = subprocess.run([os.path.join(BINARY_DIR, "northbound", "pulsectl"), "--server",
                              f"127.0.0.1:{self.api_port}", "--insecure", "--token", ADMIN,
                              *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr + res.stdout)
        return res.stdout

    def test_large_fabric_page(self):
        self.start_daemon()
        # Auth: 401 without a token or with a wrong one, on every API path.
        for path in ("topology", "links", "switches", "jobs", "events?after=0", "jobs/x"):
            self.assertEqual(http_get(f"{self.base}/api/v1/{path}")[0], 401, path)
            self.assertEqual(http_get(f"{self.base}/api/v1/{path}", "wrong-token-000000000")[0],
                             401, path)

        # A job across 32 leaves (a ring over 64 servers, two per leaf) and a drained spine.
        job = os.path.join(self.tmp, "ring.yaml")
        with open(job, "w") as f:
            f.write("id: ring-64\npattern: ring\nendpoints:\n")
            for s in range(0, 4096, 64):
                f.write(f"  - server-{s}/gpu-0\n")
            f.write("rate: 100G\n")
        self.pulsectl("jobs", "place", "-f", job)
        self.pulsectl("drain", "spine-17")

        for path in ("topology", "links", "jobs/ring-64"):
            t0 = time.monotonic()
            api(self.base, path, VIEWER)
            print(f"GET /api/v1/{path}: {1000 * (time.monotonic() - t0):.0f} ms", flush=True)
        topo = api(self.base, "topology", VIEWER)
        intent_links = {l["id"] for l in topo["links"]}
        self.assertEqual(len(intent_links), 64 * 64)

        browser = Browser()
        self.addCleanup(browser.close)
        seconds = browser.load(f"{self.base}/?token={VIEWER}")
        print(f"time to data-ready (64x64, wall clock): {seconds * 1000:.0f} ms "
              f"(page's own count: {browser.body_attr('data-ready-ms')} ms)", flush=True)

        bundles, nodes = browser.bundles(), browser.nodes()
        dom = browser.dom_size()
        print(f"DOM: {dom} elements, {len(bundles)} bundles, {len(nodes)} switch groups",
              flush=True)
        self.assertLessEqual(dom, MAX_DOM_ELEMENTS)
        self.assertLessEqual(len(nodes), 2 * 16)
        self.assertLessEqual(len(bundles), 16 * 16)
        # Every intent link is in exactly one bundle.
        drawn = [l for b in bundles for l in b["links"]]
        self.assertEqual(len(drawn), len(set(drawn)))
        self.assertEqual(set(drawn), intent_links)
        self.assertEqual(sum(len(n["members"]) for n in nodes), 128)

        # The drained spine's group is marked, and only that one.
        drained = [n for n in nodes if n["drained"]]
        self.assertEqual(len(drained), 1, drained)
        self.assertIn("spine-17", drained[0]["members"])

        # Pick the job with clicks: its bundles and switches light up.
        browser.select_job("ring-64")
        browser.wait_for(lambda: browser.body_attr("data-job") == "ring-64", 10, "job shown")
        job_links = {l["id"] for l in api(self.base, "jobs/ring-64", VIEWER)["links"]}
        lit = [b for b in browser.bundles() if b["job"]]
        self.assertTrue(lit)
        for b in browser.bundles():
            self.assertEqual(b["job"], bool(job_links & set(b["links"])), b["a"] + "|" + b["b"])
        self.assertIn("ring-64", browser.text("job"))
        self.assertIn("predicted bandwidth", browser.text("job"))
        print(f"job ring-64: {len(lit)} bundles highlighted, {len(job_links)} links on its paths",
              flush=True)

        # A click on the drained group opens its detail.
        browser.click_node("spine-17")
        browser.wait_for(lambda: "spine-17" in browser.text("detail"), 5, "detail panel")
        shot = browser.screenshot(os.path.join(BINARY_DIR, "web_view_64x64.png"))
        print(f"screenshot: {shot}", flush=True)

    def test_https_when_the_api_uses_tls(self):
        """With the API on TLS the web view is HTTPS with the same certificate; the token is
        still required; plaintext HTTP to it gets nothing."""
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        self.start_daemon(f"tls: {{cert: {cert}, key: {key}}}\n", scheme="https")
        self.assertEqual(http_get(f"{self.base}/api/v1/jobs")[0], 401)
        self.assertEqual(http_get(f"{self.base}/api/v1/jobs", "wrong-token-000000000")[0], 401)
        self.assertEqual(http_get(f"{self.base}/api/v1/jobs", VIEWER)[0], 200)
        self.assertNotEqual(http_get(f"http://127.0.0.1:{self.web_port}/")[0], 200)
        with open(os.path.join(self.tmp, "controller.log")) as f:
            self.assertIn(f"web view on https://127.0.0.1:{self.web_port}/", f.read())

    def test_rail_filter(self):
        """On a rail-optimised fabric the rail selector keeps the spines and that rail's
        switches, and the links between them."""
        self.start_daemon(fabric="rail-optimized.yaml")
        topo = api(self.base, "topology", VIEWER)
        self.assertEqual(topo["rails"], [0, 1])
        browser = Browser()
        self.addCleanup(browser.close)
        browser.load(f"{self.base}/?token={VIEWER}")
        self.assertEqual(len(browser.nodes()), len(topo["switches"]))
        self.assertEqual(sum(b["count"] for b in browser.bundles()), len(topo["links"]))
        element = browser.driver.find_element(By.ID, "rail-select")
        element.click()
        element.find_element(By.CSS_SELECTOR, "option[value='1']").click()
        kept = {s["name"] for s in topo["switches"] if s["rail"] in (-1, 1)}
        browser.wait_for(lambda: len(browser.nodes()) == len(kept), 5, "rail 1 only")
        self.assertEqual({m for n in browser.nodes() for m in n["members"]}, kept)
        links = [l for l in topo["links"] if l["a"] in kept and l["b"] in kept]
        self.assertEqual(sorted(l for b in browser.bundles() for l in b["links"]),
                         sorted(l["id"] for l in links))


if __name__ == "__main__":
    unittest.main(verbosity=2)
