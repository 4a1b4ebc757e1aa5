"""SIGTERM: stop accepting, finish what is in flight within the grace period, close cleanly."""

import signal
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hyperdial.client import Client, float_param


def _refused(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=0.2)
        except grpc.RpcError as error:
            return error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        return False


def test_sigterm_finishes_in_flight_work_then_exits_cleanly(sqlite_url, server_process) -> None:
    server = server_process(sqlite_url)  # --grace-seconds 2
    with Client(server.address, retry_seconds=0.5) as client:
        client.create_study("drain", [float_param("x", 0, 1)])
        study = client.study("drain", stream=True)
        trial = study.next_trial("w")  # the Work stream is now open: an RPC in flight
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while not _refused(server.address):  # new calls are turned away at once…
            assert time.monotonic() < deadline, "the server still accepts new calls"
        trial.complete(0.5)  # …while the open stream is still served
        study.close()
    assert server.process.wait(timeout=15) == 0
    restarted = server_process(sqlite_url)
    with Client(restarted.address) as client:
        (stored,) = client.study("drain").trials()
        assert (stored.state, stored.value) == ("COMPLETED", 0.5)
