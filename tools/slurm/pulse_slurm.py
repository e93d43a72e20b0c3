#!/usr/bin/python3
"""Slurm PrologSlurmctld / EpilogSlurmctld for Pulse: place each job's collective on the fabric.

prolog   (PrologSlurmctld): expands SLURM_JOB_NODELIST with `scontrol show hostnames`, maps the
         Slurm node names to Pulse servers (the intent's node_names, read from the live topology
         export) and places job "slurm-<SLURM_JOB_ID>" over all their GPUs in node order with
         `pulsectl jobs place`. Writes what the job reads to STATE_DIR/job-<id>/:
           nccl.env      NCCL_IB_TC, NCCL_IB_QPS_PER_CONNECTION (and SPLIT_DATA_ON_QPS), PULSE_*;
           steering.cfg  one line per NIC pair: "src_nic,dst_nic=port,port,..." (the RoCEv2 UDP
                         source ports that steer each QP onto its planned path);
           hostfile      the nodes in rank order.
         In strict mode a failed placement fails the prolog (exit 1): Slurm requeues a batch job
         and fails srun/salloc. Otherwise the failure is logged and the job runs unplaced.
epilog   (EpilogSlurmctld): deletes the job in Pulse and its STATE_DIR entry.

The job's comment may carry options: `sbatch --comment "pulse:pattern=all-to-all,rate=50G,
subflows=4,tc=3,gpus=8,strict"` (each optional; `nostrict` turns strict mode off for the job).

Settings (environment, usually from the file named by PULSE_SLURM_CONF, sourced by the wrappers
pulse-prolog / pulse-epilog; defaults in brackets):
  PULSECTL [pulsectl on PATH]   PULSE_SERVER, PULSE_TOKEN (read by pulsectl)
  PULSECTL_FLAGS [""]           e.g. "--insecure" or "--ca /etc/pulse/ca.pem"
  PULSE_SLURM_STATE_DIR [/var/lib/pulse-slurm]  (shared with the compute nodes)
  PULSE_SLURM_PATTERN [ring]    PULSE_SLURM_STRICT [0]    PULSE_NCCL_IB_TC [106]
  PULSE_SLURM_LOG [stderr]      SCONTROL [scontrol]
"""
import json
import os
import re
import shlex
import subprocess
import sys
import time

PATTERNS = ("ring", "double-binary-tree", "all-to-all", "halving-doubling", "rail-aligned")


def log(message):
    line = "%s pulse-slurm[%s] job %s: %s\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%S"), os.getpid(), os.environ.get("SLURM_JOB_ID", "?"),
        message)
    path = os.environ.get("PULSE_SLURM_LOG")
    if path:
        with open(path, "a") as f:
            f.write(line)
    else:
        sys.stderr.write(line)


def pulsectl(*args, check=True):
    command = [os.environ.get("PULSECTL", "pulsectl")]
    command += shlex.split(os.environ.get("PULSECTL_FLAGS", ""))
    command += list(args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args[:3]), result.stderr.strip()))
    return result


