"""pulse-plan's output: the default summary (top N channels, jobs, flows, max utilisation, loaded
channels) agrees with the full channel list (--channels all, --all-links) and the flow list
(--flows) of the same placement, on the lab fabric with two jobs and a failed uplink.

Usage: pulse_plan_test.py PULSE_PLAN EXAMPLES_DIR
"""

import os
import re
import subprocess
import sys
import unittest

PLAN = sys.argv[1] if len(sys.argv) > 1 else "build/tools/pulse-plan"
EXAMPLES = sys.argv[2] if len(sys.argv) > 2 else "examples"
ROW = re.compile(r"^(?P<channel>.+?)\s+(?P<load>\d+\.\d\d)\s+(?P<capacity>\d+)\s+"
                 r"(?P<util>\d+\.\d)%\s*(?P<down>\(down\))?$")


def plan(*args, check=True):
    cmd = [PLAN, "--fabric", os.path.join(EXAMPLES, "leaf-spine.yaml"),
           "--job", os.path.join(EXAMPLES, "alltoall.yaml"),
           "--job", os.path.join(EXAMPLES, "jobs", "lab-pair.yaml"),
           "--fail-link", "leaf-0:3", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} exited {res.returncode}: {res.stderr}")
    return res


def parse(out):
    """{'listing': title line, 'channels': [row dicts], 'jobs': [(id, flows, max_load)],
    'flows': flow rows (with --flows), 'totals': {...}} from one run's output."""
    lines = out.splitlines()
    parsed = {"channels": [], "jobs": [], "flows": 0}
    i = next(n for n, l in enumerate(lines) if l.startswith(("the ", "every ")))
    parsed["listing"] = lines[i]
    i += 1
    if i < len(lines) and lines[i].startswith("channel "):
        i += 1
        while i < len(lines) and lines[i]:
            m = ROW.match(lines[i])
            assert m, f"not a channel row: {lines[i]!r}"
            parsed["channels"].append(m.groupdict())
            i += 1
    for n, line in enumerate(lines):
        if line.startswith("job ") and "path" in line:  # --flows table
            k = n + 1
            while k < len(lines) and lines[k]:
                parsed["flows"] += 1
                k += 1
        if line.startswith("job ") and "pattern" in line:  # one line per job
            k = n + 1
            while k < len(lines) and lines[k]:
                f = lines[k].split()
                parsed["jobs"].append((f[0], int(f[3]), float(f[5])))
                k += 1
    m = re.search(r"^jobs: (\d+), flows: (\d+)$", out, re.M)
    assert m, out
    t = re.search(r"^fabric max utilisation (\d+\.\d+) over (\d+) links \((\d+) channels\), "
                  r"(\d+) channels loaded$", out, re.M)
    assert t, out
    parsed["totals"] = {"jobs": int(m.group(1)), "flows": int(m.group(2)),
                        "max_util": float(t.group(1)), "links": int(t.group(2)),
                        "channels": int(t.group(3)), "loaded": int(t.group(4))}
    return parsed


class PulsePlanOutput(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.full = parse(plan("--channels=all", "--flows").stdout)
        cls.every = parse(plan("--all-links").stdout)

    def test_full_list_is_every_loaded_channel_busiest_first(self):
        rows = self.full["channels"]
        self.assertTrue(all(float(r["load"]) > 0 for r in rows), rows)
        utils = [float(r["util"]) for r in rows]
        self.assertEqual(utils, sorted(utils, reverse=True))
        self.assertEqual(self.full["listing"], f"every loaded channel ({len(rows)}), busiest first:")
        # The failed uplink's two channels carry nothing: fewer loaded than all channels.
        self.assertLess(len(rows), self.full["totals"]["channels"])
        every = self.every["channels"]
        self.assertEqual(len(every), self.every["totals"]["channels"])
        self.assertEqual(every[:len(rows)], rows)
        self.assertTrue(all(float(r["load"]) == 0 for r in every[len(rows):]))
        self.assertEqual(sum(r["down"] is not None for r in every), 2)

    def test_default_summary_matches_the_full_list(self):
        full = self.full
        out = plan().stdout
        summary = parse(out)
        self.assertLess(len(out.splitlines()), 40)
        loaded = len(full["channels"])
        top = min(20, loaded)
        self.assertEqual(summary["listing"],
                         f"the {top} most loaded of {loaded} loaded channels (--top N for more, "
                         f"--channels all for every one):")
        self.assertEqual(summary["channels"], full["channels"][:top])
        totals = summary["totals"]
        self.assertEqual(totals, full["totals"])
        self.assertEqual(totals["loaded"], loaded)
        self.assertEqual(totals["jobs"], len(full["jobs"]))
        self.assertEqual(totals["jobs"], 2)
        self.assertEqual(totals["flows"], sum(flows for _, flows, _ in full["jobs"]))
        self.assertEqual(totals["flows"], full["flows"])
        self.assertAlmostEqual(totals["max_util"], float(full["channels"][0]["util"]) / 100,
                               places=3)
        self.assertAlmostEqual(totals["max_util"], max(load for _, _, load in full["jobs"]),
                               places=3)
        self.assertEqual(summary["jobs"], full["jobs"])
        self.assertEqual(summary["flows"], 0)  # no flow list by default

    def test_top_n(self):
        for args in (["--top=3"], ["--top", "3"]):
            summary = parse(plan(*args).stdout)
            self.assertEqual(summary["channels"], self.full["channels"][:3], args)
        summary = parse(plan("--top=0").stdout)
        self.assertEqual(summary["channels"], [])
        self.assertEqual(summary["totals"], self.full["totals"])
        loaded = len(self.full["channels"])
        summary = parse(plan(f"--top={loaded + 10}").stdout)
        self.assertEqual(summary["channels"], self.full["channels"])
        self.assertTrue(summary["listing"].startswith(f"the {loaded} most loaded of {loaded} "))

    def test_bad_flags_are_refused_with_usage(self):
        for args, message in ((["--top=-1"], "--top '-1'"), (["--top", "x"], "--top 'x'"),
                              (["--channels=some"], "--channels 'some'"),
                              (["--flows=yes"], "--flows takes no value"),
                              (["--top"], "--top needs a value")):
            res = plan(*args, check=False)
            self.assertEqual(res.returncode, 1, args)
            self.assertIn(message, res.stderr, args)
            self.assertIn("usage: pulse-plan", res.stderr, args)

    def test_help_names_the_summary_flags(self):
        res = subprocess.run([PLAN, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(res.returncode, 0)
        for flag in ("--top N", "--channels top|all", "--all-links", "--flows", "--steer"):
            self.assertIn(flag, res.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
