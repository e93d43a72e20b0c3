#!/usr/bin/python3
"""Cluster mode with etcd unreachable (issue 12): 3 etcd members, 3 pulse-controller replicas.

A PlaceJob/DeleteJob burst goes to all three replicas (followers forward writes to the leader)
while etcd is made unreachable for PAUSE_S seconds, twice: first two of the three members are
paused with SIGSTOP (quorum lost), then all three. Afterwards every replica must list exactly
the jobs etcd holds (the goal of the issue: identical), no DeleteJob may have been answered
NOT_FOUND for a job that was acknowledged and never deleted, every replica must report itself
ready again, and the leader's "pulse.cluster.leader" health must have ended while etcd was away.
Prints the figures.

usage: cluster_outage_test.py DAEMON PROTO_DIR FABRIC_FILE ETCD_SCRIPT
"""
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_cluster import Replica, generate_stubs, health  # noqa: E402

DAEMON, PROTO_DIR, FABRIC, ETCD_SCRIPT = sys.argv[1:5]
del sys.argv[1:5]

CLUSTER = "outage-test"
THREADS = 3
PAUSE_S = 10
BURST_BEFORE_S = 2
BURST_AFTER_S = 4


class ClusterOutageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pulse-outage-")
        generate_stubs(PROTO_DIR, cls.tmp.name)
        global grpc, pb, pb_grpc
        import grpc
        from pulse.v1 import pulse_pb2 as pb
        from pulse.v1 import pulse_pb2_grpc as pb_grpc
        cls.etcd_dir = os.path.join(cls.tmp.name, "etcd")
        out = subprocess.run(["bash", ETCD_SCRIPT, "start", cls.etcd_dir, "3", str(os.getpid())],
                             check=True, capture_output=True, text=True).stdout
        cls.endpoints = out.strip().split(",")
        cls.replicas = [Replica(DAEMON, FABRIC, cls.tmp.name, i, cls.endpoints, CLUSTER)
                        for i in range(3)]

    @classmethod
    def tearDownClass(cls):
        for i in (1, 2, 3):  # never leave a member stopped
            subprocess.run(["bash", ETCD_SCRIPT, "resume", cls.etcd_dir, str(i)])
        for r in cls.replicas:
            r.stop()
        subprocess.run(["bash", ETCD_SCRIPT, "stop", cls.etcd_dir])
        cls.tmp.cleanup()

    def etcd_jobs(self):
        out = subprocess.run(
            ["etcdctl", "--endpoints=" + ",".join(self.endpoints), "get", "--prefix",
             "--keys-only", "/pulse/%s/state/jobs/" % CLUSTER],
            check=True, capture_output=True, text=True, timeout=20,
            env=dict(os.environ, ETCDCTL_API="3")).stdout
        prefix = "/pulse/%s/state/jobs/" % CLUSTER
        return {line[len(prefix):] for line in out.splitlines() if line.startswith(prefix)}

    def listed(self, replica):
        ids = [j.spec.id for j in replica.jobs.ListJobs(pb.ListJobsRequest(), timeout=10).jobs]
        self.assertEqual(len(ids), len(set(ids)), "replica %d lists a job twice" % replica.index)
        return set(ids)

    def wait_settled(self, timeout_s):
        """Until one leader holds a lease and every replica is ready; seconds taken."""
        start = time.time()
        while time.time() - start < timeout_s:
            leaders = [r for r in self.replicas if health(r, "pulse.cluster.leader") == 1]
            ready = [r for r in self.replicas if health(r, "pulse.cluster.ready") == 1]
            if len(leaders) == 1 and len(ready) == 3:
                return time.time() - start, leaders[0]
            time.sleep(0.2)
        self.fail("cluster did not settle in %d s: %s" % (timeout_s, [
            (r.index, health(r, "pulse.cluster.leader"), health(r, "pulse.cluster.ready"))
            for r in self.replicas]))

    def outage(self, name, members, gpus):
        """Burst across every replica with `members` paused for PAUSE_S; returns figures."""
        lock = threading.Lock()
        stop = threading.Event()
        acked_placed, acked_deleted, uncertain = set(), set(), set()
        wrong_not_found, errors = [], []
        calls = [0]

        def call(replica, method, request):
            try:
                return getattr(replica.jobs, method)(request, timeout=2), None
            except grpc.RpcError as e:
                return None, e

        def burst(t):
            replica = self.replicas[t % 3]
            n = 0
            mine = []
            while not stop.is_set():
                if n % 3 == 2 and mine:
                    job_id = mine.pop(0)
                    reply, err = call(replica, "DeleteJob", pb.DeleteJobRequest(id=job_id))
                    with lock:
                        calls[0] += 1
                        if err is None:
                            acked_deleted.add(job_id)
                        elif err.code() == grpc.StatusCode.NOT_FOUND:
                            if job_id in acked_placed and job_id not in uncertain:
                                wrong_not_found.append("%s at r%d: %s" %
                                                       (job_id, replica.index, err.details()))
                        else:
                            uncertain.add(job_id)  # may or may not have been deleted
                else:
                    job_id = "%s-t%d-%d" % (name, t, n)
                    a = gpus[(t * 7 + n) % len(gpus)]
                    b = gpus[(t * 7 + 3 * n + 1) % len(gpus)]
                    if a == b:
                        b = gpus[(t * 7 + 3 * n + 2) % len(gpus)]
                    reply, err = call(replica, "PlaceJob", pb.PlaceJobRequest(job=pb.JobSpec(
                        id=job_id, endpoints=[a, b], pattern=pb.COLLECTIVE_PATTERN_RING,
                        rate_bps=1e6)))
                    with lock:
                        calls[0] += 1
                        if err is None:
                            acked_placed.add(job_id)
                            mine.append(job_id)
                        elif err.code() in (grpc.StatusCode.UNAVAILABLE,
                                            grpc.StatusCode.DEADLINE_EXCEEDED):
                            uncertain.add(job_id)
                        else:
                            errors.append("%s: %s %s" % (job_id, err.code(), err.details()))
                if err is not None:
                    time.sleep(0.05)
                n += 1

        leader_before = self.wait_settled(30)[1]
        threads = [threading.Thread(target=burst, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        time.sleep(BURST_BEFORE_S)
        for m in members:
            subprocess.run(["bash", ETCD_SCRIPT, "pause", self.etcd_dir, str(m)], check=True)
        paused_at = time.time()
        leader_ended_s = None
        while time.time() - paused_at < PAUSE_S:
            if leader_ended_s is None and health(leader_before, "pulse.cluster.leader") != 1:
                leader_ended_s = time.time() - paused_at
            time.sleep(0.2)
        for m in members:
            subprocess.run(["bash", ETCD_SCRIPT, "resume", self.etcd_dir, str(m)], check=True)
        resumed_at = time.time()
        settle_s, leader_after = self.wait_settled(60)  # from the resume, burst still running
        time.sleep(max(0, BURST_AFTER_S - (time.time() - resumed_at)))
        stop.set()
        for th in threads:
            th.join(timeout=30)
        self.assertEqual(errors, [], name)

        # Watches deliver the last writes within moments; then every replica must match etcd.
        in_etcd = self.etcd_jobs()
        deadline = time.time() + 10
        views = [self.listed(r) for r in self.replicas]
        while any(v != in_etcd for v in views) and time.time() < deadline:
            time.sleep(0.2)
            in_etcd = self.etcd_jobs()
            views = [self.listed(r) for r in self.replicas]
        expected_present = acked_placed - acked_deleted - uncertain
        missing_acked = expected_present - in_etcd
        figures = {
            "case": name,
            "calls": calls[0],
            "placed": len(acked_placed),
            "deleted": len(acked_deleted),
            "uncertain": len(uncertain),
            "etcd": len(in_etcd),
            "replicas": [len(v) for v in views],
            "identical": [v == in_etcd for v in views],
            "wrong_not_found": len(wrong_not_found),
            "leader_ended_s": leader_ended_s,
            "settle_s": settle_s,
            "leader": (leader_before.index, leader_after.index),
        }
        print("%s: %d calls (%d placed, %d deleted acknowledged, %d unknown outcome); etcd holds "
              "%d jobs; replicas list %s, identical to etcd: %s; DeleteJob NOT_FOUND for a live "
              "job: %d; leader r%d's leadership health ended %s s after the pause; cluster "
              "ready with leader r%d %.1f s after etcd came back" % (
                  name, calls[0], len(acked_placed), len(acked_deleted), len(uncertain),
                  len(in_etcd), figures["replicas"], figures["identical"], len(wrong_not_found),
                  leader_before.index,
                  "%.1f" % leader_ended_s if leader_ended_s is not None else "never",
                  leader_after.index, settle_s))
        self.assertEqual(wrong_not_found, [], name)
        self.assertEqual(missing_acked, set(), "%s: acknowledged jobs missing in etcd" % name)
        for r, v in zip(self.replicas, views):
            self.assertEqual(v, in_etcd, "%s: replica %d differs from etcd (%d vs %d; only on "
                             "the replica: %s; only in etcd: %s)" % (
                                 name, r.index, len(v), len(in_etcd), sorted(v - in_etcd)[:5],
                                 sorted(in_etcd - v)[:5]))
        self.assertIsNotNone(leader_ended_s, "%s: leadership still reported while etcd was "
                             "unreachable" % name)
        return figures

    def test_quorum_lost_then_all_members_paused_mid_burst(self):
        gpus = [g.name for g in pb_grpc.TopologyServiceStub(self.replicas[0].channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology.gpus]
        self.outage("quorum-lost", [2, 3], gpus)
        self.outage("all-paused", [1, 2, 3], gpus)


if __name__ == "__main__":
    unittest.main(verbosity=2)
