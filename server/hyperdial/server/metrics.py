"""Every Prometheus collector of the server (`hyperdial_*`), on the server's own registry.

Label sets are fixed. Per-study labels are bounded: the first
`max_labeled_studies` studies a server sees get their own label value, later
ones share `_other`, and `per_study=False` drops study labels altogether, so a
server with thousands of studies cannot blow up Prometheus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

OTHER_STUDIES = "_other"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class StudySnapshot:
    """What the store says of one study at scrape time."""

    name: str
    algorithm: str
    active: bool
    trial_counts: dict[str, int] = field(default_factory=dict)
    best_value: float | None = None
    hypervolume: float | None = None


class ServerMetrics:
    """The collectors, and the bound on per-study label values."""

    def __init__(self, *, per_study: bool = True, max_labeled_studies: int = 1000) -> None:
        self.registry = CollectorRegistry()
        self._per_study = per_study
        self._max_labeled = max_labeled_studies
        self._labeled: set[str] = set()
        self._lock = threading.Lock()
        self.rpcs = Counter(
            "hyperdial_rpcs",
            "RPCs answered, by method and status code (a Work stream counts once).",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "hyperdial_rpc_duration_seconds",
            "Time from request to answer, by method.",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.suggestions = Counter(
            "hyperdial_suggestions",
            "Trials handed out (resumed trials not counted), by study and algorithm.",
            ["study", "algorithm"],
            registry=self.registry,
        )
        self.observations = Counter(
            "hyperdial_observations",
            "Trials ended by Observe, by study, algorithm and outcome state.",
            ["study", "algorithm", "state"],
            registry=self.registry,
        )
        self.suggestion_seconds = Histogram(
            "hyperdial_suggestion_compute_seconds",
            "Time an algorithm took to propose one Suggest's trials, by algorithm.",
            ["algorithm"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.write_batch = Histogram(
            "hyperdial_store_write_batch_size",
            "Writes committed together (group commit), per transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )

    def study_label(self, study: str) -> str:
        """The label value for `study` under the cardinality bound."""
        if not self._per_study:
            return OTHER_STUDIES
        with self._lock:
            if study in self._labeled:
                return study
            if len(self._labeled) < self._max_labeled:
                self._labeled.add(study)
                return study
        return OTHER_STUDIES

    def watch_studies(self, snapshot: Callable[[], Sequence[StudySnapshot]]) -> None:
        """Reports trials by state, best values and active studies from `snapshot` at scrape."""
        self.registry.register(_StudyCollector(self, snapshot))

    def serve(self, address: str, port: int) -> tuple[WSGIServer, int]:
        """Serves /metrics on address:port (0 picks a port); returns the server and its port."""
        server, _ = start_http_server(port, addr=address, registry=self.registry)
        return server, int(server.server_address[1])


class _StudyCollector(Collector):
    """Gauges read from the database when Prometheus scrapes, so every replica agrees."""

    def __init__(
        self, metrics: ServerMetrics, snapshot: Callable[[], Sequence[StudySnapshot]]
    ) -> None:
        self._metrics = metrics
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """See prometheus_client.registry.Collector."""
        trials = GaugeMetricFamily(
            "hyperdial_trials", "Trials by study and state.", labels=["study", "state"]
        )
        best = GaugeMetricFamily(
            "hyperdial_best_value", "Best objective value per study.", labels=["study"]
        )
        hypervolume = GaugeMetricFamily(
            "hyperdial_hypervolume",
            "Hypervolume of the Pareto front per study with several objectives.",
            labels=["study"],
        )
        active = GaugeMetricFamily(
            "hyperdial_studies_active", "Studies still handing out trials.", labels=[]
        )
        counts: dict[tuple[str, str], int] = {}
        active_count = 0
        for study in self._snapshot():
            label = self._metrics.study_label(study.name)
            active_count += study.active
            for state, count in study.trial_counts.items():
                counts[(label, state)] = counts.get((label, state), 0) + count
            if study.best_value is not None and label != OTHER_STUDIES:
                best.add_metric([label], study.best_value)
            if study.hypervolume is not None and label != OTHER_STUDIES:
                hypervolume.add_metric([label], study.hypervolume)
        for (label, state), count in sorted(counts.items()):
            trials.add_metric([label, state], count)
        active.add_metric([], active_count)
        yield from (trials, best, hypervolume, active)
