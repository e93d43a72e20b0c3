#!/usr/bin/python3
"""kill -9 durability of the single-node daemon (issue 7), and a damaged log tail.

Starts the real pulse-controller with a state directory, sends a burst of PlaceJob calls from
several threads, kills it with SIGKILL mid-burst, restarts it on the same state directory and
checks that every acknowledged job is listed exactly once with exactly the acknowledged paths
(flow links and UDP source ports). Then appends junk to the log (a torn write), restarts, and
checks the daemon reports the cut and still loads every job. Prints figures.

usage: crash_restart_test.py DAEMON PROTO_DIR FABRIC_FILE
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DAEMON, PROTO_DIR, FABRIC = sys.argv[1:4]
del sys.argv[1:4]

THREADS = 6
KILL_AFTER_ACKS = 150


def generate_stubs(out_dir):
    subprocess.run(
        ["protoc", "-I", PROTO_DIR, "--python_out=" + out_dir, "--grpc_out=" + out_dir,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         os.path.join(PROTO_DIR, "pulse/v1/pulse.proto")],
        check=True)
    sys.path.insert(0, out_dir)


def flow_key(flow):
    return (flow.src, flow.dst, flow.subflow, tuple(flow.links), flow.udp_src_port)


class Daemon:
    """One pulse-controller process on a free loopback port; stderr goes to a file."""

    def __init__(self, tmp, state_dir, name):
        self.port_file = os.path.join(tmp, name + ".port")
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [DAEMON, "--fabric", FABRIC, "--insecure", "--listen", "127.0.0.1:0",
             "--port_file", self.port_file, "--state_dir", state_dir, "--log_level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("pulse-controller exited with %d: %s" %
                                   (self.proc.returncode, self.output()))
            if time.time() > deadline:
                self.proc.kill()
                raise RuntimeError("pulse-controller did not start in 30 s")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        grpc.channel_ready_future(self.channel).result(timeout=10)

    def output(self):
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

    def test_kill9_mid_burst_then_torn_log_tail(self):
        state_dir = os.path.join(self.tmp.name, "state")
        daemon = Daemon(self.tmp.name, state_dir, "first")
        gpus = list(pb_grpc.TopologyServiceStub(daemon.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology.gpus)
        gpu_names = [g.name for g in gpus]

        acked = {}
        acked_lock = threading.Lock()
        stop = threading.Event()
        enough = threading.Event()
        errors = []

        def burst(thread_index):
            stub = pb_grpc.JobServiceStub(daemon.channel)
            n = 0
            while not stop.is_set():
                job_id = "t%d-%d" % (thread_index, n)
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
                with acked_lock:
                    acked[job_id] = sorted(flow_key(f) for f in reply.job.flows)
                    if len(acked) >= KILL_AFTER_ACKS:
                        enough.set()

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(THREADS)]
        start = time.time()
        for t in threads:
            t.start()
        self.assertTrue(enough.wait(timeout=60), "burst too slow: %d acks" % len(acked))
        daemon.kill9()  # mid-burst: calls are in flight
        kill_time = time.time()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(errors, [])
        with acked_lock:
            acked = dict(acked)
        print("burst: %d acknowledged PlaceJob calls from %d threads in %.2f s before kill -9"
              % (len(acked), THREADS, kill_time - start))

        restart_start = time.time()
        daemon = Daemon(self.tmp.name, state_dir, "second")
        restart_s = time.time() - restart_start
        listed = self.check_acknowledged(daemon, acked)
        print("restart after kill -9: %.2f s to serving; %d jobs listed, all %d acknowledged "
              "present once with identical paths (%d in flight at the kill and also committed)"
              % (restart_s, len(listed), len(acked), len(listed) - len(acked)))
        durable = {j.spec.id: sorted(flow_key(f) for f in j.flows) for j in listed}
        daemon.kill9()

        # A torn write at the end of the log: a record header promising more than is there.
        log_file = os.path.join(state_dir, "log")
        size = os.path.getsize(log_file)
        with open(log_file, "ab") as f:
            f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xef" + b"\x01" * 11)
        daemon = Daemon(self.tmp.name, state_dir, "third")
        self.addCleanup(daemon.stop)
        out = daemon.output()
        self.assertIn("cut at offset %d" % size, out)
        self.check_acknowledged(daemon, durable)
        with open(log_file, "rb") as f:
            self.assertNotIn(b"\xde\xad\xbe\xef", f.read(), "the damaged tail was not cut off")
        cut_lines = [l for l in out.splitlines() if "cut" in l]
        print("torn tail: %d jobs loaded; daemon said: %s" % (len(durable), cut_lines[0][:240]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
