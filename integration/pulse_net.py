"""Mininet labs built from Pulse intent files, for the integration suite.

A lab is the fabric an intent file describes (exported by `pulse-fabric`, so Mininet and the
controller read the same file), made of Open vSwitch bridges on the userspace datapath with one
Mininet host per NIC. Run with /usr/bin/python3 (Debian's, which sees Mininet) as root.

Everything the suite asserts comes from the switches and the hosts: `ovs-ofctl` flow, group and
port counters, ping and iperf3 results. Nothing here trusts the controller's own view.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from mininet.clean import cleanup as mininet_cleanup
from mininet.link import Link, TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController

SOURCE_DIR = os.environ.get(
    "PULSE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY_DIR = os.environ.get("PULSE_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))


def binary(name):
    """Path of a built Pulse program."""
    for sub in ("daemon", "northbound", "tools", "southbound/openflow", ""):
        path = os.path.join(BINARY_DIR, sub, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name} not built under {BINARY_DIR}")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, check=True, timeout=60):
    """Runs a command in the root namespace, returns stdout."""
    res = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({res.returncode}): {res.stderr.strip()}")
    return res.stdout


def ensure_ovs():
    """Starts ovsdb-server and ovs-vswitchd (userspace datapath needs no kernel module)."""
    if subprocess.run(["ovs-vsctl", "--timeout=2", "show"], capture_output=True).returncode == 0:
        return
    run(["/usr/share/openvswitch/scripts/ovs-ctl", "start", "--system-id=random"], check=False,
        timeout=60)
    for _ in range(50):
        if subprocess.run(["ovs-vsctl", "--timeout=2", "show"],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("Open vSwitch did not start")


def datapath_send_buffer_bytes():
    """The send buffer of the userspace datapath's packet socket, or None before it exists.

    ovs-vswitchd sends on every system port through ONE AF_PACKET socket, created on its first
    send with net.core.wmem_default as its buffer. Every frame still queued in any port's qdisc
    is charged to that buffer, and when it is full the kernel refuses the sends to ALL ports
    (ENOBUFS; OVS drops the batch)."""
    for line in run(["ss", "-0", "-m", "-p"], check=False).splitlines():
        if "ovs-vswitchd" in line and "[0]:*" in line:
            m = re.search(r"\btb(\d+)", line)
            if m:
                return int(m.group(1))
    return None


def ensure_datapath_send_buffer(test, min_bytes):
    """Makes the userspace datapath's shared send buffer at least min_bytes (see
    datapath_send_buffer_bytes): with the default 208 KiB about a dozen queued jumbo frames on
    one congested port stall every port of every switch, which no real switch does. Sets
    net.core.wmem_default for the socket's creation, restarting ovs-vswitchd when its socket
    was already made smaller; the sysctl gets its old value back when the test ends (the socket
    keeps its size). Call before the lab starts."""
    ensure_ovs()
    have = datapath_send_buffer_bytes()
    if have is not None and have >= min_bytes:
        return
    sysctl = "/proc/sys/net/core/wmem_default"
    with open(sysctl) as f:
        old = f.read().strip()
    with open(sysctl, "w") as f:
        f.write(str(min_bytes))

    def restore():
        with open(sysctl, "w") as f:
            f.write(old)
    test.addCleanup(restore)
    if have is not None:
        run(["ovs-appctl", "-t", "ovs-vswitchd", "exit"], check=False)
        run(["/usr/share/openvswitch/scripts/ovs-ctl", "--no-ovsdb-server", "start",
             "--system-id=random"], check=False, timeout=60)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sonic_redis(tmp, name):
    """A redis-server standing in for one SONiC switch's databases: unix socket only (no TCP
    port), no persistence, keyspace notifications on (the SONiC driver repairs edits from them).
    Returns (process, socket path) once the socket exists; the caller terminates it."""
    sock = os.path.join(tmp, f"{name}.sock")
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
         "--dir", tmp, "--notify-keyspace-events", "KEA", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return proc, sock


def export_fabric(intent_path, miswire=None):
    cmd = [binary("pulse-fabric"), "--fabric", intent_path]
    if miswire:
        cmd += ["--miswire", miswire]
    return json.loads(run(cmd))


def switch_names(fabric, role):
    """Names of the exported fabric's switches of `role` ("leaf", "spine", "super-spine"): the
    tier the intent declares (pulse-fabric's `role`), never guessed from a name, since an
    operator's fabric names its switches as it likes."""
    return [s["name"] for s in fabric["switches"] if s["role"] == role]


class DirectRemoteController(RemoteController):
    """Mininet's RemoteController, checking the controller's port with a plain connect.

    Mininet's own check pipes into telnet through the controller node's shell and waits for the
    shell's prompt; that hung twice in a loaded run, before any of the test's code ran. The check
    only decides whether to warn, so a direct connect with a timeout does the same job."""

    def checkListening(self):
        try:
            socket.create_connection((self.ip, self.port), timeout=2).close()
        except OSError:
            log(f"warning: no controller listening at {self.ip}:{self.port} yet")


class PulseLab:
    """A Mininet fabric from an intent file, its switches pointed at a controller port.

    bw_mbps caps every link with TCLink (htb) so throughput is set by the fabric, not the CPU;
    None leaves links uncapped.
    """

    def __init__(self, intent_path, of_port, bw_mbps=None, miswire=None, fail_mode="secure"):
        self.intent_path = intent_path
        self.fabric = export_fabric(intent_path, miswire)
        self.of_port = of_port
        self.bw_mbps = bw_mbps
        self.fail_mode = fail_mode
        self.net = None

    def start(self):
        ensure_ovs()
        mininet_cleanup_quiet()
        setLogLevel("warning")
        link_cls = TCLink if self.bw_mbps else Link
        net = Mininet(controller=None, switch=OVSSwitch, link=link_cls, autoSetMacs=False,
                      build=False)
        net.addController(DirectRemoteController("c0", ip="127.0.0.1", port=self.of_port))
        for sw in self.fabric["switches"]:
            net.addSwitch(sw["name"], dpid="%016x" % sw["dpid"], datapath="user",
                          protocols="OpenFlow13", failMode=self.fail_mode)
        for h in self.fabric["hosts"]:
            # Addresses from the intent's model; a NIC the intent leaves to be learned gets none
            # here (the test sets its own).
            net.addHost(h["name"], ip=(f'{h["ip"]}/{h["prefix_length"]}' if h["ip"] else None),
                        mac=h["mac"] or None)
        hosts = {h["name"] for h in self.fabric["hosts"]}
        for l in self.fabric["links"]:
            opts = {"bw": self.bw_mbps} if self.bw_mbps else {}
            a_is_host = l["a"] in hosts
            net.addLink(l["a"], l["b"], port1=(0 if a_is_host else l["a_port"]),
                        port2=l["b_port"], **opts)
        net.build()
        net.start()
        for h in net.hosts:
            # TCP through the userspace datapath needs checksum offload off (environment notes).
            h.cmd("ethtool -K %s tx off >/dev/null 2>&1" % h.defaultIntf())
        self.net = net
        return self

    def stop(self):
        if self.net is not None:
            with contextlib.suppress(Exception):
                self.net.stop()
            self.net = None
        mininet_cleanup_quiet()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- what the fabric is (from pulse-fabric's export) ----
    def switch_names(self, role):
        """Names of the lab's switches of `role` ("leaf", "spine", "super-spine")."""
        return switch_names(self.fabric, role)

    def is_host(self, name):
        """Whether `name` is one of the lab's hosts (one per NIC), not a switch."""
        return any(h["name"] == name for h in self.fabric["hosts"])

    def nic_ports(self):
        """{NIC: (switch, port)}: the switch port (on a leaf) each host's NIC is cabled to."""
        nic_of = {h["name"]: h["nic"] for h in self.fabric["hosts"]}
        out = {}
        for l in self.fabric["links"]:
            for a, b, b_port in ((l["a"], l["b"], l["b_port"]), (l["b"], l["a"], l["a_port"])):
                if a in nic_of:
                    out[nic_of[a]] = (b, b_port)
        return out

    # ---- reading the switches ----
    def host(self, name):
        return self.net.get(name)

    def host_of_nic(self, nic_name):
        for h in self.fabric["hosts"]:
            if h["nic"] == nic_name:
                return self.net.get(h["name"])
        raise KeyError(nic_name)

    def wait_connected(self, timeout_s=30):
        """Waits until every bridge reports its controller connection is up."""
        deadline = time.time() + timeout_s
        names = [s["name"] for s in self.fabric["switches"]]
        while time.time() < deadline:
            out = run("ovs-vsctl --timeout=5 --columns=is_connected find controller", check=False)
            if out.count("true") >= len(names):
                return True
            time.sleep(0.5)
        return False

    def dump_flows(self, switch):
        return run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch]).splitlines()[1:]

    def dump_groups(self, switch):
        return run(["ovs-ofctl", "-O", "OpenFlow13", "dump-groups", switch]).splitlines()[1:]

    def port_tx_bytes(self, switch):
        """{port_number: tx_bytes} from the switch's own counters."""
        out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", switch])
        result = {}
        for m in re.finditer(r"port\s+\"?(\w+)\"?:\s*rx pkts=\d+, bytes=(\d+).*?\n\s*tx pkts=\d+,"
                             r" bytes=(\d+)", out, re.S):
            if m.group(1).isdigit():
                result[int(m.group(1))] = int(m.group(3))
        return result

    def uplink_tx(self):
        """{(leaf, spine): tx bytes} of every leaf-to-spine uplink, from the leaves' own port
        counters (summed over parallel links)."""
        out = {}
        spines = self.switch_names("spine")
        for leaf in self.switch_names("leaf"):
            tx = self.port_tx_bytes(leaf)
            for spine in spines:
                for port in self.switch_ports_to(leaf, spine):
                    out[(leaf, spine)] = out.get((leaf, spine), 0) + tx.get(port, 0)
        return out

    def port_rx_bytes(self, switch):
        out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", switch])
        result = {}
        for m in re.finditer(r"port\s+\"?(\w+)\"?:\s*rx pkts=\d+, bytes=(\d+)", out):
            if m.group(1).isdigit():
                result[int(m.group(1))] = int(m.group(2))
        return result

    def set_link(self, a, b, up):
        """Takes the link between nodes a and b down or up, from both ends."""
        self.net.configLinkStatus(a, b, "up" if up else "down")

    def switch_ports_to(self, switch, peer):
        """Port numbers on `switch` whose link goes to `peer`."""
        ports = []
        for l in self.fabric["links"]:
            if l["a"] == switch and l["b"] == peer:
                ports.append(l["a_port"])
            if l["b"] == switch and l["a"] == peer:
                ports.append(l["b_port"])
        return ports


