"""TLS, mutual TLS and bearer tokens, with certificates made here and real handshakes."""

import datetime
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hyperdial.client import Client, UnauthenticatedError, UnavailableError, float_param
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", 0, 1)]


def _write(path: Path, key, cert) -> tuple[str, str]:
    key_path, cert_path = path.with_suffix(".key"), path.with_suffix(".pem")
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)


def _certificate(name: str, issuer_key, issuer_name, *, ca: bool, public_key, sans=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hyperdial test CA")])
    ca_cert = _certificate(
        "hyperdial test CA", ca_key, ca_name, ca=True, public_key=ca_key.public_key()
    )
    ca_pem, _ = _write(directory / "ca", ca_key, ca_cert)
    files = {"ca": ca_pem}
    for role in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        cert = _certificate(
            role, ca_key, ca_name, ca=False, public_key=key.public_key(), sans=sans
        )
        files[f"{role}_cert"], files[f"{role}_key"] = _write(directory / role, key, cert)
    return files


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
