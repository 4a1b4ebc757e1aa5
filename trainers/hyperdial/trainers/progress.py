"""What a person watching a trainer sees: a study line and a bar per trial.

The study line counts finished trials against the budget and shows the best
value so far (the server's, across every trainer); the trial bar advances by
epoch with the latest validation loss and accuracy. Shown only on a terminal:
under a process manager or with output piped, the log lines say it all.
"""

from __future__ import annotations

import math

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RichProgress:
    """Live bars on a terminal."""

    def __init__(self, study_name: str, console: Console | None = None) -> None:
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._study = self._bars.add_task(f"study {study_name}", total=None, detail="")
        self._trial: TaskID | None = None
        self._bars.start()

    def study(self, finished: int, budget: int, best: float | None) -> None:
        """Updates the study line."""
        shown = "" if best is None else f"best {best:.4f}"
        self._bars.update(self._study, completed=finished, total=budget or None, detail=shown)

    def trial_started(self, trial_id: int, epochs: int) -> None:
        """Adds a bar for the trial."""
        self._trial = self._bars.add_task(f"trial {trial_id}", total=epochs, detail="")

    def epoch(self, epoch: int, loss: float, accuracy: float) -> None:
        """Advances the trial's bar."""
        if self._trial is None:
            return
        detail = f"val_loss {loss:.4f}" + ("" if math.isnan(accuracy) else f" acc {accuracy:.4f}")
        # Drawn at once: a short epoch would otherwise end between two timed refreshes.
        self._bars.update(self._trial, completed=epoch + 1, detail=detail, refresh=True)

    def trial_ended(self) -> None:
        """Removes the trial's bar (its log lines say how it ended)."""
        if self._trial is not None:
            self._bars.remove_task(self._trial)
            self._trial = None

    def close(self) -> None:
        """Stops the live display."""
        self._bars.stop()


def terminal() -> Console | None:
    """The stderr console when it is a terminal, else None (no bars)."""
    console = Console(stderr=True)
    return console if console.is_terminal else None
