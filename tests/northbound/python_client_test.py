#!/usr/bin/python3
"""A non-C++ scheduler: a Python client generated at test time from pulse.proto alone.

Starts pulse-controller on a free loopback port with a fabric file, then places, reads and deletes
a job, and stops the daemon with SIGTERM. Run by ctest with /usr/bin/python3 (python3-grpcio).

usage: python_client_test.py DAEMON PROTO_DIR FABRIC_FILE
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

DAEMON, PROTO_DIR, FABRIC = sys.argv[1:4]
del sys.argv[1:4]


def generate_stubs(out_dir):
    subprocess.run(
        ["protoc", "-I", PROTO_DIR, "--python_out=" + out_dir, "--grpc_out=" + out_dir,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         os.path.join(PROTO_DIR, "pulse/v1/pulse.proto")],
        check=True)
    sys.path.insert(0, out_dir)


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pulse-pyclient-")
        generate_stubs(cls.tmp.name)
        global grpc, pb, pb_grpc
        import grpc
        from pulse.v1 import pulse_pb2 as pb
        from pulse.v1 import pulse_pb2_grpc as pb_grpc
        port_file = os.path.join(cls.tmp.name, "port")
        cls.daemon = subprocess.Popen(
            [DAEMON, "--fabric", FABRIC, "--insecure", "--listen", "127.0.0.1:0",
             "--port_file", port_file, "--log_level", "info"])
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if cls.daemon.poll() is not None:
                raise RuntimeError("pulse-controller exited with %d" % cls.daemon.returncode)
            if time.time() > deadline:
                cls.daemon.kill()
                raise RuntimeError("pulse-controller did not start in 30 s")
            time.sleep(0.05)
        with open(port_file) as f:
            cls.port = int(f.read().strip())
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)
        grpc.channel_ready_future(cls.channel).result(timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        if cls.daemon.poll() is None:
            cls.daemon.send_signal(signal.SIGTERM)
            try:
                cls.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cls.daemon.kill()
                raise
        cls.tmp.cleanup()

    def test_place_and_delete_job(self):
        topo = pb_grpc.TopologyServiceStub(self.channel).GetTopology(
            pb.GetTopologyRequest(), timeout=10).topology
        self.assertGreater(len(topo.gpus), 2)
        # Two GPUs on different leaves, chosen from the scheduler view.
        leaf_groups = [g for g in topo.groups if g.kind == pb.GROUP_KIND_LEAF]
        self.assertGreaterEqual(len(leaf_groups), 2)
        endpoints = [leaf_groups[0].gpus[0], leaf_groups[1].gpus[0]]

        jobs = pb_grpc.JobServiceStub(self.channel)
        spec = pb.JobSpec(id="py-job-1", endpoints=endpoints,
                          pattern=pb.COLLECTIVE_PATTERN_RING, rate_bps=25e9)
        placed = jobs.PlaceJob(pb.PlaceJobRequest(job=spec), timeout=10)
        self.assertEqual(placed.job.spec.id, "py-job-1")
        self.assertGreater(len(placed.job.flows), 0)
        leaves = {s.name for s in topo.switches if s.role == pb.SWITCH_ROLE_LEAF}
        spines = {s.name for s in topo.switches if s.role == pb.SWITCH_ROLE_SPINE}
        for flow in placed.job.flows:
            # leaf -> spine -> leaf between two leaves
            self.assertEqual(len(flow.hops), 3, flow)
            self.assertEqual([h.switch_name in group for h, group in
                              zip(flow.hops, (leaves, spines, leaves))], [True] * 3, flow)
        self.assertGreater(placed.job.max_link_load, 0)

        listed = jobs.ListJobs(pb.ListJobsRequest(), timeout=10)
        self.assertEqual([j.spec.id for j in listed.jobs], ["py-job-1"])

        with self.assertRaises(grpc.RpcError) as err:
            jobs.PlaceJob(pb.PlaceJobRequest(job=pb.JobSpec(
                id="bad", endpoints=[endpoints[0], "server-99/gpu-0"])), timeout=10)
        self.assertEqual(err.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("job.endpoints[1]", err.exception.details())

        jobs.DeleteJob(pb.DeleteJobRequest(id="py-job-1"), timeout=10)
        self.assertEqual(len(jobs.ListJobs(pb.ListJobsRequest(), timeout=10).jobs), 0)
        loads = pb_grpc.LinkServiceStub(self.channel).ListLinks(pb.ListLinksRequest(), timeout=10)
        self.assertTrue(all(l.planned_load_bps == 0 for l in loads.links))


if __name__ == "__main__":
    unittest.main(verbosity=2)
