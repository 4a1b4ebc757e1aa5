"""`hyperdial plot NAME --kind KIND -o FILE`: a study's results as a PNG or SVG image.

Kinds:
  history     each completed trial's value and the best so far, by trial number
  parallel    parallel coordinates of the configurations, coloured by value
  slice       value against each parameter (log axes for log scales)
  importance  share of the value's variance explained by each parameter alone
  pareto      several objectives: every completed trial and the Pareto front
              (two objectives: one scatter with the front as a staircase;
              three or more: a scatter per pair of objectives)

Importance is the correlation ratio (a first-order, fANOVA-style main effect):
for each parameter, trials are grouped by its value (by category, or by
quantile bins of a numeric range), and the variance of the group means is
divided by the total variance. It needs no model and reads at a glance; it
misses interactions, which a parallel-coordinates plot shows instead.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError
from hyperdial.client.study import Trial
from hyperdial.v1 import hyperdial_pb2 as pb

KINDS = ("history", "parallel", "slice", "importance", "pareto")
IMPORTANCE_BINS = 5


@dataclass(frozen=True)
class Axis:
    """How a parameter is drawn: its range, scale and categories."""

    name: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[str, ...] = ()

    @classmethod
    def of(cls, parameter: pb.Parameter) -> Axis:
        """The axis of a study parameter."""
        kind = parameter.WhichOneof("domain")
        if kind == "categorical":
            return cls(parameter.name, choices=tuple(parameter.categorical.choices))
        domain = parameter.float_range if kind == "float_range" else parameter.int_range
        return cls(parameter.name, float(domain.low), float(domain.high), domain.log)

    def unit(self, value: float | int | str) -> float:
        """The value's position on [0, 1]."""
        if self.choices:
            return self.choices.index(str(value)) / max(1, len(self.choices) - 1)
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            return (math.log(float(value)) - low) / (high - low)
        return (float(value) - self.low) / (self.high - self.low)


def _completed(trials: Sequence[Trial]) -> list[Trial]:
    return [t for t in trials if t.state == "COMPLETED" and t.value is not None]


def history(trials: Sequence[Trial], minimize: bool, metric: str) -> Figure:
    """Values by trial number and the best so far."""
    done = _completed(trials)
    figure, axes = plt.subplots(figsize=(8, 5))
    numbers = [t.id for t in done]
    values = [t.value for t in done if t.value is not None]
    axes.scatter(numbers, values, s=14, alpha=0.6, label="trial")
    best, running = [], math.inf if minimize else -math.inf
    for value in values:
        running = min(running, value) if minimize else max(running, value)
        best.append(running)
    axes.step(numbers, best, where="post", color="C3", label="best so far")
    axes.set(xlabel="trial", ylabel=metric, title="optimization history")
    axes.legend()
    return figure


