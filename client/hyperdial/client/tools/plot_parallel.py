"""Parallel coordinates on the parameters' own values.

Each parameter is a vertical axis on [0, 1] (log scales in log space)
labelled with its own values or categories, not with positions. A conditional
parameter a trial did not use (`when` was false) is drawn in an "inactive"
slot below its axis instead of being skipped, so a line never pretends to
pass through a value that was not set.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hyperdial.client.tools.plot_axes import Axis, completed
from hyperdial.client.trial import Trial

INACTIVE = -0.15


def parallel(trials: Sequence[Trial], axes_of: Sequence[Axis], metric: str, study: str) -> Figure:
    """One line per completed trial, coloured by value, across every parameter's axis."""
    done = completed(trials)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.9 * len(axes_of)), 5.5))
    values = [t.value for t in done if t.value is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    colours = plt.get_cmap("viridis")
    conditional = {a.name for a in axes_of if any(a.name not in t.params for t in done)}
    for trial in done:
        ys = [
            a.unit(trial.params[a.name]) if a.name in trial.params else INACTIVE for a in axes_of
        ]
        shade = (trial.value - low) / (high - low) if high > low and trial.value else 0.5
        axes.plot(range(len(axes_of)), ys, color=colours(shade), alpha=0.7, linewidth=1)
    for index, axis in enumerate(axes_of):
        axes.axvline(index, color="0.3", linewidth=0.8)
        for position, label in axis.ticks():
            axes.text(index + 0.04, position, label, fontsize=7, va="center", color="0.2")
        if axis.name in conditional:
            axes.text(index + 0.04, INACTIVE, "inactive", fontsize=7, va="center", color="C3")
    axes.set_xticks(range(len(axes_of)), [a.name for a in axes_of], rotation=20)
    axes.set_yticks([])
    axes.set(
        xlim=(-0.2, len(axes_of) - 0.4),
        ylim=(INACTIVE - 0.08 if conditional else -0.05, 1.05),
        title=f"{study}: parallel coordinates ({len(done)} completed trials)",
    )
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    mappable = plt.cm.ScalarMappable(cmap=colours, norm=Normalize(low, high))
    figure.colorbar(mappable, ax=axes, label=metric)
    return figure
