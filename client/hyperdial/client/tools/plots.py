"""`hyperdial plot NAME --kind KIND -o FILE`: a study's results as a PNG or SVG image.

Kinds:
  history     each completed trial's value and the best so far, by trial number
  curves      every trial's learning curve (its reported values by step); pruned
              trials dashed, ending in a cross where they were stopped
  parallel    parallel coordinates of the configurations, coloured by value, on
              each parameter's own values (log axes, labelled categories, and an
              "inactive" slot for conditional parameters a trial did not use)
  slice       value against each parameter (log axes for log scales)
  importance  share of the value's variance explained by each parameter alone,
              with the number of trials it rests on
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
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError
from hyperdial.client.tools.plot_axes import Axis, completed, importances
from hyperdial.client.tools.plot_parallel import parallel
from hyperdial.client.trial import Trial
from hyperdial.v1 import hyperdial_pb2 as pb

KINDS = ("history", "curves", "parallel", "slice", "importance", "pareto")


def history(trials: Sequence[Trial], minimize: bool, metric: str, study: str) -> Figure:
    """Values by trial number and the best so far."""
    done = completed(trials)
    figure, axes = plt.subplots(figsize=(8, 5))
    numbers = [t.id for t in done]
    values = [t.value for t in done if t.value is not None]
    axes.scatter(numbers, values, s=14, alpha=0.6, label="trial")
    best, running = [], math.inf if minimize else -math.inf
    for value in values:
        running = min(running, value) if minimize else max(running, value)
        best.append(running)
    axes.step(numbers, best, where="post", color="C3", label="best so far")
    axes.set(xlabel="trial", ylabel=metric, title=f"{study}: optimization history")
    axes.legend()
    return figure


def curves(trials: Sequence[Trial], metric: str, study: str) -> Figure:
    """Each trial's reported values by step; stopped (pruned) trials dashed, crossed at the end."""
    figure, axes = plt.subplots(figsize=(8, 5))
    drawn = {"COMPLETED": 0, "PRUNED": 0}
    for trial in trials:
        if not trial.measurements or trial.state not in drawn:
            continue
        steps, values = zip(*sorted(trial.measurements), strict=True)
        if trial.state == "PRUNED":
            axes.plot(steps, values, color="0.55", linestyle="--", linewidth=0.9, alpha=0.8)
            axes.scatter(steps[-1:], values[-1:], marker="x", color="C3", s=24, zorder=3)
        else:
            axes.plot(steps, values, color="C0", linewidth=1, alpha=0.8)
        drawn[trial.state] += 1
    axes.plot([], [], color="C0", label=f"completed ({drawn['COMPLETED']})")
    axes.plot(
        [], [], color="0.55", linestyle="--", label=f"pruned ({drawn['PRUNED']}), x: stopped"
    )
    axes.set(xlabel="step", ylabel=metric, title=f"{study}: learning curves")
    axes.legend()
    return figure


def slices(trials: Sequence[Trial], axes_of: Sequence[Axis], metric: str, study: str) -> Figure:
    """The value against each parameter."""
    done = completed(trials)
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
            # Labels at powers of ten, and at 2 and 5 times them within two decades: never
            # the crowded minor labels matplotlib puts on a short log range.
            decades = math.log10(axis.high / axis.low)
            subs = (1.0, 2.0, 5.0) if decades < 2 else (1.0,)
            axes.xaxis.set_major_locator(LogLocator(subs=subs))
            axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        elif axis.integer:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set(xlabel=axis.name, ylabel=metric)
    for index in range(len(axes_of), rows * columns):
        grid[index // columns][index % columns].axis("off")
    figure.suptitle(f"{study}: {metric} against each parameter")
    figure.tight_layout()
    return figure


def importance(trials: Sequence[Trial], axes_of: Sequence[Axis], study: str) -> Figure:
    """A bar per parameter: the share of variance it explains alone, and what it rests on."""
    shares = sorted(importances(trials, axes_of).items(), key=lambda item: item[1])
    figure, axes = plt.subplots(figsize=(7, 0.5 * len(shares) + 1.5))
    bars = axes.barh([name for name, _ in shares], [share for _, share in shares], color="C0")
    done = completed(trials)
    used = {a.name: sum(a.name in t.params for t in done) for a in axes_of}
    axes.bar_label(
        bars, [f"{share:.2f} ({used[name]} trials)" for name, share in shares], padding=3
    )
    rests_on = len(done)
    axes.set(
        xlabel=f"share of variance explained alone ({rests_on} completed trials)",
        xlim=(0, 1.3),
        title=f"{study}: importance",
    )
    return figure


def pareto(
    trials: Sequence[Trial], front: Sequence[Trial], objectives: Sequence[str], study: str
) -> Figure:
    """Completed trials by objective pairs; the front highlighted, violators crossed."""
    finished = completed(trials)
    on_front = {t.id for t in front}
    violating = [t for t in finished if t.violates_constraints]
    groups = (
        (
            "dominated",
            "0.6",
            "o",
            [t for t in finished if t.id not in on_front and not t.violates_constraints],
        ),
        ("violates constraints", "C3", "x", violating),
        ("Pareto front", "C0", "o", [t for t in finished if t.id in on_front]),
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
    figure.suptitle(f"{study}: Pareto front, {len(front)} of {len(finished)} completed trials")
    return figure


def plot(client: Client, study_name: str, kind: str, output: Path) -> Path:
    """Draws one kind of plot of a study into `output` (.png or .svg)."""
    if output.suffix not in (".png", ".svg"):
        raise ValueError(f"{output}: the file must end in .png or .svg")
    study = client.study(study_name)
    config = study.info().config
    trials = list(study.trials(measurements=kind == "curves"))
    if not completed(trials):
        raise ValueError(f"study {study_name!r} has no completed trial to plot")
    metric = config.objective.metric or "objective"
    axes_of = [Axis.of(p) for p in config.parameters]
    if kind == "history":
        figure = history(trials, config.objective.goal != pb.MAXIMIZE, metric, study_name)
    elif kind == "curves":
        figure = curves(trials, metric, study_name)
    elif kind == "parallel":
        figure = parallel(trials, axes_of, metric, study_name)
    elif kind == "slice":
        figure = slices(trials, axes_of, metric, study_name)
    elif kind == "pareto":
        if len(config.objectives) < 2:
            raise ValueError(f"study {study_name!r} has one objective: pareto needs several")
        front = study.best_trials(0)
        figure = pareto(trials, front, [o.metric for o in config.objectives], study_name)
    else:
        figure = importance(trials, axes_of, study_name)
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
