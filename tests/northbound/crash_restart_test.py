#!/usr/bin/python3
"""Durability of the single-node daemon's state directory (issues 7 and 12).

1. kill -9 mid-burst, repeatedly: the real pulse-controller gets PlaceJob bursts from several
   threads and is killed with SIGKILL mid-burst, ROUNDS times, restarting on the same state
   directory each time; every acknowledged job must be listed exactly once with exactly the
   acknowledged paths, and event sequences never go backwards across restarts. Then a torn write
   at the end of the log is tolerated and reported.
2. Damage: a state directory with a snapshot, the previous log and a current log (mirrored) is
   damaged in every way the issue lists (bit flips at several records in one or both log copies,
   zeroed logs, missing / truncated / flipped snapshot, torn tail); for each, the daemon either
   starts with every job or refuses naming file, offset and record; then with --store_recover it
   starts, and every job it does not list must have been named as lost. Jobs lost silently (not
   listed and not reported) must be 0 everywhere. Prints one table row per case.

usage: crash_restart_test.py DAEMON PROTO_DIR FABRIC_FILE STORE_TOOL
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

DAEMON, PROTO_DIR, FABRIC, STORE_TOOL = sys.argv[1:5]
del sys.argv[1:5]

THREADS = 6
KILL_AFTER_ACKS = 100  # per round
ROUNDS = 3
DAMAGE_JOBS = 40  # jobs before the snapshot, and again after it


def generate_stubs(out_dir):
    subprocess.run(
        ["protoc", "-I", PROTO_DIR, "--python_out=" + out_dir, "--grpc_out=" + out_dir,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         os.path.join(PROTO_DIR, "pulse/v1/pulse.proto")],
        check=True)
    sys.path.insert(0, out_dir)


def flow_key(flow):
    return (flow.src, flow.dst, flow.subflow, tuple(flow.links), flow.udp_src_port)


class Refused(Exception):
    """The daemon exited instead of serving; `output` is what it printed."""

    def __init__(self, code, output):
        super().__init__("pulse-controller exited with %d: %s" % (code, output[-2000:]))
        self.code = code
        self.output = output


def log_records(path):
    """(offset, length, keys) of each whole record in a store log file (store_recovery.h)."""
    with open(path, "rb") as f:
        data = f.read()
    records, off = [], 0
    while off + 16 <= len(data):
        length = struct.unpack_from("<I", data, off)[0]
        payload = data[off + 16:off + 16 + length]
        keys, p = [], 4
        for _ in range(struct.unpack_from("<I", payload, 0)[0]):
            klen = struct.unpack_from("<I", payload, p + 1)[0]
            keys.append(payload[p + 5:p + 5 + klen].decode())
            vlen = struct.unpack_from("<I", payload, p + 5 + klen)[0]
            p += 5 + klen + 4 + vlen
        records.append((off, 16 + length, keys))
        off += 16 + length
    return records


def grpc_health(channel, service=""):
    """grpc.health.v1.Health/Check without generated stubs: 1 SERVING, 2 NOT_SERVING."""
    name = service.encode()
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    reply = check((b"\x0a" + bytes([len(name)]) + name) if name else b"", timeout=5)
    return reply[1] if len(reply) == 2 and reply[0] == 0x08 else 0


def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def strip_log_prefix(line):
    """A daemon log line without its time and level (and the state dir's temporary path)."""
    line = re.sub(r"^\S+Z (INFO|WARN|ERROR|DEBUG) ", "", line)
    return re.sub(r"/tmp/pulse-crash-[^/ ]+/", "", line)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x10]))


class Daemon:
    """One pulse-controller process on a free loopback port; stderr goes to a file."""

    def __init__(self, tmp, state_dir, name, extra_args=()):
        self.port_file = os.path.join(tmp, name + ".port")
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [DAEMON, "--fabric", FABRIC, "--insecure", "--listen", "127.0.0.1:0",
             "--port_file", self.port_file, "--state_dir", state_dir, "--log_level", "info"] +
            list(extra_args),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                self.log.close()
                raise Refused(self.proc.returncode, self.output())
            if time.time() > deadline:
                self.proc.kill()
                raise RuntimeError("pulse-controller did not start in 30 s")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        grpc.channel_ready_future(self.channel).result(timeout=10)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.channel.close()
        self.log.close()

    def stop(self):
        if self.log.closed:
            return
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.log.close()


class CrashRestartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pulse-crash-")
        generate_stubs(cls.tmp.name)
        global grpc, pb, pb_grpc
        import grpc
        from pulse.v1 import pulse_pb2 as pb
        from pulse.v1 import pulse_pb2_grpc as pb_grpc

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def list_jobs(self, daemon):
        jobs = pb_grpc.JobServiceStub(daemon.channel).ListJobs(
            pb.ListJobsRequest(include_flows=True), timeout=30).jobs
        return jobs

    def check_acknowledged(self, daemon, acked):
        listed = self.list_jobs(daemon)
        ids = [j.spec.id for j in listed]
        self.assertEqual(len(ids), len(set(ids)), "a job is listed twice")
        by_id = {j.spec.id: j for j in listed}
        for job_id, flows in acked.items():
            self.assertIn(job_id, by_id, "acknowledged job lost")
            self.assertEqual(sorted(flow_key(f) for f in by_id[job_id].flows), flows,
                             "job %s moved" % job_id)
        return listed

    def burst_then_kill9(self, daemon, gpu_names, round_index, acked):
        """PlaceJob from THREADS threads until KILL_AFTER_ACKS more are acknowledged, then kill -9
        mid-burst. Adds to `acked` (id -> flows); returns the highest event sequence seen."""
        lock = threading.Lock()
        stop = threading.Event()
        enough = threading.Event()
        errors = []
        new = {}
        top_event = [0]

        def burst(thread_index):
            stub = pb_grpc.JobServiceStub(daemon.channel)
            n = 0
            while not stop.is_set():
                job_id = "r%d-t%d-%d" % (round_index, thread_index, n)
                a = gpu_names[(thread_index + n) % len(gpu_names)]
                b = gpu_names[(thread_index + 3 * n + 1) % len(gpu_names)]
                if a == b:
                    b = gpu_names[(thread_index + 3 * n + 2) % len(gpu_names)]
                n += 1
                spec = pb.JobSpec(id=job_id, endpoints=[a, b],
                                  pattern=pb.COLLECTIVE_PATTERN_RING, rate_bps=1e9)
                try:
                    reply = stub.PlaceJob(pb.PlaceJobRequest(job=spec), timeout=10)
                except grpc.RpcError as e:
                    if e.code() not in (grpc.StatusCode.UNAVAILABLE,
                                        grpc.StatusCode.CANCELLED,
                                        grpc.StatusCode.DEADLINE_EXCEEDED):
                        errors.append("%s: %s %s" % (job_id, e.code(), e.details()))
                    return  # the daemon is gone
                with lock:
                    new[job_id] = sorted(flow_key(f) for f in reply.job.flows)
                    top_event[0] = max(top_event[0], reply.event_sequence)
                    if len(new) >= KILL_AFTER_ACKS:
                        enough.set()

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(THREADS)]
        start = time.time()
        for t in threads:
            t.start()
        self.assertTrue(enough.wait(timeout=60), "burst too slow: %d acks" % len(new))
        daemon.kill9()  # mid-burst: calls are in flight
        kill_time = time.time()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(errors, [])
        with lock:
            acked.update(new)
        print("round %d: %d acknowledged PlaceJob calls from %d threads in %.2f s, then kill -9"
              % (round_index, len(new), THREADS, kill_time - start))
        return top_event[0]

    def test_kill9_mid_burst_repeatedly_then_torn_log_tail(self):
        state_dir = os.path.join(self.tmp.name, "state")
        daemon = Daemon(self.tmp.name, state_dir, "first")
        gpu_names = [g.name for g in pb_grpc.TopologyServiceStub(daemon.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology.gpus]
        acked = {}
        lost_total = 0
        for round_index in range(ROUNDS):
            top_event = self.burst_then_kill9(daemon, gpu_names, round_index, acked)
            restart_start = time.time()
            daemon = Daemon(self.tmp.name, state_dir, "round%d" % round_index)
            restart_s = time.time() - restart_start
            listed = self.check_acknowledged(daemon, acked)
            lost_total += len(set(acked) - {j.spec.id for j in listed})
            # Event numbers never go backwards across the crash.
            probe = pb_grpc.JobServiceStub(daemon.channel).PlaceJob(pb.PlaceJobRequest(
                job=pb.JobSpec(id="probe-%d" % round_index, endpoints=gpu_names[:2],
                               pattern=pb.COLLECTIVE_PATTERN_RING, rate_bps=1e6)), timeout=10)
            self.assertGreater(probe.event_sequence, top_event, "event sequence went backwards")
            acked["probe-%d" % round_index] = sorted(flow_key(f) for f in probe.job.flows)
            print("restart %d after kill -9: %.2f s to serving; %d jobs listed, all %d "
                  "acknowledged present once with identical paths; next event %d > %d"
                  % (round_index, restart_s, len(listed), len(acked) - 1, probe.event_sequence,
                     top_event))
        print("kill -9 x%d: %d acknowledged jobs, %d lost" % (ROUNDS, len(acked), lost_total))
        durable = {j.spec.id: sorted(flow_key(f) for f in j.flows) for j in self.list_jobs(daemon)}
        daemon.kill9()

        # A torn write at the end of the log: a record header promising more than is there, in
        # the first copy only (the mirror is written after it, so it never got this record).
        log_file = os.path.join(state_dir, "log")
        size = os.path.getsize(log_file)
        with open(log_file, "ab") as f:
            f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xef" + b"\x01" * 11)
        daemon = Daemon(self.tmp.name, state_dir, "torn")
        self.addCleanup(daemon.stop)
        out = daemon.output()
        self.assertIn("torn tail", out)
        self.assertIn("offset %d" % size, out)
        self.check_acknowledged(daemon, durable)
        with open(log_file, "rb") as f:
            self.assertNotIn(b"\xde\xad\xbe\xef", f.read(), "the torn tail was not cut off")
        torn_lines = [l for l in out.splitlines() if "torn tail" in l]
        print("torn tail: %d jobs loaded; daemon said: %s" % (len(durable), torn_lines[0][:240]))

    def place_jobs(self, daemon, prefix, count, gpu_names):
        stub = pb_grpc.JobServiceStub(daemon.channel)
        for n in range(count):
            a = gpu_names[n % len(gpu_names)]
            b = gpu_names[(3 * n + 1) % len(gpu_names)]
            if a == b:
                b = gpu_names[(3 * n + 2) % len(gpu_names)]
            stub.PlaceJob(pb.PlaceJobRequest(job=pb.JobSpec(
                id="%s-%d" % (prefix, n), endpoints=[a, b], pattern=pb.COLLECTIVE_PATTERN_RING,
                rate_bps=1e8)), timeout=10)

    def test_full_disk_is_logged_not_serving_and_recovers(self):
        """The file-size limit of the running daemon (prlimit) stands in for a full disk."""
        state_dir = os.path.join(self.tmp.name, "fulldisk")
        config = os.path.join(self.tmp.name, "fulldisk.yaml")
        with open(config, "w") as f:
            f.write("metrics_listen: 127.0.0.1:0\n")
        daemon = Daemon(self.tmp.name, state_dir, "fulldisk", ["--config", config])
        self.addCleanup(daemon.stop)
        metrics_port = int(re.search(r"Prometheus metrics on http://127.0.0.1:(\d+)/",
                                     daemon.output()).group(1))
        gpu_names = [g.name for g in pb_grpc.TopologyServiceStub(daemon.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology.gpus]
        self.place_jobs(daemon, "fits", 5, gpu_names)
        self.assertEqual(grpc_health(daemon.channel), 1)
        self.assertEqual(healthz(metrics_port)[0], 200)

        size = os.path.getsize(os.path.join(state_dir, "log"))
        subprocess.run(["prlimit", "--pid", str(daemon.proc.pid), "--fsize=%d:unlimited" %
                        (size + 100)], check=True)
        full_at = time.time()
        stub = pb_grpc.JobServiceStub(daemon.channel)
        spec = pb.JobSpec(id="while-full", endpoints=gpu_names[:2],
                          pattern=pb.COLLECTIVE_PATTERN_RING, rate_bps=1e8)
        with self.assertRaises(grpc.RpcError) as refused:
            stub.PlaceJob(pb.PlaceJobRequest(job=spec), timeout=10)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("File too large", refused.exception.details())
        deadline = time.time() + 5
        while grpc_health(daemon.channel) != 2 and time.time() < deadline:
            time.sleep(0.05)
        not_serving_s = time.time() - full_at
        self.assertEqual(grpc_health(daemon.channel), 2, "health still SERVING while writes fail")
        self.assertEqual(grpc_health(daemon.channel, "pulse.store"), 2)
        code, body = healthz(metrics_port)
        self.assertEqual(code, 503)
        self.assertIn("pulse.store", body)
        self.assertIn("write refused", daemon.output())

        subprocess.run(["prlimit", "--pid", str(daemon.proc.pid), "--fsize=unlimited:unlimited"],
                       check=True)
        back_at = time.time()
        deadline = time.time() + 5
        while grpc_health(daemon.channel) != 1 and time.time() < deadline:
            time.sleep(0.05)
        serving_s = time.time() - back_at
        self.assertEqual(grpc_health(daemon.channel), 1, "health not back once space returned")
        self.assertEqual(healthz(metrics_port)[0], 200)
        stub.PlaceJob(pb.PlaceJobRequest(job=spec), timeout=10)  # writes work again
        self.assertEqual({j.spec.id for j in self.list_jobs(daemon)},
                         {"fits-%d" % i for i in range(5)} | {"while-full"})
        daemon.stop()
        daemon = Daemon(self.tmp.name, state_dir, "fulldisk-restart")
        self.addCleanup(daemon.stop)
        self.assertEqual(len(self.list_jobs(daemon)), 6)
        self.assertNotIn("damage", daemon.output())
        line = next(l for l in Daemon.output(daemon).splitlines() if "state:" in l)
        print("full disk (file-size limit): PlaceJob refused UNAVAILABLE '%s'; health "
              "NOT_SERVING %.2f s after, /healthz 503 '%s'; SERVING %.2f s after space returned; "
              "6 of 6 acknowledged jobs after restart (%s)" % (
                  refused.exception.details()[:80], not_serving_s, body.strip()[:80], serving_s,
                  strip_log_prefix(line)[:90]))

    def test_damage_cases_with_and_without_recovery(self):
        base = os.path.join(self.tmp.name, "damage-base")
        daemon = Daemon(self.tmp.name, base, "damage-setup1")
        gpu_names = [g.name for g in pb_grpc.TopologyServiceStub(daemon.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology.gpus]
        self.place_jobs(daemon, "before", DAMAGE_JOBS, gpu_names)
        daemon.stop()
        subprocess.run([STORE_TOOL, "snapshot", base], check=True, capture_output=True)
        daemon = Daemon(self.tmp.name, base, "damage-setup2")
        self.place_jobs(daemon, "after", DAMAGE_JOBS, gpu_names)
        acked = {j.spec.id for j in self.list_jobs(daemon)}
        daemon.stop()
        self.assertEqual(len(acked), 2 * DAMAGE_JOBS)
        check = subprocess.run([STORE_TOOL, "check", base], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout)

        records = log_records(os.path.join(base, "log"))
        job_records = [r for r in records if any(k.startswith("jobs/") for k in r[2])]
        self.assertGreater(len(job_records), 10)

        def inside(record):  # a byte in the record's payload (keys and values)
            off, length, _ = record
            return off + 16 + min(40, length - 17)

        def flip_in(names, record):
            return lambda d: [flip(os.path.join(d, n), inside(record)) for n in names]

        def zero(names):
            def damage(d):
                for n in names:
                    path = os.path.join(d, n)
                    with open(path, "r+b") as f:
                        f.write(b"\0" * os.path.getsize(path))
            return damage

        def truncate(name, keep_fraction):
            def damage(d):
                path = os.path.join(d, name)
                with open(path, "r+b") as f:
                    f.truncate(int(os.path.getsize(path) * keep_fraction))
            return damage

        def remove(names):
            return lambda d: [os.remove(os.path.join(d, n)) for n in names]

        def torn(d):
            with open(os.path.join(d, "log"), "ab") as f:
                f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xef" + b"\x01" * 11)

        def snapshot_flip(d):
            flip(os.path.join(d, "snapshot"), os.path.getsize(os.path.join(d, "snapshot")) // 2)

        middle = job_records[len(job_records) // 2]
        both = ["log", "log.mirror"]
        cases = [
            ("bit flip, record 0, one copy", flip_in(["log"], records[0])),
            ("bit flip, middle job record, one copy", flip_in(["log"], middle)),
            ("bit flip, last record, one copy", flip_in(["log.mirror"], records[-1])),
            ("bit flip, record 0, both copies", flip_in(both, records[0])),
            ("bit flip, first job record, both copies", flip_in(both, job_records[0])),
            ("bit flip, middle job record, both copies", flip_in(both, middle)),
            ("bit flip, last record, both copies", flip_in(both, records[-1])),
            ("zeroed log (one copy)", zero(["log"])),
            ("zeroed log, both copies", zero(both)),
            ("missing snapshot", remove(["snapshot"])),
            ("truncated snapshot (half)", truncate("snapshot", 0.5)),
            ("bit flip in snapshot", snapshot_flip),
            ("missing snapshot and previous log", remove(["snapshot", "log.prev",
                                                          "log.prev.mirror"])),
            ("torn tail (incomplete last record)", torn),
        ]
        rows = []
        silent_total = 0
        for index, (name, damage) in enumerate(cases):
            d = os.path.join(self.tmp.name, "damage-%d" % index)
            shutil.copytree(base, d)
            damage(d)
            try:
                daemon = Daemon(self.tmp.name, d, "damage-%d" % index)
                listed = {j.spec.id for j in self.list_jobs(daemon)}
                out = daemon.output()
                daemon.stop()
                started = True
                seen = [l for l in out.splitlines()
                        if "torn tail" in l or "repaired" in l or "damage" in l]
                operator = "starts; " + (strip_log_prefix(seen[0])[:100] if seen else "no warning")
                silent = len(acked - listed)
            except Refused as refused:
                started = False
                listed = set()
                line = next((l for l in refused.output.splitlines() if "has no intact copy" in l),
                            refused.output.strip().splitlines()[-1])
                operator = "refuses: " + strip_log_prefix(line)[:400]
                self.assertRegex(line, r"record \d+.* has no intact copy: \S+ offset \d+|"
                                       r"record \d+.*in no file", name)
                silent = 0  # nothing started, nothing served: the operator was told
            # With recovery: every job not listed must have been reported lost, by name when the
            # damaged bytes still name it, else as lost records (e.g. a zeroed file).
            if started:
                recovered, named, unnamed = len(listed), 0, 0
                recovered_silent = silent
            else:
                recovered_dir = d + "-recover"
                shutil.copytree(d, recovered_dir)
                daemon = Daemon(self.tmp.name, recovered_dir, "damage-%d-recover" % index,
                                ["--store_recover"])
                listed = {j.spec.id for j in self.list_jobs(daemon)}
                out = daemon.output()
                daemon.stop()
                self.assertIn("RECOVERED WITH LOSS", out, name)
                m = re.search(r"LOST jobs: (.*)", out)
                lost_named = set(m.group(1).split(", ")) if m else set()
                recovered = len(acked & listed)
                missing = acked - listed
                named = len(missing & lost_named)
                unnamed = len(missing - lost_named)
                records_reported = bool(re.search(r"LOST records", out))
                recovered_silent = 0 if records_reported else unnamed
            silent_total += silent + recovered_silent
            rows.append((name, silent, operator, started, recovered, named, unnamed,
                         recovered_silent))
            self.assertEqual(silent, 0, "%s: %d jobs lost silently" % (name, silent))
            self.assertEqual(recovered_silent, 0,
                             "%s: %d jobs lost silently with recovery" % (name, recovered_silent))
        print("\n| damage case | jobs lost silently | what the operator sees | with "
              "--store_recover: jobs kept of %d (lost: named / only as lost records) |"
              % len(acked))
        print("|---|---|---|---|")
        for name, silent, operator, started, recovered, named, unnamed, _ in rows:
            print("| %s | %d | %s | %s |" % (
                name, silent, operator.replace("|", "/"),
                "not needed (%d kept)" % recovered if started
                else "%d (%d / %d)" % (recovered, named, unnamed)))
        print("jobs lost silently over %d cases: %d" % (len(cases), silent_total))

if __name__ == "__main__":
    unittest.main(verbosity=2)
