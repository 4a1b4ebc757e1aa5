"""One trial run by the agent: start the command, relay its metrics, end the trial.

Metric lines (`lines.py`) from stdout or the metrics file go out as they come:
a value of the study's objective as ReportProgress (its `step`, or the count
of values so far), and the last values (or the `final` line's) as Observe.
When ReportProgress answers stop, the command gets SIGTERM, then SIGKILL after
the grace period, and the trial ends PRUNED. Without metric lines the lease is
kept by heartbeats.

A NaN or infinite value says the run diverged: it is never sent (the server
refuses it), and a trial whose outcome would carry one ends INFEASIBLE, so
the study's model learns the region diverges instead of losing the trial.

Outcomes: exit 0 with every metric the study needs → COMPLETED, or
INFEASIBLE where one of them is not finite; exit status
`INFEASIBLE_EXIT_CODE` or an `infeasible` line → INFEASIBLE; any other exit,
a crash, a command that cannot start, or exit 0 without the metrics → FAILED,
with the exit status and the tail of stderr as the reason.
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hyperdial.client.agent.child import Child, ChildStartError, describe_status
from hyperdial.client.agent.command import CommandTemplate, trial_environment, write_params_file
from hyperdial.client.agent.lines import MetricLine, MetricLineError, parse_line
from hyperdial.client.agent.metrics_file import MetricsFile
from hyperdial.client.errors import HyperdialError
from hyperdial.client.trial import Trial
from hyperdial.client.views import StudyInfo

log = logging.getLogger(__name__)

# sysexits' EX_CONFIG, "configuration error": this configuration cannot be evaluated.
INFEASIBLE_EXIT_CODE = 78
# How often the loop wakes without news: to look for an exited command whose
# pipes a runaway grandchild keeps open, and for a due heartbeat.
TICK_SECONDS = 0.5
EXIT_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class RunSettings:
    """What every trial of one agent shares."""

    command: CommandTemplate
    server: str
    log_dir: Path
    grace_seconds: float
    heartbeat_seconds: float
    base_environment: dict[str, str]


@dataclass
class _Seen:
    """What the command has said so far."""

    latest: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    values: int = 0
    infeasible: str | None = None
    rejected: str = ""


class TrialRun:
    """Runs one trial's command to an outcome; `interrupt` stops it as the worker stops."""

    def __init__(self, trial: Trial, study: StudyInfo, settings: RunSettings, gpu: str | None):
        self.trial = trial
        self._settings = settings
        self._gpu = gpu
        config = study.config
        self._progress_metric = "" if len(config.objectives) > 1 else config.objective.metric
        # A single objective without a metric name takes its value from the metric "value".
        self._unnamed = not config.objectives and not config.objective.metric
        self._required = [o.metric for o in config.objectives] or [
            config.objective.metric or "value"
        ]
        self._required += [c.metric for c in config.constraints]
        self._events: queue.Queue[tuple[str, str]] = queue.Queue()
        self._seen = _Seen()
        self._stopped_by_agent = False
        self._pruned_at: int | None = None
        self._lost = False

    def interrupt(self) -> None:
        """Stops the command; the trial ends FAILED ("the worker was stopped")."""
        self._events.put(("interrupt", ""))

    def run(self) -> str:
        """Runs the command and ends the trial; the trial's state (or LOST)."""
        folder = self._settings.log_dir
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"trial-{self.trial.id}"
        params_file, metrics_path = stem.with_suffix(".params.json"), stem.with_suffix(".metrics")
        write_params_file(params_file, self.trial.params)
        metrics_file = MetricsFile(metrics_path, lambda line: self._events.put(("file", line)))
        try:
            child = Child(
                self._argv(),
                self._environment(params_file, metrics_path),
                stem.with_suffix(".log"),
                f"[trial {self.trial.id}] ",
                lambda source, text: self._events.put((source, text)),
            )
        except ChildStartError as error:
            self.trial.fail(str(error))
            return self.trial.state
        metrics_file.start()
        try:
            self._relay(child)
        finally:
            if child.running():
                child.stop(self._settings.grace_seconds)
            status = child.finish()
            metrics_file.stop()
        self._drain()
        return self._end(status, child.stderr_tail())

    def _argv(self) -> list[str]:
        values: dict[str, object] = dict(self.trial.params)
        values |= {
            "trial_id": self.trial.id,
            "study": self.trial.study.name,
            "step_budget": self.trial.step_budget,
        }
        return self._settings.command.argv(values)

    def _environment(self, params_file: Path, metrics_path: Path) -> dict[str, str]:
        environment = dict(self._settings.base_environment)
        environment |= trial_environment(
            self.trial.params,
            self.trial.id,
            self.trial.study.name,
            self._settings.server,
            params_file,
            self.trial.step_budget,
        )
        environment["HYPERDIAL_METRICS_FILE"] = str(metrics_path)
        if self._gpu is not None:
            environment["CUDA_VISIBLE_DEVICES"] = self._gpu
        return environment

    def _relay(self, child: Child) -> None:
        """Relays events until the command has exited (or must stop).

        Its pipes close just before it exits: from then on the loop only waits
        for the exit, briefly, so a command that is ending is never signalled.
        """
        closed = 0
        contact = time.monotonic()
        while closed < 2 or child.running():
            due = contact + self._settings.heartbeat_seconds
            wait = EXIT_POLL_SECONDS if closed == 2 else min(TICK_SECONDS, due - time.monotonic())
            try:
                source, text = self._events.get(timeout=max(0.0, wait))
            except queue.Empty:
                if time.monotonic() >= due:
                    contact = time.monotonic()
                    if not self.trial.heartbeat():
                        self._lost = True
                        return
                if not child.running():  # exited; a process it left may hold the pipes
                    return
                continue
            if source == "eof":
                closed += 1
            elif source == "interrupt":
                self._stopped_by_agent = True
                return
            elif source in ("stdout", "file") and self._line(text):
                contact = time.monotonic()
                if self._pruned_at is not None:
                    return

    def _drain(self) -> None:
        """Takes in the lines still queued once the command has exited."""
        while True:
            try:
                source, text = self._events.get_nowait()
            except queue.Empty:
                return
            if source in ("stdout", "file") and self._pruned_at is None:
                self._line(text)

    def _line(self, text: str) -> bool:
        """Takes in one line of output; True when it was a metric line sent to the server."""
        try:
            line = parse_line(text)
        except MetricLineError as error:
            self._seen.rejected = f"rejected metric line {text[:200]!r}: {error}"
            print(
                f"hyperdial agent: trial {self.trial.id}: {self._seen.rejected}", file=sys.stderr
            )
            return False
        if line is None:
            return False
        self._take(line)
        return self._report(line)

    def _take(self, line: MetricLine) -> None:
        if line.infeasible is not None:
            self._seen.infeasible = line.infeasible
        self._seen.latest |= line.metrics
        if line.final:
            self._seen.final |= line.metrics

    def _report(self, line: MetricLine) -> bool:
        value = line.metrics.get(self._progress_metric) if self._progress_metric else None
        if line.final or value is None or self._lost or self._stopped_by_agent:
            return False
        step = line.step if line.step is not None else self._seen.values
        self._seen.values += 1
        if not math.isfinite(value):
            return False
        if self.trial.report(step, value):
            self._pruned_at = step
        return True

    def _end(self, status: int, stderr_tail: str) -> str:
        """Observes the outcome; the trial's state, or LOST when its lease was gone."""
        if self._lost:
            log.warning("trial %d: its lease was lost; it is left to the server", self.trial.id)
            return "LOST"
        tail = f"\n{stderr_tail}" if stderr_tail else ""
        if self._stopped_by_agent:
            self.trial.fail("the worker was stopped", worker_stopped=True)
        elif self._pruned_at is not None:
            self.trial.prune(f"stopped early at step {self._pruned_at}")
        elif self._seen.infeasible is not None or status == INFEASIBLE_EXIT_CODE:
            self.trial.infeasible(self._seen.infeasible or describe_status(status))
        elif status != 0:
            self.trial.fail(f"the command {describe_status(status)}{tail}")
        else:
            self._complete(tail)
        return self.trial.state

    def _complete(self, tail: str) -> None:
        metrics = self._seen.final or self._seen.latest
        missing = [name for name in self._required if name not in metrics]
        if missing:
            rejected = f"; {self._seen.rejected}" if self._seen.rejected else ""
            names = ", ".join(missing)
            self.trial.fail(f"the command exited 0 without reporting {names}{rejected}{tail}")
            return
        needed = {name: metrics[name] for name in self._required}
        diverged = [f"{name}={v}" for name, v in needed.items() if not math.isfinite(v)]
        if diverged:
            self.trial.infeasible(f"the run diverged: {', '.join(diverged)}")
            return
        metrics = {name: value for name, value in metrics.items() if math.isfinite(value)}
        try:
            self.trial.complete(metrics["value"] if self._unnamed else None, metrics=metrics)
        except HyperdialError as error:
            self.trial.fail(f"the server refused the outcome: {error}")
