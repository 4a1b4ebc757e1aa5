"""Fixtures of the end-to-end tests: certificates made here for real TLS handshakes, and
a server on SQLite for the agent's tests."""

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hyperdial.server.testing import RunningServer, serve


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


@pytest.fixture
def sqlite_server(sqlite_url: str) -> Iterator[RunningServer]:
    """The agent's own behaviour does not depend on the store: SQLite."""
    with serve(sqlite_url) as running:
        yield running
