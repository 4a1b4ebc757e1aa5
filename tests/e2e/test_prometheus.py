"""Every PromQL query of the dashboard, run by a real Prometheus scraping a real server."""

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.helpers import REPO

from hyperdial.client import Client, InvalidArgumentError, float_param, int_param
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve

PROMETHEUS = shutil.which("prometheus")
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "hyperdial.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _query(port: int, expr: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


# What Grafana puts for the dashboard's variables with "All" selected.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$study": ".*", "$instance": ".*"}


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"a variable Grafana would not fill: {expr}"
            queries.append(expr)
    return queries


def _traffic(address: str, stop: threading.Event) -> None:
    with Client(address, retry_seconds=1) as client:
        study = client.create_study("dashboard", [float_param("x", 0, 1)], goal="minimize")
        while not stop.is_set():
            trial = study.next_trial("w")
            trial.report(0, 1.0)
            trial.complete(float(trial.params["x"]))
            with pytest.raises(InvalidArgumentError):
                study.suggest(-1, worker_id="w")
            time.sleep(0.02)


def _start_prometheus(
    tmp_path: Path, port: int, *, server: int | None, trainers: int
) -> subprocess.Popen[bytes]:
    """Prometheus with the shipped config, scraping every second on loopback."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    targets = {
        "hyperdial-server": f"127.0.0.1:{server}",
        "hyperdial-trainers": f"127.0.0.1:{trainers}",
    }
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    return subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for_scrapes(prometheus: subprocess.Popen[bytes], port: int) -> None:
    """Until every target was scraped up five times (within a minute)."""
    deadline = time.monotonic() + 60
    while True:
        assert prometheus.poll() is None, prometheus.stderr and prometheus.stderr.read().decode()
        try:
            scrapes = _query(port, "min(sum_over_time(up[1m]))")["data"]["result"]
            if scrapes and float(scrapes[0]["value"][1]) >= 5:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "Prometheus never scraped the server"
        time.sleep(0.5)


@pytest.mark.skipif(
    PROMETHEUS is None,
    reason="Debian's prometheus package is not installed; `make test` installs it",
)
def test_every_dashboard_query_returns_data(sqlite_url, tmp_path) -> None:
    assert len(_dashboard_queries()) >= 12
    with serve(sqlite_url, Settings(metrics_port=0)) as server:
        stop = threading.Event()
        driver = threading.Thread(target=_traffic, args=(server.address, stop))
        driver.start()
        with Client(server.address) as client:
            client.create_study(
                "trainer-dashboard",
                [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)],
                max_trials=1000,
            )
            trade_off = client.create_study(
                "pareto-dashboard",
                [float_param("x", 0, 1)],
                objectives=[("loss", "minimize"), ("size", "minimize")],
            )
            for trial in trade_off.suggest(3, worker_id="w"):
                x = float(trial.params["x"])
                trial.complete(metrics={"loss": x, "size": 1 - x})
        trainer_port = _free_port()
        trainer = subprocess.Popen(
            [
                *(sys.executable, "-m", "hyperdial.trainers", "--server", server.address),
                *("--study", "trainer-dashboard", "--device", "cpu"),
                *("--metrics-port", str(trainer_port)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = _free_port()
        prometheus = _start_prometheus(
            tmp_path, port, server=server.app.metrics_port, trainers=trainer_port
        )
        try:
            _wait_for_scrapes(prometheus, port)
            for expr in _dashboard_queries():
                answer = _query(port, expr)
                assert answer["status"] == "success", (expr, answer)
                assert answer["data"]["result"], f"no data for {expr}"
        finally:
            stop.set()
            driver.join()
            trainer.send_signal(signal.SIGTERM)
            trainer.wait(timeout=60)
            prometheus.terminate()
            prometheus.wait(timeout=30)