def mininet_cleanup_quiet():
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
            contextlib.redirect_stderr(devnull):
        with contextlib.suppress(Exception):
            mininet_cleanup()


class Controller:
    """A pulse-controller process on loopback ports, with its own config and state dir."""

    def __init__(self, intent_path, of_port=None, api_port=None, state_dir=None, extra=None,
                 openflow_options=None, cluster=None):
        self.intent_path = os.path.abspath(intent_path)
        self.of_port = of_port or free_port()
        self.api_port = api_port or free_port()
        self.metrics_port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="pulse-it-")
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        self.extra = extra or {}  # top-level "key: value" lines
        self.openflow_options = openflow_options or {}  # more keys of the openflow section
        # Cluster mode: {"etcd_endpoints": [...], "name": ..., "replica_id": ...}; the state then
        # lives in etcd (no state_dir) and the replica advertises its own API address.
        self.cluster = cluster
        self.proc = None
        self.log_path = os.path.join(self.tmp, "controller.log")

    @property
    def api(self):
        return f"127.0.0.1:{self.api_port}"

    def write_config(self):
        lines = [
            f"listen: 127.0.0.1:{self.api_port}",
            f"fabric: {self.intent_path}",
            *([] if self.cluster else [f"state_dir: {self.state_dir}"]),
            "insecure: true",
            "log_level: info",
            "openflow:",
            f"  listen: 127.0.0.1:{self.of_port}",
            *[f"  {k}: {v}" for k, v in self.openflow_options.items()],
            f"metrics_listen: 127.0.0.1:{self.metrics_port}",
        ]
        if self.cluster:
            lines += ["cluster:",
                      f"  etcd_endpoints: [{', '.join(self.cluster['etcd_endpoints'])}]",
                      f"  name: {self.cluster['name']}",
                      f"  replica_id: {self.cluster['replica_id']}",
                      f"  advertise: {self.api}",
                      f"  lease_ttl_s: {self.cluster.get('lease_ttl_s', 2)}"]
        for k, v in self.extra.items():
            lines.append(f"{k}: {v}")
        path = os.path.join(self.tmp, "pulse.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, wait=True):
        cfg = self.write_config()
        if getattr(self, "logf", None):
            self.logf.close()  # a restart of the same controller appends to the same log
        self.logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([binary("pulse-controller"), "--config", cfg],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s=20):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulse-controller exited {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.api_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("pulse-controller did not listen:\n" + self.log_tail())

    def kill(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill(signal.SIGTERM)

    def log_tail(self, n=60):
        with contextlib.suppress(Exception):
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        return ""

    def pulsectl(self, *args, check=True, timeout=30):
        cmd = [binary("pulsectl"), "--server", self.api, "--insecure", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"pulsectl {' '.join(args)} failed: {res.stderr}{res.stdout}")
        return res.stdout

    def cleanup(self):
        self.stop()
        if getattr(self, "logf", None):
            self.logf.close()
        keep_dir = os.environ.get("PULSE_KEEP_LOGS")  # a directory to keep controller logs in
        if keep_dir and os.path.exists(self.log_path):
            os.makedirs(keep_dir, exist_ok=True)
            shutil.copy(self.log_path, os.path.join(
                keep_dir, f"controller-{os.path.basename(self.tmp)}.log"))
        shutil.rmtree(self.tmp, ignore_errors=True)


def iperf3_pair(lab, src, dst, seconds=5, udp=False, port=5201, bitrate=None, cport=None,
                tos=None):
    """Runs one bounded iperf3 flow from host src to host dst; returns received bits/s."""
    return float(iperf3_pair_summary(lab, src, dst, seconds, udp, port, bitrate, cport,
                                     tos).get("bits_per_second", 0.0))


def iperf3_pair_summary(lab, src, dst, seconds=5, udp=False, port=5201, bitrate=None, cport=None,
                        tos=None):
    """iperf3_pair's receiver summary ({"bytes", "bits_per_second", ...}; {} on failure).
    tos: the IPv4 TOS byte to mark the flow with (DSCP << 2)."""
    server = lab.host(dst).popen(["iperf3", "-s", "-1", "-p", str(port), "-J"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    args = ["iperf3", "-c", lab.fabric_ip(dst) if hasattr(lab, "fabric_ip") else
            lab.host(dst).IP(), "-p", str(port), "-t", str(seconds), "-J"]
    if udp:
        args += ["-u", "-b", bitrate or "50M"]
    if cport:
        args += ["--cport", str(cport)]
    if tos:
        args += ["-S", str(tos)]
    client = lab.host(src).popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, _ = client.communicate(timeout=seconds + 20)
    finally:
        with contextlib.suppress(Exception):
            server.kill()
    data = json.loads(out) if out.strip().startswith("{") else {}
    end = data.get("end", {})
    return end.get("sum_received") or end.get("sum") or {}


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


# ---- helpers for the failure and restart scenarios (owned by scenarios) ----

COUNTER_FIELDS = re.compile(r"\s*\b(duration|n_packets|n_bytes|idle_age|hard_age|packet_count|"
                            r"byte_count)=[^,\s]*,?")


def watchdog(test, seconds):
    """Ends the process with every thread's traceback if the unittest case `test` (with its
    cleanups) is not done within `seconds`: a stuck Mininet or OVS call then shows where it
    hung in the test's output, instead of a silent ctest timeout. The next lab's start-up
    cleans what is left behind."""
    import faulthandler
    faulthandler.dump_traceback_later(seconds, exit=True)
    test.addCleanup(faulthandler.cancel_dump_traceback_later)


def controlled_lab(test, intent_path, bw_mbps=None, miswire=None, extra=None):
    """Starts a controller and a lab of the same intent pointed at it, registers both teardowns
    with the unittest case `test` (so every exit path cleans up), and waits until every switch
    has connected. `extra`: more top-level config lines for the controller. Returns
    (controller, lab)."""
    ctl = Controller(intent_path, extra=extra).start()
    test.addCleanup(ctl.cleanup)
    lab = PulseLab(intent_path, of_port=ctl.of_port, bw_mbps=bw_mbps, miswire=miswire)
    test.addCleanup(lab.stop)
    lab.start()
    test.assertTrue(lab.wait_connected(40), "switches did not connect:\n" + ctl.log_tail())
    return ctl, lab


def flow_table_snapshot(lab):
    """{switch: sorted flow and group lines} with counters and ages stripped, for comparing
    two moments of the same switches."""
    snapshot = {}
    for sw in lab.fabric["switches"]:
        name = sw["name"]
        flows = [COUNTER_FIELDS.sub(" ", f).strip() for f in lab.dump_flows(name)]
        groups = [g.strip() for g in lab.dump_groups(name)]
        snapshot[name] = sorted(re.sub(r"\s+", " ", f) for f in flows) + sorted(groups)
    return snapshot


def snapshot_differences(before, after, limit=20):
    """Human-readable lines present in one snapshot and not the other (empty when identical)."""
    lines = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name, []), after.get(name, [])
        lines += [f"{name} - {x}" for x in sorted(set(b) - set(a))]
        lines += [f"{name} + {x}" for x in sorted(set(a) - set(b))]
        if len(b) != len(a) and set(b) == set(a):
            lines.append(f"{name}: {len(b)} lines before, {len(a)} after (duplicates)")
    return lines[:limit]


class Iperf3UdpStream:
    """One bounded UDP iperf3 flow at a fixed rate, reported by the receiver every interval_s.

    The receiver's intervals show when nothing arrived; its lost-datagram count over the send
    rate gives the outage at datagram resolution.
    """

    def __init__(self, lab, src, dst, seconds, bitrate="20M", interval_s=0.1, port=5301,
                 length_bytes=1200):
        self.lab, self.src, self.dst = lab, src, dst
        self.seconds, self.bitrate, self.interval_s = seconds, bitrate, interval_s
        self.port, self.length_bytes = port, length_bytes
        self.server = self.client = None
        self.report = {}

    def start(self):
        dst = self.lab.host(self.dst)
        self.server = dst.popen(["iperf3", "-s", "-1", "-p", str(self.port), "-J", "-i",
                                 str(self.interval_s)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.client = self.lab.host(self.src).popen(
            ["iperf3", "-c", dst.IP(), "-p", str(self.port), "-u", "-b", self.bitrate, "-l",
             str(self.length_bytes), "-t", str(self.seconds), "-i", str(self.interval_s), "-J"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started_at = time.time()
        return self

    def wait(self):
        """Waits for both ends; returns the receiver's JSON report ({} if it had none)."""
        try:
            self.client.communicate(timeout=self.seconds + 20)
            out, _ = self.server.communicate(timeout=10)
            self.report = json.loads(out) if out.strip().startswith("{") else {}
        finally:
            self.stop()
        return self.report

    def stop(self):
        for p in (self.client, self.server):
            if p is not None and p.poll() is None:
                with contextlib.suppress(Exception):
                    p.kill()
                    p.wait(timeout=5)

    def interval_bytes(self):
        return [iv["sum"]["bytes"] for iv in self.report.get("intervals", [])]

    def longest_silence_s(self):
        """Longest run of receiver intervals with no byte (between the first and last that had
        some, so start-up and the tail do not count)."""
        got = self.interval_bytes()
        nonzero = [i for i, b in enumerate(got) if b > 0]
        if not nonzero:
            return float(self.seconds)
        longest = run_len = 0
        for b in got[nonzero[0]:nonzero[-1] + 1]:
            run_len = run_len + 1 if b == 0 else 0
            longest = max(longest, run_len)
        return longest * self.interval_s

    def totals(self):
        """(datagrams sent, datagrams lost) as the receiver counted them."""
        s = self.report.get("end", {}).get("sum", {})
        return int(s.get("packets", 0)), int(s.get("lost_packets", 0))

    def loss_outage_s(self):
        """Lost datagrams over the send rate: the time the flow was dark."""
        sent, lost = self.totals()
        return lost * self.seconds / sent if sent else float(self.seconds)


class PingStream:
    """A bounded ping -i interval_s stream between two lab hosts, run in the background."""

    def __init__(self, lab, src, dst, count, interval_s=0.05):
        self.count, self.interval_s = count, interval_s
        self.proc = lab.host(src).popen(
            ["ping", "-n", "-q", "-i", str(interval_s), "-c", str(count), "-W", "1",
             lab.host(dst).IP()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(self):
        """Returns (transmitted, received)."""
        try:
            out, _ = self.proc.communicate(timeout=self.count * self.interval_s + 30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", out)
        if not m:
            raise RuntimeError(f"ping gave no summary: {out}")
        return int(m.group(1)), int(m.group(2))


def capped_intent(tmp, bw_mbps, example="leaf-spine.yaml"):
    """An example intent with every link at bw_mbps, written to tmp, so the controller measures
    utilisation against the real capacity of a lab whose links TCLink caps at bw_mbps."""
    with open(os.path.join(SOURCE_DIR, "examples", example)) as f:
        text = f.read()
    text = re.sub(r"host_speed: \S+", f"host_speed: {bw_mbps}M", text)
    text = re.sub(r"fabric_speed: \S+", f"fabric_speed: {bw_mbps}M", text)
    path = os.path.join(tmp, f"capped-{bw_mbps}M-{example}")
    with open(path, "w") as f:
        f.write(text)
    return path


def metrics_text(ctl):
    """The controller's /metrics page."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{ctl.metrics_port}/metrics",
                                timeout=5) as resp:
        return resp.read().decode()


def metric_value(ctl, name, labels=None):
    """Sum of a metric's samples from the controller's /metrics (matching labels, if given)."""
    text = metrics_text(ctl)
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name):len(name) + 1] not in ("{", " "):
            continue
        if labels and not all(f'{k}="{v}"' in line for k, v in labels.items()):
            continue
        total += float(line.rsplit(" ", 1)[1])
    return total


def log_numbers(ctl, pattern, since=0):
    """Floats captured by the first group of `pattern` in the controller log, from byte
    offset `since` on."""
    with open(ctl.log_path, errors="replace") as f:
        f.seek(since)
        return [float(m.group(1)) for m in re.finditer(pattern, f.read())]


def log_size(ctl):
    return os.path.getsize(ctl.log_path) if os.path.exists(ctl.log_path) else 0


def poll(fn, timeout_s, step_s=0.1):
    """fn()'s first truthy value within timeout_s (polled every step_s), else None."""
    deadline = time.time() + timeout_s
    while True:
        value = fn()
        if value or time.time() >= deadline:
            return value or None
        time.sleep(step_s)


def seconds_until(predicate, timeout_s, step_s=0.1):
    """Seconds until predicate() held (polled every step_s), or None after timeout_s."""
    t0 = time.time()
    return time.time() - t0 if poll(predicate, timeout_s, step_s) else None


def write_pair_job(tmp, job_id, src, dst):
    """A job file with one explicit flow src -> dst (NIC names); returns its path."""
    path = os.path.join(tmp, f"{job_id}.yaml")
    with open(path, "w") as f:
        f.write(f"id: {job_id}\npattern: explicit\nendpoints: [{src}, {dst}]\n"
                f"flows:\n  - {{src: {src}, dst: {dst}}}\n")
    return path


def read_links_later(ctl, delay_s):
    """Starts reading `pulsectl --json links --top 0` after delay_s (while traffic runs);
    returns (thread, result dict filled when the thread ends)."""
    import threading
    result = {}

    def read():
        time.sleep(delay_s)
        result.update(json.loads(ctl.pulsectl("--json", "links", "--top", "0")))

    thread = threading.Thread(target=read)
    thread.start()
    return thread, result
