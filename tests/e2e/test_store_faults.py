"""A database that stops taking writes under a running server: nothing is acknowledged that
is not stored, errors are UNAVAILABLE (never INTERNAL), and health says NOT_SERVING."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.helpers import POSTGRES, postgres_schema

from hyperdial.client import Client, UnavailableError, float_param

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status


def _wait_for_health(address: str, status: int, seconds: float = 15) -> None:
    ends = time.monotonic() + seconds
    while _health(address) != status:
        assert time.monotonic() < ends, f"health never became {status}"
        time.sleep(0.2)


def test_a_removed_sqlite_directory_refuses_writes_and_restarts_refuse_it(
    tmp_path: Path, server_process
) -> None:
    directory = tmp_path / "data"
    url = f"sqlite:///{directory / 'hyperdial.db'}"
    server = server_process(url)
    with Client(server.address, timeout=5, retry_seconds=0.5) as client:
        study = client.create_study("s", [float_param("x", 0, 1)])
        before = study.next_trial("w")
        held = study.next_trial("w2")
        before.complete(1.0)
        shutil.rmtree(directory)
        for _ in range(3):  # every write refused: none acknowledged
            with pytest.raises(UnavailableError, match="removed or replaced"):
                held.complete(2.0)
            with pytest.raises(UnavailableError, match="removed or replaced"):
                study.suggest(1, worker_id="w3")
        _wait_for_health(server.address, NOT_SERVING)
    server.stop()
    # A restart does not quietly begin again on an empty database.
    restart = subprocess.run(
        [sys.executable, "-m", "hyperdial.server", "--database", url, "--address", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restart.returncode == 2
    assert "no database" in restart.stderr
    assert not directory.exists()


@pytest.mark.slow
def test_postgresql_refusing_writes_is_unavailable_then_recovers(server_process) -> None:
    """A trigger makes every write fail as a read-only database would, then goes away."""
    with postgres_schema() as url:
        schema = url.rsplit("%3D", 1)[1]
        server = server_process(url)
        with Client(server.address, timeout=5, retry_seconds=2) as client:
            study = client.create_study("s", [float_param("x", 0, 1)])
            held = study.next_trial("w")
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute(
                    f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'read-only now' USING ERRCODE = '25006'; END $$"
                )
                for table in ("trials", "studies", "alembic_version"):
                    admin.execute(
                        f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {schema}.{table} "
                        f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse()"
                    )
                with pytest.raises(UnavailableError):
                    held.complete(1.0)
                with pytest.raises(UnavailableError):
                    study.suggest(1, worker_id="w2")
                _wait_for_health(server.address, NOT_SERVING)
                for table in ("trials", "studies", "alembic_version"):
                    admin.execute(f"DROP TRIGGER refuse ON {schema}.{table}")
            _wait_for_health(server.address, SERVING)
            held.complete(1.0)
            (trial,) = [t for t in study.trials() if t.id == held.id]
            assert trial.state == "COMPLETED"
            assert trial.value == 1.0
        server.stop()
