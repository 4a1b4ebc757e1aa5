"""TLS, mutual TLS and bearer tokens, with certificates made here and real handshakes."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hyperdial.client import Client, UnauthenticatedError, UnavailableError, float_param
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", 0, 1)]


def test_tls_serves_trusting_clients_only(sqlite_url, pki) -> None:
    settings = Settings(tls_cert=pki["server_cert"], tls_key=pki["server_key"])
    with serve(sqlite_url, settings) as server:
        with Client(server.address, tls_ca_file=pki["ca"], retry_seconds=1) as client:
            client.create_study("secure", X)
            assert client.study("secure").next_trial("w") is not None
        plaintext = Client(server.address, retry_seconds=0.5, timeout=3)
        with plaintext, pytest.raises(UnavailableError):
            plaintext.create_study("nope", X)
        untrusting = Client(server.address, tls=True, retry_seconds=0.5, timeout=3)
        with untrusting, pytest.raises(UnavailableError):  # the test CA is not a system root
            untrusting.create_study("nope", X)


def test_the_environment_gives_every_tool_its_tls_files(sqlite_url, pki, monkeypatch) -> None:
    """A trainer in a pod gets HYPERDIAL_TLS_*_FILE, not flags (deploy/k8s)."""
    settings = Settings(
        tls_cert=pki["server_cert"], tls_key=pki["server_key"], tls_client_ca=pki["ca"]
    )
    monkeypatch.setenv("HYPERDIAL_TLS_CA_FILE", pki["ca"])
    monkeypatch.setenv("HYPERDIAL_TLS_CERT_FILE", pki["client_cert"])
    monkeypatch.setenv("HYPERDIAL_TLS_KEY_FILE", pki["client_key"])
    with serve(sqlite_url, settings) as server, Client(server.address) as client:
        client.create_study("from-the-environment", X)
        assert [s.name for s in client.list_studies()] == ["from-the-environment"]


def test_mutual_tls_requires_a_client_certificate(sqlite_url, pki) -> None:
    settings = Settings(
        tls_cert=pki["server_cert"], tls_key=pki["server_key"], tls_client_ca=pki["ca"]
    )
    with serve(sqlite_url, settings) as server:
        with Client(
            server.address,
            tls_ca_file=pki["ca"],
            tls_cert_file=pki["client_cert"],
            tls_key_file=pki["client_key"],
        ) as client:
            client.create_study("mutual", X)
        anonymous = Client(server.address, tls_ca_file=pki["ca"], retry_seconds=0.5, timeout=3)
        with anonymous, pytest.raises(UnavailableError):
            anonymous.create_study("nope", X)


@pytest.fixture
def token_server(sqlite_url, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# accepted tokens\nalpha-secret\n\nbeta-secret\n")
    with serve(sqlite_url, Settings(auth_token_file=str(tokens))) as server:
        yield server


@pytest.mark.parametrize("token", [None, "wrong", "alpha-secre", "alpha-secretX"])
def test_calls_without_a_known_token_are_unauthenticated(token_server, token) -> None:
    with Client(token_server.address, token=token, retry_seconds=1) as client:
        with pytest.raises(UnauthenticatedError, match="bearer token"):
            client.create_study("s", X)
        with pytest.raises(UnauthenticatedError):
            list(client.list_studies())
        requests = iter(
            [pb.WorkRequest(sequence=1, suggest=pb.SuggestRequest(study="s", worker_id="w"))]
        )
        with pytest.raises(grpc.RpcError) as raw:
            list(client.stub.Work(requests, metadata=client.metadata))
        assert raw.value.code() is grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("token", ["alpha-secret", "beta-secret"])
def test_known_tokens_get_in_on_every_path(token_server, token) -> None:
    with Client(token_server.address, token=token) as client:
        client.create_study("s", X, max_trials=3)
        study = client.study("s", prefetch=True, stream=True)
        while (trial := study.next_trial("w")) is not None:
            trial.complete(0.5)
        study.close()
        assert study.info().trial_counts["COMPLETED"] == 3


def test_health_checks_need_no_token(token_server) -> None:
    with grpc.insecure_channel(token_server.address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_bad_security_flags_are_refused() -> None:
    from hyperdial.server.config import parse_settings

    with pytest.raises(SystemExit):
        parse_settings(["--tls-cert", "cert.pem"], environ={})
    with pytest.raises(SystemExit):
        parse_settings(["--tls-client-ca", "ca.pem"], environ={})
    assert parse_settings([], environ={"HYPERDIAL_AUTH_TOKEN_FILE": "t"}).auth_token_file == "t"
