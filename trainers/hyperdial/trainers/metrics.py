"""A trainer's own Prometheus metrics (`hyperdial_trainer_*`), served on an optional port."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class TrainerMetrics:
    """Throughput and outcomes of one trainer process; `device` (cpu/cuda) labels everything."""

    def __init__(self, device: str) -> None:
        self.registry = CollectorRegistry()
        self.device = device
        self.samples = Counter(
            "hyperdial_trainer_samples",
            "Training examples processed.",
            ["device"],
            registry=self.registry,
        ).labels(device)
        self.epochs = Counter(
            "hyperdial_trainer_epochs", "Epochs trained.", ["device"], registry=self.registry
        ).labels(device)
        self.trials = Counter(
            "hyperdial_trainer_trials",
            "Trials finished by this trainer, by outcome (completed, failed, infeasible, pruned).",
            ["device", "outcome"],
            registry=self.registry,
        )
        # Exported as 0 from the start.
        for outcome in ("completed", "failed", "infeasible", "pruned"):
            self.trials.labels(device, outcome)
        self.trial_seconds = Histogram(
            "hyperdial_trainer_trial_seconds",
            "Wall time per trial.",
            ["device"],
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        ).labels(device)
        self.samples_per_second = Gauge(
            "hyperdial_trainer_samples_per_second",
            "Training throughput of the last trial.",
            ["device"],
            registry=self.registry,
        ).labels(device)

    def finished(self, outcome: str, seconds: float) -> None:
        """Counts a trial's outcome and time."""
        self.trials.labels(self.device, outcome).inc()
        self.trial_seconds.observe(seconds)

    def serve(self, address: str, port: int) -> tuple[WSGIServer, int]:
        """Serves /metrics on address:port (0 picks one); returns the server and its port."""
        server, _ = start_http_server(port, addr=address, registry=self.registry)
        return server, int(server.server_address[1])
