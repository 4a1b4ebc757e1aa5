"""Every Prometheus collector of the server (`hyperdial_*`), on the server's own registry.

Label sets are fixed. Per-study labels are bounded: the first
`max_labeled_studies` studies a server sees get their own label value, later
ones share `_other`, and `per_study=False` drops study labels altogether, so a
server with thousands of studies cannot blow up Prometheus.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from hyperdial.server.domain import StudySnapshot
from hyperdial.server.tokens import Tokens

OTHER_STUDIES = "_other"
# Up to 120 s: a first bayes fit of a large study can take tens of seconds, and a top
# bucket at 10 s flattened Suggest's p95 and p99 at "10".
_LATENCY_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)
_LATENCY_BUCKETS += (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


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
        self.store_writable = Gauge(
            "hyperdial_store_writable",
            "1 while the store's writer commits (health SERVING), 0 while it cannot.",
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

    def serve(
        self,
        address: str,
        port: int,
        *,
        tokens: Tokens | None = None,
        tls: tuple[str, str] | None = None,
        healthy: Callable[[], bool] = lambda: True,
    ) -> tuple[WSGIServer, int]:
        """Serves /metrics (and /healthz) on address:port; returns the server and its port.

        Args:
            address: where to listen.
            port: the port; 0 picks a free one.
            tokens: if given, /metrics needs `Authorization: Bearer <token>`
                (Prometheus: `authorization: {credentials_file: …}`).
            tls: (certificate chain, key) PEM files: serve HTTPS.
            healthy: answers /healthz, which needs no token (200 or 503), for
                orchestrators' HTTP probes.
        """
        app = _guarded(make_wsgi_app(self.registry), tokens, healthy)
        server = make_server(
            address, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, name="hyperdial-metrics")
        thread.daemon = True
        thread.start()
        return server, int(server.server_address[1])


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _guarded(metrics: WsgiApp, tokens: Tokens | None, healthy: Callable[[], bool]) -> WsgiApp:
    """`metrics` behind a bearer-token check, beside an open /healthz."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        text = [("Content-Type", "text/plain; charset=utf-8")]
        if environ.get("PATH_INFO") == "/healthz":
            serving = healthy()
            start_response("200 OK" if serving else "503 Service Unavailable", text)
            return [b"SERVING\n" if serving else b"NOT_SERVING\n"]
        if tokens is not None and not tokens.accepts(environ.get("HTTP_AUTHORIZATION", "")):
            challenge = ("WWW-Authenticate", 'Bearer realm="hyperdial metrics"')
            start_response("401 Unauthorized", [*text, challenge])
            return [b"missing or invalid bearer token: send 'Authorization: Bearer <token>'\n"]
        return metrics(environ, start_response)

    return app


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing per request: a scrape every few seconds is not news."""

    def log_message(self, format: str, *args: Any) -> None:
        """See BaseHTTPRequestHandler."""


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
