"""What other languages need beside the .proto: package options and the retry policy."""

from __future__ import annotations

import json

import grpc
import pytest
from tests.helpers import REPO

from hyperdial.client.retry import FIRST_BACKOFF_SECONDS, LONGEST_BACKOFF_SECONDS, RETRYABLE
from hyperdial.server.testing import serve
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

SERVICE_CONFIG = REPO / "proto" / "hyperdial" / "v1" / "service_config.json"


def test_generators_of_other_languages_find_their_package_options() -> None:
    options = pb.DESCRIPTOR.GetOptions()
    assert options.go_package.endswith(";hyperdialv1")
    assert options.java_package == "dev.hyperdial.v1"
    assert options.java_multiple_files
    assert options.csharp_namespace == "Hyperdial.V1"


def test_the_service_config_retries_as_the_python_client_does() -> None:
    config = json.loads(SERVICE_CONFIG.read_text())
    unary, work = config["methodConfig"]
    policy = unary["retryPolicy"]
    assert set(policy["retryableStatusCodes"]) == {code.name for code in RETRYABLE}
    assert policy["initialBackoff"] == f"{FIRST_BACKOFF_SECONDS:g}s"
    assert policy["maxBackoff"] == f"{LONGEST_BACKOFF_SECONDS:g}s"
    assert unary["name"] == [{"service": "hyperdial.v1.HyperdialService"}]
    # The Work stream lives as long as a worker does: no deadline, no blind retry.
    assert work == {"name": [{"service": "hyperdial.v1.HyperdialService", "method": "Work"}]}


def test_a_channel_takes_the_service_config_and_calls_through_it(sqlite_url: str) -> None:
    options = [("grpc.service_config", SERVICE_CONFIG.read_text()), ("grpc.enable_retries", 1)]
    with serve(sqlite_url) as server, grpc.insecure_channel(server.address, options) as channel:
        stub = pb_grpc.HyperdialServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetStudy(pb.GetStudyRequest(name="ghost"))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # not a refused config
