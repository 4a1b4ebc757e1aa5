"""/metrics after a real study: counters moved by exactly the calls made."""

import time
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hyperdial.client import Client, InvalidArgumentError, float_param
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve
from hyperdial.v1 import hyperdial_pb2 as pb


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_every_call(database_url) -> None:
    with serve(database_url, Settings(metrics_port=0)) as server:
        port = server.app.metrics_port
        assert port
        with Client(server.address, retry_seconds=1) as client:
            study = client.create_study("watched", [float_param("x", 0, 1)], goal="minimize")
            values = []
            for _ in range(5):
                (trial,) = study.suggest(1, worker_id="w")
                values.append(float(trial.params["x"]))
                trial.complete(values[-1])
            with pytest.raises(InvalidArgumentError):
                study.suggest(-1, worker_id="w")
            with pytest.raises(grpc.RpcError):
                client.stub.GetStudy(pb.GetStudyRequest(name="missing"))
        # An aborted call's status reaches the client as the server sends it, a moment
        # before the interceptor counts it: wait for the count rather than race it.
        failed_get = ("hyperdial_rpcs_total", (("code", "NOT_FOUND"), ("method", "GetStudy")))
        deadline = time.monotonic() + 5
        while failed_get not in (samples := _scrape(port)) and time.monotonic() < deadline:
            time.sleep(0.05)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("hyperdial_rpcs_total", method="CreateStudy", code="OK") == 1
    assert value("hyperdial_rpcs_total", method="Suggest", code="OK") == 5
    assert value("hyperdial_rpcs_total", method="Suggest", code="INVALID_ARGUMENT") == 1
    assert value("hyperdial_rpcs_total", method="Observe", code="OK") == 5
    assert value("hyperdial_rpcs_total", method="GetStudy", code="NOT_FOUND") == 1
    assert value("hyperdial_rpc_duration_seconds_count", method="Suggest") == 6
    assert value("hyperdial_rpc_duration_seconds_sum", method="Observe") > 0
    assert value("hyperdial_suggestions_total", study="watched", algorithm="random") == 5
    assert (
        value(
            "hyperdial_observations_total", study="watched", algorithm="random", state="COMPLETED"
        )
        == 5
    )
    assert value("hyperdial_suggestion_compute_seconds_count", algorithm="random") == 5
    assert value("hyperdial_trials", study="watched", state="COMPLETED") == 5
    assert value("hyperdial_best_value", study="watched") == pytest.approx(min(values))
    assert value("hyperdial_studies_active") == 1
    assert value("hyperdial_store_write_batch_size_count") >= 11
    # Buckets reach past a slow first bayes fit: p95 and p99 do not flatten at 10 s.
    assert value("hyperdial_rpc_duration_seconds_bucket", method="Suggest", le="120.0") == 6


def test_per_study_labels_are_bounded() -> None:
    from hyperdial.server.metrics import OTHER_STUDIES, ServerMetrics

    metrics = ServerMetrics(max_labeled_studies=2)
    assert [metrics.study_label(f"s{i}") for i in range(4)] == [
        "s0",
        "s1",
        OTHER_STUDIES,
        OTHER_STUDIES,
    ]
    assert metrics.study_label("s1") == "s1"
    assert ServerMetrics(per_study=False).study_label("s0") == OTHER_STUDIES