def hostnames(nodelist):
    scontrol = os.environ.get("SCONTROL", "scontrol")
    out = subprocess.run([scontrol, "show", "hostnames", nodelist], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return [h for h in out.split() if h]


def job_comment(job_id):
    """The job's comment (Slurm 22.05 does not put it in the PrologSlurmctld environment)."""
    if os.environ.get("SLURM_JOB_COMMENT") is not None:
        return os.environ["SLURM_JOB_COMMENT"]
    scontrol = os.environ.get("SCONTROL", "scontrol")
    out = subprocess.run([scontrol, "show", "job", "-o", job_id], capture_output=True,
                         text=True, timeout=30).stdout
    # One line of Key=Value fields; Comment's value may hold spaces, so it ends where the next
    # " Key=" (Slurm's keys are CamelCase words) starts.
    match = re.search(r"(?:^|\s)Comment=(.*?)(?=\s[A-Z][A-Za-z:]*=|$)", out.strip())
    value = match.group(1).strip() if match else ""
    return "" if value == "(null)" else value


def parse_comment(comment):
    """Options from "pulse:k=v,k=v,flag" anywhere in the comment; {} when none."""
    options = {}
    for word in comment.split():
        if not word.startswith("pulse:"):
            continue
        for item in word[len("pulse:"):].split(","):
            if not item:
                continue
            key, _, value = item.partition("=")
            options[key] = value if value else "1"
    return options


def state_dir(job_id):
    return os.path.join(os.environ.get("PULSE_SLURM_STATE_DIR", "/var/lib/pulse-slurm"),
                        "job-%s" % job_id)


def write_whole(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def build_job(job_id, nodes, options):
    """The Pulse job file for the allocation: endpoints are the nodes' GPUs in node order."""
    topo = json.loads(pulsectl("topology", "export", "--format", "json").stdout)
    by_node = {s["node_name"]: s for s in topo["servers"]}
    endpoints = []
    per_node = options.get("gpus")
    for node in nodes:
        server = by_node.get(node)
        if server is None:
            raise RuntimeError("node %s is no server of fabric '%s' (intent node_names)"
                               % (node, topo.get("fabric")))
        names = server["gpus"] or server["nics"]
        if per_node:
            names = names[:int(per_node)]
        endpoints += names
    pattern = options.get("pattern", os.environ.get("PULSE_SLURM_PATTERN", "ring"))
    if pattern not in PATTERNS:
        raise RuntimeError("pattern '%s' (expected one of %s)" % (pattern, ", ".join(PATTERNS)))
    lines = ["id: slurm-%s" % job_id, "pattern: %s" % pattern, "endpoints:"]
    lines += ["  - %s" % e for e in endpoints]
    if "rate" in options:
        lines.append("rate: %s" % options["rate"])
    if "subflows" in options:
        lines.append("max_subflows: %d" % int(options["subflows"]))
    if "tc" in options:
        lines.append("traffic_class: %d" % int(options["tc"]))
    return "\n".join(lines) + "\n"


def field(message, name):
    """A field of pulsectl's proto JSON (lowerCamelCase), by its proto name."""
    parts = name.split("_")
    camel = parts[0] + "".join(p.title() for p in parts[1:])
    return message.get(camel, message.get(name))


def write_settings(job_id, nodes, placed, directory, options):
    spec = placed["spec"]
    subflows = int(field(spec, "max_subflows") or options.get("subflows") or 1)
    env = {
        "PULSE_JOB_ID": spec["id"],
        "PULSE_RANK_NODES": ",".join(nodes),
        "PULSE_MAX_LINK_LOAD": "%.6f" % (field(placed, "max_link_load") or 0),
        "PULSE_STEERING_FILE": os.path.join(directory, "steering.cfg"),
        "NCCL_IB_TC": os.environ.get("PULSE_NCCL_IB_TC", "106"),
        "NCCL_IB_QPS_PER_CONNECTION": str(subflows),
    }
    if subflows > 1:
        env["NCCL_IB_SPLIT_DATA_ON_QPS"] = "1"
    write_whole(os.path.join(directory, "nccl.env"),
                "".join("%s=%s\n" % (k, v) for k, v in sorted(env.items())))
    ports = {}
    for flow in placed.get("flows", []):
        port = field(flow, "udp_src_port") or 0
        if port:
            ports.setdefault((flow["src"], flow["dst"]), []).append(port)
    write_whole(os.path.join(directory, "steering.cfg"),
                "".join("%s,%s=%s\n" % (src, dst, ",".join(str(p) for p in sorted(v)))
                        for (src, dst), v in sorted(ports.items())))
    write_whole(os.path.join(directory, "hostfile"), "".join(n + "\n" for n in nodes))


def prolog():
    job_id = os.environ["SLURM_JOB_ID"]
    options = parse_comment(job_comment(job_id))
    strict = options.get("strict", os.environ.get("PULSE_SLURM_STRICT", "0")) not in ("0", "")
    if "nostrict" in options:
        strict = False
    try:
        nodes = hostnames(os.environ["SLURM_JOB_NODELIST"])
        directory = state_dir(job_id)
        os.makedirs(directory, exist_ok=True)
        job_file = os.path.join(directory, "job.yaml")
        text = build_job(job_id, nodes, options)
        if strict:
            text += "strict: true\n"
        write_whole(job_file, text)
        if text.count("\n  - ") < 2:
            # One rank: nothing crosses the fabric, nothing to place.
            write_settings(job_id, nodes, {"spec": {"id": "slurm-%s" % job_id}}, directory,
                           options)
            log("one rank on %s: nothing to place" % ",".join(nodes))
            return 0
        placed = pulsectl("jobs", "place", "-f", job_file, check=False)
        if placed.returncode != 0 and "ALREADY_EXISTS" in placed.stderr:
            # A requeued job whose epilog did not run: place it afresh on its new nodes.
            pulsectl("jobs", "delete", "slurm-%s" % job_id, check=False)
            placed = pulsectl("jobs", "place", "-f", job_file, check=False)
        if placed.returncode != 0:
            raise RuntimeError("placement refused: %s" % placed.stderr.strip())
        job = json.loads(pulsectl("--json", "jobs", "show", "slurm-%s" % job_id).stdout)["job"]
        write_settings(job_id, nodes, job, directory, options)
        log("placed slurm-%s on %s (%s, max link load %.3f)"
            % (job_id, ",".join(nodes), job["spec"].get("pattern", "?"),
               field(job, "max_link_load") or 0))
        return 0
    except Exception as e:  # every failure ends here: the prolog must answer Slurm
        if strict:
            log("strict: placement failed, failing the prolog (Slurm requeues): %s" % e)
            return 1
        log("placement failed, job runs unplaced: %s" % e)
        return 0


def epilog():
    job_id = os.environ["SLURM_JOB_ID"]
    result = pulsectl("jobs", "delete", "slurm-%s" % job_id, check=False)
    if result.returncode == 0:
        log("deleted slurm-%s" % job_id)
    elif "NOT_FOUND" in result.stderr:
        log("slurm-%s was not placed" % job_id)
    else:
        log("delete failed: %s" % result.stderr.strip())
    directory = state_dir(job_id)
    for name in ("nccl.env", "steering.cfg", "hostfile", "job.yaml"):
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass
    return 0


def main(argv):
    if len(argv) != 2 or argv[1] not in ("prolog", "epilog"):
        sys.stderr.write("usage: pulse_slurm.py prolog|epilog (run by slurmctld)\n")
        return 2
    return prolog() if argv[1] == "prolog" else epilog()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