def parallel(trials: Sequence[Trial], axes_of: Sequence[Axis], metric: str) -> Figure:
    """Parallel coordinates, one line per completed trial, coloured by value."""
    done = _completed(trials)
    figure, axes = plt.subplots(figsize=(max(6, 1.6 * len(axes_of)), 5))
    values = [t.value for t in done if t.value is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    colours = plt.get_cmap("viridis")
    for trial in done:
        points = [
            (i, a.unit(trial.params[a.name]))
            for i, a in enumerate(axes_of)
            if a.name in trial.params
        ]
        shade = (trial.value - low) / (high - low) if high > low and trial.value else 0.5
        axes.plot(*zip(*points, strict=True), color=colours(shade), alpha=0.7, linewidth=1)
    axes.set_xticks(range(len(axes_of)), [a.name for a in axes_of], rotation=20)
    axes.set(ylim=(-0.05, 1.05), ylabel="position in range", title="parallel coordinates")
    mappable = plt.cm.ScalarMappable(cmap=colours, norm=Normalize(low, high))
    figure.colorbar(mappable, ax=axes, label=metric)
    return figure


def slices(trials: Sequence[Trial], axes_of: Sequence[Axis], metric: str) -> Figure:
    """The value against each parameter."""
    done = _completed(trials)
    columns = min(3, len(axes_of))
    rows = math.ceil(len(axes_of) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for index, axis in enumerate(axes_of):
        axes = grid[index // columns][index % columns]
        shown = [t for t in done if axis.name in t.params]
        xs = [t.params[axis.name] for t in shown]
        if axis.choices:
            xs = [axis.choices.index(str(x)) for x in xs]
            axes.set_xticks(range(len(axis.choices)), axis.choices)
        axes.scatter(xs, [t.value for t in shown], s=12, alpha=0.7)
        if axis.log:
            axes.set_xscale("log")
        axes.set(xlabel=axis.name, ylabel=metric)
    for index in range(len(axes_of), rows * columns):
        grid[index // columns][index % columns].axis("off")
    figure.suptitle("slices")
    figure.tight_layout()
    return figure


def importances(trials: Sequence[Trial], axes_of: Sequence[Axis]) -> dict[str, float]:
    """Each parameter's correlation ratio (variance of group means / total variance)."""
    done = _completed(trials)
    values = [t.value for t in done if t.value is not None]
    if len(values) < 2 or statistics.pvariance(values) == 0:
        return {a.name: 0.0 for a in axes_of}
    total, mean = statistics.pvariance(values), statistics.fmean(values)
    shares = {}
    for axis in axes_of:
        groups: dict[int, list[float]] = {}
        for trial in done:
            if axis.name not in trial.params or trial.value is None:
                continue
            position = axis.unit(trial.params[axis.name])
            key = (
                axis.choices.index(str(trial.params[axis.name]))
                if axis.choices
                else min(int(position * IMPORTANCE_BINS), IMPORTANCE_BINS - 1)
            )
            groups.setdefault(key, []).append(trial.value)
        between = sum(len(g) * (statistics.fmean(g) - mean) ** 2 for g in groups.values())
        shares[axis.name] = between / (len(values) * total)
    return shares


def importance(trials: Sequence[Trial], axes_of: Sequence[Axis]) -> Figure:
    """A bar per parameter: the share of variance it explains alone."""
    shares = sorted(importances(trials, axes_of).items(), key=lambda item: item[1])
    figure, axes = plt.subplots(figsize=(7, 0.5 * len(shares) + 1.5))
    axes.barh([name for name, _ in shares], [share for _, share in shares], color="C0")
    axes.set(xlabel="share of variance explained alone", xlim=(0, 1), title="importance")
    return figure


def pareto(trials: Sequence[Trial], front: Sequence[Trial], objectives: Sequence[str]) -> Figure:
    """Completed trials by objective pairs; the front highlighted, violators crossed."""
    completed = _completed(trials)
    on_front = {t.id for t in front}
    violating = [t for t in completed if t.violates_constraints]
    groups = (
        (
            "dominated",
            "0.6",
            "o",
            [t for t in completed if t.id not in on_front and not t.violates_constraints],
        ),
        ("violates constraints", "C3", "x", violating),
        ("Pareto front", "C0", "o", [t for t in completed if t.id in on_front]),
    )
    pairs = [(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1 :]]
    columns = min(3, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(5 * columns, 4.2 * rows), squeeze=False)
    for axes, (x_name, y_name) in zip(grid.flat, pairs, strict=False):
        for label, color, marker, members in groups:
            axes.scatter(
                [t.metrics[x_name] for t in members],
                [t.metrics[y_name] for t in members],
                s=28,
                c=color,
                marker=marker,
                label=f"{label} ({len(members)})",
            )
        if len(objectives) == 2:
            ordered = sorted((t.metrics[x_name], t.metrics[y_name]) for t in front)
            axes.step(*zip(*ordered, strict=True), where="post", color="C0", linewidth=1)
        axes.set(xlabel=x_name, ylabel=y_name)
        axes.legend(fontsize="small")
    for axes in list(grid.flat)[len(pairs) :]:
        axes.set_visible(False)
    figure.suptitle(f"Pareto front: {len(front)} of {len(completed)} completed trials")
    return figure


def plot(client: Client, study_name: str, kind: str, output: Path) -> Path:
    """Draws one kind of plot of a study into `output` (.png or .svg)."""
    if output.suffix not in (".png", ".svg"):
        raise ValueError(f"{output}: the file must end in .png or .svg")
    study = client.study(study_name)
    config = study.info().config
    trials = list(study.trials())
    if not _completed(trials):
        raise ValueError(f"study {study_name!r} has no completed trial to plot")
    metric = config.objective.metric or "objective"
    axes_of = [Axis.of(p) for p in config.parameters]
    if kind == "history":
        figure = history(trials, config.objective.goal != pb.MAXIMIZE, metric)
    elif kind == "parallel":
        figure = parallel(trials, axes_of, metric)
    elif kind == "slice":
        figure = slices(trials, axes_of, metric)
    elif kind == "pareto":
        if len(config.objectives) < 2:
            raise ValueError(f"study {study_name!r} has one objective: pareto needs several")
        front = study.best_trials(0)
        figure = pareto(trials, front, [o.metric for o in config.objectives])
    else:
        figure = importance(trials, axes_of)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return output


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial plot`."""
    parser = argparse.ArgumentParser(
        prog="hyperdial plot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study")
    parser.add_argument("--kind", choices=KINDS, default="history")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    args = parser.parse_args(argv)
    try:
        with Client(args.server) as client:
            written = plot(client, args.study, args.kind, args.output)
    except (HyperdialError, ValueError) as error:
        sys.exit(f"hyperdial plot: {error}")
    print(f"wrote {written}")
