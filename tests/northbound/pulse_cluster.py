"""Shared by the cluster tests (cluster_failover_test.py, cluster_outage_test.py): Python stubs from
the .proto, pulse-controller replicas on free loopback ports in one etcd cluster, and the
grpc.health.v1 check. Run with /usr/bin/python3 (Debian's grpcio)."""

import os
import signal
import socket
import subprocess
import sys


def generate_stubs(proto_dir, out_dir):
    """Python stubs of pulse.v1 into out_dir, importable afterwards as pulse.v1.pulse_pb2."""
    subprocess.run(
        ["protoc", "-I", proto_dir, "--python_out=" + out_dir, "--grpc_out=" + out_dir,
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         os.path.join(proto_dir, "pulse/v1/pulse.proto")],
        check=True)
    sys.path.insert(0, out_dir)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(replica, service, timeout=2):
    """grpc.health.v1.Health/Check of `service` without generated stubs: 1 SERVING,
    2 NOT_SERVING, 0 unknown or no answer."""
    import grpc
    name = service.encode()
    check = replica.channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
    try:
        reply = check(b"\x0a" + bytes([len(name)]) + name, timeout=timeout)
    except grpc.RpcError:
        return 0
    return reply[1] if len(reply) == 2 and reply[0] == 0x08 else 0


class Replica:
    """One pulse-controller replica of cluster `cluster` on etcd `endpoints` (generate_stubs
    first)."""

    def __init__(self, daemon, fabric, tmp, index, endpoints, cluster):
        import grpc
        from pulse.v1 import pulse_pb2_grpc as pb_grpc
        self.index = index
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        config = os.path.join(tmp, "replica%d.yaml" % index)
        with open(config, "w") as f:
            f.write("listen: %s\nfabric: %s\ninsecure: true\nlog_level: info\n"
                    "cluster:\n  etcd_endpoints: [%s]\n  name: %s\n"
                    "  replica_id: r%d\n  advertise: %s\n"
                    % (self.address, os.path.abspath(fabric), ", ".join(endpoints), cluster,
                       index, self.address))
        self.log_path = os.path.join(tmp, "replica%d.log" % index)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([daemon, "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.jobs = pb_grpc.JobServiceStub(self.channel)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
