"""Steps (e.g. epochs) as a study's budget: how far each trial trains, and how many in all.

A trial granted `step_budget` steps counts them against the study's
`total_steps` from the moment it is handed out, so trials running at once can
never overrun the budget together; what a trial leaves unspent (stopped early,
failed, vanished) comes back when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hyperdial.server.errors import InvalidArgument


@dataclass(frozen=True)
class Fidelity:
    """The step axis as a budget; `min_steps` 0 means `max_steps` (every trial trains in full)."""

    max_steps: int
    total_steps: int = 0
    min_steps: int = 0

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise InvalidArgument("fidelity.max_steps", f"must be >= 1, got {self.max_steps}")
        if self.total_steps < 0:
            raise InvalidArgument(
                "fidelity.total_steps", f"must be >= 0 (0: unlimited), got {self.total_steps}"
            )
        if not 0 <= self.min_steps <= self.max_steps:
            raise InvalidArgument(
                "fidelity.min_steps",
                f"must be 0..max_steps ({self.max_steps}), got {self.min_steps}",
            )

    @property
    def smallest_grant(self) -> int:
        """The fewest steps a new trial is handed out with."""
        return self.min_steps or self.max_steps

    def grants(self, available: int | None, count: int) -> list[int]:
        """Step budgets for up to `count` new trials, from `available` steps (None: unlimited).

        Each gets `max_steps`, the last what is left when that is less but
        still at least `smallest_grant`.
        """
        granted: list[int] = []
        for _ in range(count):
            grant = self.max_steps if available is None else min(self.max_steps, available)
            if grant < self.smallest_grant:
                break
            granted.append(grant)
            if available is not None:
                available -= grant
        return granted

    def spent(self, available: int | None) -> bool:
        """Whether `available` steps are too few for another trial."""
        return available is not None and available < self.smallest_grant

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with the study."""
        return {
            "max_steps": self.max_steps,
            "total_steps": self.total_steps,
            "min_steps": self.min_steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fidelity:
        """Inverse of `to_dict`."""
        return cls(data["max_steps"], data["total_steps"], data["min_steps"])
