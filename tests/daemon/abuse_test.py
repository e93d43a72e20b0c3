#!/usr/bin/python3
"""Abuse suite: hostile OpenFlow peers and hostile API inputs against the real daemon, on loopback.

Starts pulse-controller (leaf-spine example, OpenFlow on a free loopback port, /metrics on) and,
while a sampler records the daemon's RSS and a prober keeps asking the gRPC health service:
  1. floods the OpenFlow listener: endless multipart replies during the handshake (the attack that
     once grew the daemon to 2.64 GB), multipart and echo-reply floods on a ready session, garbage,
     and idle connections beyond the per-peer cap;
  2. fake switches: a datapath id not in the intent, and a second session for a connected dpid;
  3. API inputs: rate 1e300, a 1 MB name, a resume token from the future, 65,536-flow jobs (reply
     and listing), and a second daemon on the same API port.
Asserts the RSS stays under 200 MB, health answers throughout, every attempt is refused and
counted on /metrics, and prints the figures. Bounded: about a minute in all.

usage: abuse_test.py DAEMON PULSECTL PROTO_DIR FABRIC_FILE
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

DAEMON, PULSECTL, PROTO_DIR, FABRIC = sys.argv[1:5]
del sys.argv[1:5]

RSS_LIMIT_MB = 200
FLOOD_SECONDS = 12

# OpenFlow 1.3 message types used here.
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY = 0, 1, 2, 3
FEATURES_REQUEST, FEATURES_REPLY, PACKET_IN = 5, 6, 10
MULTIPART_REQUEST, MULTIPART_REPLY = 18, 19
MP_PORT_DESC, REPLY_MORE = 13, 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def of_msg(msg_type, xid, body=b""):
    return struct.pack("!BBHI", 4, msg_type, 8 + len(body), xid) + body


def port_desc_part(xid, n_ports, more):
    ports = b"".join(
        struct.pack("!I4x6s2x16sIIIIIIII", p, b"\x02\x00\x00\x00\x00" + bytes([p % 256]),
                    b"p%d" % p, 0, 0, 0, 0, 0, 0, 100000000, 100000000)
        for p in range(1, n_ports + 1))
    return of_msg(MULTIPART_REPLY, xid,
                  struct.pack("!HH4x", MP_PORT_DESC, REPLY_MORE if more else 0) + ports)


class FakeSwitch:
    """The switch side of OpenFlow 1.3 over a blocking socket."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.send_lock = threading.Lock()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def recv(self):
        """(type, xid, body) of the next message; raises ConnectionError on EOF."""
        while True:
            if len(self.buf) >= 8:
                _, msg_type, length, xid = struct.unpack("!BBHI", self.buf[:8])
                if len(self.buf) >= length:
                    body = self.buf[8:length]
                    self.buf = self.buf[length:]
                    return msg_type, xid, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the controller")
            self.buf += chunk

    def recv_type(self, wanted):
        while True:
            msg_type, xid, body = self.recv()
            if msg_type == wanted or msg_type == ERROR:
                return msg_type, xid, body
            if msg_type == ECHO_REQUEST:
                self.send(of_msg(ECHO_REPLY, xid, body))

    def hello_and_features(self, dpid):
        """Plays HELLO and FEATURES; returns (type, xid, body) of what follows (PORT_DESC request,
        or an ERROR when the controller refuses the dpid)."""
        self.recv_type(HELLO)
        self.send(of_msg(HELLO, 1))
        _, xid, _ = self.recv_type(FEATURES_REQUEST)
        self.send(of_msg(FEATURES_REPLY, xid, struct.pack("!QIBB2xII", dpid, 0, 254, 0, 0, 0)))
        return self.recv_type(MULTIPART_REQUEST)

    def handshake(self, dpid, n_ports=2):
        msg_type, xid, body = self.hello_and_features(dpid)
        if msg_type == ERROR:
            raise PermissionError(body[4:].decode(errors="replace"))
        self.send(port_desc_part(xid, n_ports, more=False))

    def serve_echoes(self, stop):
        """Answers echo requests until `stop` is set or the session ends (a thread)."""
        self.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                msg_type, xid, body = self.recv()
            except socket.timeout:
                continue
            except (ConnectionError, OSError):
                return
            if msg_type == ECHO_REQUEST:
                try:
                    self.send(of_msg(ECHO_REPLY, xid, body))
                except OSError:
                    return


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pulse-abuse-")
        subprocess.run(
            ["protoc", "-I", PROTO_DIR, "--python_out=" + cls.tmp.name,
             "--grpc_out=" + cls.tmp.name,
             "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
             os.path.join(PROTO_DIR, "pulse/v1/pulse.proto")], check=True)
        sys.path.insert(0, cls.tmp.name)
        global grpc, pb, pb_grpc
        import grpc
        from pulse.v1 import pulse_pb2 as pb
        from pulse.v1 import pulse_pb2_grpc as pb_grpc
        cls.of_port = free_port()
        cls.metrics_port = free_port()
        config = os.path.join(cls.tmp.name, "pulse.yaml")
        with open(config, "w") as f:
            f.write("listen: 127.0.0.1:0\nfabric: %s\ninsecure: true\nstate_dir: %s\n"
                    "metrics_listen: 127.0.0.1:%d\n"
                    "openflow: {listen: 127.0.0.1:%d, handshake_timeout_ms: 2000,"
                    " probe_interval_ms: 0, stats_interval_ms: 0}\n"
                    % (FABRIC, os.path.join(cls.tmp.name, "state"), cls.metrics_port,
                       cls.of_port))
        port_file = os.path.join(cls.tmp.name, "port")
        cls.log_path = os.path.join(cls.tmp.name, "daemon.log")
        cls.log = open(cls.log_path, "w")
        cls.daemon = subprocess.Popen([DAEMON, "--config", config, "--port_file", port_file],
                                      stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if cls.daemon.poll() is not None or time.time() > deadline:
                cls.daemon.kill()
                raise RuntimeError("pulse-controller did not start:\n" + open(cls.log_path).read())
            time.sleep(0.05)
        with open(port_file) as f:
            cls.api_port = int(f.read().strip())
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.api_port)
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.jobs = pb_grpc.JobServiceStub(cls.channel)
        cls.events = pb_grpc.EventServiceStub(cls.channel)
        topology = pb_grpc.TopologyServiceStub(cls.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10)
        cls.dpids = [s.datapath_id for s in topology.topology.switches]
        assert len(cls.dpids) >= 6, cls.dpids
        cls.health_check = cls.channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"",
            response_deserializer=lambda b: b)
        cls.rss_max_kb = 0
        cls.health_ok = cls.health_failed = 0
        cls.health_slowest_s = 0.0
        cls.stop_watch = threading.Event()
        cls.watchers = [threading.Thread(target=cls.sample_rss, daemon=True),
                        threading.Thread(target=cls.probe_health, daemon=True)]
        for t in cls.watchers:
            t.start()

    @classmethod
    def tearDownClass(cls):
        cls.stop_watch.set()
        for t in cls.watchers:
            t.join()
        cls.channel.close()
        if cls.daemon.poll() is None:
            cls.daemon.send_signal(signal.SIGTERM)
            try:
                cls.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cls.daemon.kill()
        cls.log.close()
        print("abuse: daemon RSS max %.1f MB; health %d answered, %d failed, slowest %.3f s"
              % (cls.rss_max_kb / 1024, cls.health_ok, cls.health_failed, cls.health_slowest_s))
        cls.tmp.cleanup()

    @classmethod
    def sample_rss(cls):
        while not cls.stop_watch.is_set():
            try:
                with open("/proc/%d/status" % cls.daemon.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            cls.rss_max_kb = max(cls.rss_max_kb, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.05)

    @classmethod
    def probe_health(cls):
        while not cls.stop_watch.is_set():
            start = time.time()
            try:
                reply = cls.health_check(b"", timeout=2)
                if reply == b"\x08\x01":  # status: SERVING
                    cls.health_ok += 1
                else:
                    cls.health_failed += 1
            except grpc.RpcError:
                cls.health_failed += 1
            cls.health_slowest_s = max(cls.health_slowest_s, time.time() - start)
            time.sleep(0.2)

    def refusals(self):
        text = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5).read().decode()
        return {m.group(1): float(m.group(2)) for m in re.finditer(
            r'^pulse_openflow_refusals_total\{reason="([a-z_]+)"\} (\S+)$', text, re.M)}

    # --- 1 and 2: OpenFlow ---

    def test_1_openflow_floods_and_fake_switches(self):
        time.sleep(0.5)  # a baseline RSS sample
        stop = threading.Event()
        legit = FakeSwitch(self.of_port)
        rss_before_kb = self.rss_max_kb
        legit.handshake(dpid=self.dpids[0])
        legit_thread = threading.Thread(target=legit.serve_echoes, args=(stop,), daemon=True)
        legit_thread.start()
        sent = {"bytes": 0, "connections": 0}
        lock = threading.Lock()

        def count(n, connections=0):
            with lock:
                sent["bytes"] += n
                sent["connections"] += connections

        def handshake_multipart_flood(dpid, before_features):
            # Parts flagged REPLY_MORE forever, during the handshake; reconnect when cut.
            deadline = time.time() + FLOOD_SECONDS
            while time.time() < deadline:
                sw = None
                try:
                    sw = FakeSwitch(self.of_port)
                    count(0, 1)
                    if before_features:
                        sw.recv_type(HELLO)
                        sw.send(of_msg(HELLO, 1))
                        xid = 7
                    else:
                        msg_type, xid, _ = sw.hello_and_features(dpid)
                        if msg_type == ERROR:
                            time.sleep(0.05)
                            continue
                    part = port_desc_part(xid, 900, more=True)
                    while time.time() < deadline:
                        sw.send(part)
                        count(len(part))
                except (OSError, ConnectionError):
                    pass
                finally:
                    if sw is not None:
                        sw.close()

        def ready_session_flood():
            # A session that completed its handshake floods unsolicited replies.
            sw = FakeSwitch(self.of_port)
            sw.handshake(dpid=self.dpids[1])
            count(0, 1)
            junk = [port_desc_part(0xdead0000 + i, 900, more=True) for i in range(4)]
            junk.append(of_msg(ECHO_REPLY, 5, b"x" * 65000))
            deadline = time.time() + FLOOD_SECONDS
            i = 0
            try:
                while time.time() < deadline:
                    sw.send(junk[i % len(junk)])
                    count(len(junk[i % len(junk)]))
                    i += 1
            except OSError:
                pass
            sw.close()

        def garbage_flood():
            deadline = time.time() + FLOOD_SECONDS
            blob = of_msg(99, 1, b"\xff" * 60000)  # a type nobody models, then junk framing
            while time.time() < deadline:
                sw = None
                try:
                    sw = FakeSwitch(self.of_port)
                    count(0, 1)
                    sw.send(blob + b"\x09" * 70000)
                    count(len(blob) + 70000)
                    sw.recv()
                except (OSError, ConnectionError):
                    pass
                finally:
                    if sw is not None:
                        sw.close()

        idle = []

        def idle_connections():
            # More idle connections from one address than the per-peer cap (256).
            for _ in range(300):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", self.of_port), timeout=2))
                except OSError:
                    pass

        floods = [threading.Thread(target=handshake_multipart_flood, args=(d, False))
                  for d in self.dpids[2:6]]
        floods += [threading.Thread(target=handshake_multipart_flood, args=(0, True))
                   for _ in range(2)]
        floods += [threading.Thread(target=ready_session_flood),
                   threading.Thread(target=garbage_flood),
                   threading.Thread(target=idle_connections)]
        start = time.time()
        for t in floods:
            t.start()
        for t in floods:
            t.join()
        flood_s = time.time() - start
        time.sleep(2.5)  # the idle ones pass their handshake timeout
        for s in idle:
            s.close()

        # Fake switches: an unknown dpid, and a second session for the connected dpid 1.
        stranger = FakeSwitch(self.of_port)
        unknown = max(self.dpids) + 0x999
        msg_type, _, body = stranger.hello_and_features(unknown)
        self.assertEqual(msg_type, ERROR)
        self.assertEqual(struct.unpack("!HH", body[:4]), (1, 5))  # BAD_REQUEST, EPERM
        self.assertIn(b"not a switch of the fabric intent", body)
        stranger.close()
        impostor = FakeSwitch(self.of_port)
        msg_type, _, body = impostor.hello_and_features(self.dpids[0])
        self.assertEqual(msg_type, ERROR)
        self.assertIn(b"already connected", body)
        impostor.close()
        self.assertTrue(legit_thread.is_alive(), "the genuine switch lost its session")
        stop.set()
        legit_thread.join()
        legit.close()

        refusals = self.refusals()
        print("abuse: OpenFlow flood %.1f s: %.1f MB sent over %d connections; daemon RSS %.1f MB"
              " before, max %.1f MB during; refusals %s"
              % (flood_s, sent["bytes"] / 1e6, sent["connections"], rss_before_kb / 1024,
                 self.rss_max_kb / 1024, refusals))
        self.assertGreater(sent["bytes"], 50e6, "the flood did not get going")
        self.assertLess(self.rss_max_kb / 1024, RSS_LIMIT_MB)
        self.assertGreater(refusals.get("handshake_bytes", 0), 0)
        self.assertGreater(refusals.get("peer_connections", 0), 0)
        self.assertGreater(refusals.get("handshake_timeout", 0), 0)
        self.assertEqual(refusals.get("unknown_dpid", 0), 1)
        self.assertGreaterEqual(refusals.get("duplicate_dpid", 0), 1)
        self.assertGreater(self.health_ok, 0)
        self.assertEqual(self.health_failed, 0)

    # --- 3: API inputs ---

    def test_2_api_inputs(self):
        # A daemon of its own in planning mode: the fake switches above took the fabric's
        # switches down with them, and 65,536-flow jobs weigh on the flood's RSS figure.
        port_file = os.path.join(self.tmp.name, "api-port")
        log = open(os.path.join(self.tmp.name, "api-daemon.log"), "w")
        daemon = subprocess.Popen([DAEMON, "--fabric", FABRIC, "--insecure", "--listen",
                                   "127.0.0.1:0", "--port_file", port_file],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while not os.path.exists(port_file):
                self.assertIsNone(daemon.poll(), "the API daemon exited")
                self.assertLess(time.time(), deadline, "the API daemon did not start")
                time.sleep(0.05)
            with open(port_file) as f:
                api_port = int(f.read().strip())
            channel = grpc.insecure_channel("127.0.0.1:%d" % api_port)
            grpc.channel_ready_future(channel).result(timeout=10)
            raw_get_job = channel.unary_unary("/pulse.v1.JobService/GetJob",
                                              request_serializer=lambda b: b,
                                              response_deserializer=lambda b: b)
            with self.assertRaises(grpc.RpcError) as undecodable:
                raw_get_job(b"\x0a\x02\xff\xfe", timeout=10)  # id: not UTF-8
            self.assertEqual(undecodable.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("UTF-8", undecodable.exception.details())
            self.api_cases(api_port, pb_grpc.JobServiceStub(channel),
                           pb_grpc.EventServiceStub(channel), daemon.pid)
            channel.close()
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
            log.close()

    def api_cases(self, api_port, jobs, events, pid):
        def explicit(job_id, n, rate=1e6):
            job = pb.JobSpec(id=job_id, pattern=pb.COLLECTIVE_PATTERN_EXPLICIT)
            for i in range(n):
                job.flows.add(src="server-%d/gpu-0" % (i % 8),
                              dst="server-%d/gpu-0" % ((i + 1 + i // 8 % 7) % 8), rate_bps=rate)
            return pb.PlaceJobRequest(job=job)

        with self.assertRaises(grpc.RpcError) as huge:
            jobs.PlaceJob(explicit("huge", 1, rate=1e300), timeout=10)
        self.assertEqual(huge.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("line rate", huge.exception.details())

        with self.assertRaises(grpc.RpcError) as long_name:
            jobs.GetJob(pb.GetJobRequest(id="n" * (1 << 20)), timeout=10)
        self.assertEqual(long_name.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertLess(len(long_name.exception.details()), 2048)

        stream = events.WatchEvents(pb.WatchEventsRequest(from_sequence=10 ** 9), timeout=10)
        with self.assertRaises(grpc.RpcError) as future:
            next(stream)
        self.assertEqual(future.exception.code(), grpc.StatusCode.OUT_OF_RANGE)

        start = time.time()
        for job_id in ("max-a", "max-b"):
            reply = jobs.PlaceJob(explicit(job_id, 65536), timeout=60)
            self.assertTrue(reply.job.flows_omitted)
            self.assertEqual(reply.job.flow_count, 65536)
        ids, token = [], ""
        while True:
            page = jobs.ListJobs(pb.ListJobsRequest(include_flows=True, page_token=token),
                                      timeout=30)
            ids += [j.spec.id for j in page.jobs]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(ids, ["max-a", "max-b"])
        listed = subprocess.run([PULSECTL, "--server", "127.0.0.1:%d" % api_port,
                                 "--insecure", "jobs", "list"], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        with open("/proc/%d/status" % pid) as f:
            rss = [line.split()[1] for line in f if line.startswith("VmRSS:")][0]
        print("abuse: two 65,536-flow jobs placed and listed with flows in %.1f s (daemon RSS"
              " %.0f MB with them)" % (time.time() - start, int(rss) / 1024))

        second = subprocess.run(
            [DAEMON, "--fabric", FABRIC, "--insecure", "--listen",
             "127.0.0.1:%d" % api_port], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("cannot bind", second.stderr)
        self.assertIn("in use", second.stderr)
        print("abuse: second daemon on the API port: %s"
              % second.stderr.strip().splitlines()[-1][:200])


if __name__ == "__main__":
    unittest.main(verbosity=2)
