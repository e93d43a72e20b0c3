#!/usr/bin/python3
"""Validate what Pulse writes for SONiC against SONiC's YANG models, for whole fabrics:

  (a) `pulsectl qos export --format sonic` of every switch, and
  (b) what the SONiC driver really writes: every switch of the fabric (up to --max-sonic, the
      first of each role first) is made `driver: sonic` with its own redis-server (no
      persistence, SONiC's database numbering), the daemon runs until each is in-sync, and
      CONFIG_DB (db 4) is dumped with redis-cli,
then converted (configdb_to_yang_json.py, PORT stubs standing for the platform's PORT table) and
checked with `yanglint -t config` against every model in --models.

A builder fabric is handed to the daemon as the same fabric with explicit switches (pulse-fabric
prints it; the intent's `cables:` section is kept), since `driver: sonic` is a per-switch key.

  tools/sonic/check_pulse_writes.py --models /tmp/sonic-yang/models --build build \
      examples/explicit.yaml examples/leaf-spine.yaml ...

--qos-policy FILE runs the daemon with that QoS policy (e.g. an ASIC profile whose
platform_pools give BUFFER_POOL sizes, or a pool big enough for 128-port switches).

Prints one line per fabric and part: tables, entries, yanglint's verdict; exit 1 on any refusal.
Needs redis-server, redis-cli, yanglint, a built pulse-controller, pulsectl and pulse-fabric.
Runs only on loopback (free ports, unix sockets in a private folder).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import configdb_to_yang_json as conv  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def explicit_intent(build, fabric_path):
    """The fabric with explicit switches and links, as YAML text (JSON is YAML)."""
    with open(fabric_path) as f:
        text = f.read()
    fabric = json.loads(subprocess.run(
        [os.path.join(build, "tools", "pulse-fabric"), "--fabric", fabric_path],
        capture_output=True, text=True, check=True).stdout)
    switch_names = {s["name"] for s in fabric["switches"]}
    host_nic = {h["name"]: h["nic"] for h in fabric["hosts"]}
    servers = {}
    for nic in host_nic.values():
        server = nic.split("/")[0]
        servers[server] = servers.get(server, 0) + 1
    links = []
    for l in fabric["links"]:
        ends = []
        for end, port in ((l["a"], l["a_port"]), (l["b"], l["b_port"])):
            ends.append(f"{end}:{port}" if end in switch_names else host_nic[end])
        links.append({"a": ends[0], "b": ends[1], "speed": str(l["speed_bps"])})
    intent = {
        "name": fabric["name"],
        "switches": [{k: s[k] for k in ("name", "role", "dpid") if k in s}
                     for s in fabric["switches"]],
        "servers": [{"name": n, "nics": c} for n, c in sorted(servers.items())],
        "links": links,
        "address_plan": "none",
    }
    lines = [f"{k}: {json.dumps(v)}" for k, v in intent.items() if k != "switches"]
    lines.append("switches:")
    lines += [f"  - {json.dumps(s)}" for s in intent["switches"]]
    cables = text.find("\ncables:")
    if cables >= 0:  # keep the intent's cable lengths
        block = [text[cables + 1:].splitlines()[0]]
        for line in text[cables + 1:].splitlines()[1:]:
            if line and not line[0].isspace():
                break
            block.append(line)
        lines += block
    return "\n".join(lines) + "\n", [s["name"] for s in fabric["switches"]], \
        {s["name"]: s["role"] for s in fabric["switches"]}


def pick_sonic(names, roles, limit):
    """All switches if they fit, else the first of each role, then the rest in order."""
    if len(names) <= limit:
        return list(names)
    first = []
    for n in names:
        if roles[n] not in {roles[f] for f in first}:
            first.append(n)
    rest = [n for n in names if n not in first]
    return (first + rest)[:limit]


def with_sonic_drivers(intent_text, sonic):
    """Adds `driver: sonic, redis: unix:SOCK` to the flow-style entries of these switches."""
    out = []
    for line in intent_text.splitlines():
        stripped = line.strip()
        for name, sock in sonic.items():
            for form in (f'{{"name": "{name}"', f"{{name: {name},"):
                if stripped.startswith("- " + form):
                    line = line.rstrip().rstrip("}") + \
                        f', driver: sonic, redis: "unix:{sock}"}}'
        out.append(line)
    return "\n".join(out) + "\n"


FIRST = ("sonic-device_metadata.yang", "sonic-mgmt_vrf.yang", "sonic-system-tacacs.yang")


def yanglint(models, data_path):
    # Modules other models' must/when expressions reference go first, so those are compiled.
    files = [os.path.join(models, f) for f in FIRST if os.path.exists(os.path.join(models, f))]
    files += sorted(os.path.join(models, f) for f in os.listdir(models)
                    if f.endswith(".yang") and f not in FIRST)
    r = subprocess.run(["yanglint", "-t", "config", "-p", models, *files, data_path],
                       capture_output=True, text=True)
    errors = [l for l in (r.stderr + r.stdout).splitlines() if "libyang err" in l]
    return r.returncode, errors, r.stderr + r.stdout


def check(models, tables, entries, stub_speed, work, label):
    entries = {**conv.stub_ports(entries, stub_speed), **entries}
    data, counts, skipped = conv.convert(entries, tables)
    path = os.path.join(work, label.replace("/", "_") + ".json")
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    rc, errors, text = yanglint(models, path)
    counts.pop("PORT", None)  # the stubs, not Pulse's
    return rc, errors, text, counts, skipped


def run_fabric(args, tables, fabric_path, work):
    build = args.build
    original = open(fabric_path).read()
    if "\nswitches:" in "\n" + original:
        names = [l.split("name:")[1].split(",")[0].strip() for l in original.splitlines()
                 if l.strip().startswith("- {name:") and "role:" in l]
        roles = {n: "?" for n in names}
        intent_text = original
    else:
        intent_text, names, roles = explicit_intent(build, fabric_path)
    sonic_names = pick_sonic(names, roles, args.max_sonic)
    fab_dir = tempfile.mkdtemp(prefix="fab-", dir=work)
    redis, socks = [], {}
    try:
        for n in sonic_names:
            d = os.path.join(fab_dir, n)
            os.makedirs(d)
            socks[n] = os.path.join(d, "redis.sock")
            redis.append(subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", socks[n], "--save", "",
                 "--appendonly", "no", "--dir", d, "--notify-keyspace-events", "KEA",
                 "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        intent_path = os.path.join(fab_dir, "fabric.yaml")
        with open(intent_path, "w") as f:
            f.write(with_sonic_drivers(intent_text, socks))
        api, of, metrics = free_port(), free_port(), free_port()
        cfg = os.path.join(fab_dir, "pulse.yaml")
        with open(cfg, "w") as f:
            f.write(f"listen: 127.0.0.1:{api}\nfabric: {intent_path}\n"
                    f"state_dir: {fab_dir}/state\ninsecure: true\nlog_level: warning\n"
                    f"openflow:\n  listen: 127.0.0.1:{of}\nmetrics_listen: 127.0.0.1:{metrics}\n")
            if args.qos_policy:
                f.write(f"qos:\n  policy_file: {os.path.abspath(args.qos_policy)}\n")
        logf = open(os.path.join(fab_dir, "controller.log"), "w")
        daemon = subprocess.Popen([os.path.join(build, "daemon", "pulse-controller"),
                                   "--config", cfg], stdout=logf, stderr=subprocess.STDOUT)
        ctl = [os.path.join(build, "northbound", "pulsectl"), "--server", f"127.0.0.1:{api}",
               "--insecure"]
        try:
            deadline, out = time.time() + 60, ""
            while time.time() < deadline:
                if daemon.poll() is not None:
                    raise RuntimeError(f"pulse-controller exited: see {fab_dir}/controller.log")
                r = subprocess.run(ctl + ["health", "incidents"], capture_output=True, text=True)
                out = r.stdout
                if r.returncode == 0 and out.count(" in-sync ") >= len(sonic_names):
                    break
                time.sleep(0.3)
            else:
                raise RuntimeError(f"SONiC switches not in sync:\n{out}")
            def validate(label, prefix, switches, entries_of):
                """Every switch's entries checked; (label, switches, entries by table, total,
                failures, tables skipped). entries_of(n) is None when it already failed."""
                by_table, fails, skipped = {}, [], set()
                for n in switches:
                    entries = entries_of(n, fails)
                    if entries is None:
                        continue
                    rc, errors, text, counts, sk = check(
                        args.models, tables, entries, args.stub_port_speed, fab_dir,
                        f"{prefix}-{n}")
                    skipped |= sk
                    for t, c in counts.items():
                        by_table[t] = by_table.get(t, 0) + c
                    if rc != 0:
                        fails.append(f"{label} {n}: " + "\n".join(errors or [text]))
                return (label, len(switches), by_table, sum(by_table.values()), fails, skipped)

            def exported(n, fails):  # (a) the export of every switch
                r = subprocess.run(ctl + ["qos", "export", "--format", "sonic", "--switch", n],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    fails.append(f"{n}: {r.stderr.strip()}")
                    return None
                return conv.entries_from_config_db_json(json.loads(r.stdout))

            def written(n, fails):  # (b) what the driver wrote
                entries = conv.dump_redis("unix:" + socks[n], 4)
                with open(os.path.join(fab_dir, f"configdb-{n}.dump.json"), "w") as f:
                    json.dump(entries, f, indent=1, sort_keys=True)
                return entries

            results = [validate("export", "export", names, exported),
                       validate("CONFIG_DB", "configdb", sonic_names, written)]
            return results
        finally:
            daemon.terminate()
            daemon.wait(timeout=20)
            logf.close()
    finally:
        for p in redis:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fabrics", nargs="+")
    ap.add_argument("--models", required=True, help="folder of SONiC .yang files")
    ap.add_argument("--build", default="build")
    ap.add_argument("--max-sonic", type=int, default=24,
                    help="at most this many SONiC-driven switches per fabric")
    ap.add_argument("--stub-port-speed", type=int, default=400000)
    ap.add_argument("--qos-policy", help="the daemon's qos.policy_file (default: built-in policy)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (data files)")
    args = ap.parse_args()
    tables = conv.load_schema(args.models)
    work = tempfile.mkdtemp(prefix="pulse-sonic-yang-")
    bad = 0
    try:
        for fabric in args.fabrics:
            for part, switches, per_table, total, fails, skipped in run_fabric(
                    args, tables, fabric, work):
                verdict = "0 errors" if not fails else f"{len(fails)} REFUSED"
                print(f"{fabric}: {part}: {switches} switches, {len(per_table)} tables, "
                      f"{total} entries: {verdict}")
                print("    " + ", ".join(f"{t} {c}" for t, c in sorted(per_table.items())))
                if skipped:
                    print("    no YANG model (not validated): " + ", ".join(sorted(skipped)))
                for f in fails:
                    print("    " + f.replace("\n", "\n    "))
                bad += len(fails)
    finally:
        if args.keep:
            print(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
