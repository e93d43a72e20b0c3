"""Headless Chromium (Debian's chromium + chromium-driver, driven by python3-selenium) and plain
HTTP helpers for the web view tests. Run with /usr/bin/python3.

Chromium runs with a fresh profile and every background service off: this machine's network is
closed, and Chromium's own update, sync and safe-browsing connections would only fail.
"""

import json
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


# Loopback only: never through a proxy from the environment. HTTPS to the tests' own
# self-signed certificates is not verified (the tests check the server speaks TLS, not PKI).
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                      urllib.request.HTTPSHandler(context=_TLS))


def http_get(url, token=None, timeout=10):
    """(status, body) of a GET; 4xx/5xx are returned, not raised; (0, reason) when nothing
    answers."""
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(req, timeout=timeout) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def api(base, path, token):
    status, body = http_get(f"{base}/api/v1/{path}", token)
    if status != 200:
        raise RuntimeError(f"GET /api/v1/{path}: {status} {body}")
    return json.loads(body)


class Browser:
    """One headless Chromium window under chromedriver."""

    def __init__(self, width=1500, height=900):
        self.profile = tempfile.mkdtemp(prefix="pulse-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-quic",
                     "--disable-default-apps", "--disable-extensions",
                     f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def load(self, url, timeout_s=30):
        """Opens `url` and waits for <body data-ready="1">; returns wall-clock seconds."""
        t0 = time.monotonic()
        self.driver.get(url)
        self.wait_for(lambda: self.body_attr("data-ready") == "1", timeout_s, "data-ready")
        return time.monotonic() - t0

    def body_attr(self, name):
        return self.driver.find_element(By.TAG_NAME, "body").get_attribute(name)

    def wait_for(self, predicate, timeout_s, what, step_s=0.05):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return time.monotonic()
            except Exception:  # an element replaced mid-read: try again
                pass
            time.sleep(step_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def bundles(self):
        """Every drawn link bundle: [{a, b, count, links, state, util, job}]; util is the
        hottest member's utilisation in the colour mode shown ("" when unknown)."""
        return self.js("""
            return [...document.querySelectorAll('#fabric line.bundle')].map(l => ({
              a: l.dataset.a, b: l.dataset.b, count: +l.dataset.count,
              links: l.dataset.links.split(' ').map(Number), state: l.dataset.state,
              util: l.dataset.util, job: l.classList.contains('job')}));""")

    def nodes(self):
        """Every drawn switch (group): [{members, drained, lost, job}]."""
        return self.js("""
            return [...document.querySelectorAll('#fabric g.node')].map(g => ({
              members: g.dataset.members.split(' '), drained: g.dataset.drained === '1',
              lost: g.dataset.lost === '1', job: g.classList.contains('job')}));""")

    def dom_size(self):
        return self.js("return document.getElementsByTagName('*').length")

    def select_job(self, job_id):
        """Picks the job in the page's selector with real clicks (open the list, click the
        option), as an operator would."""
        element = self.driver.find_element(By.ID, "job-select")
        element.click()
        option = element.find_element(By.CSS_SELECTOR, f"option[value='{job_id}']")
        option.click()
        if Select(element).first_selected_option.get_attribute("value") != job_id:
            raise AssertionError(f"job {job_id} not selected")

    def click_node(self, switch_name):
        """Clicks the drawn switch (group) holding `switch_name`."""
        for g in self.driver.find_elements(By.CSS_SELECTOR, "#fabric g.node"):
            if switch_name in g.get_attribute("data-members").split(" "):
                g.find_element(By.TAG_NAME, "rect").click()
                return
        raise AssertionError(f"{switch_name} not drawn")

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def screenshot(self, path):
        self.driver.save_screenshot(path)
        return path
