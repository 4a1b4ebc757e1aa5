"""Caps that keep one client's request from exhausting the server (flags of `hyperdial server`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hyperdial.server.domain import Trial

T = TypeVar("T")

# Names are stored in 128-character columns: a limit may be lower, never higher.
NAME_COLUMN_LENGTH = 128
# Room for what a trial carries besides its parameters (ids, times, worker, state).
TRIAL_OVERHEAD_BYTES = 512


@dataclass(frozen=True)
class Limits:
    """The configurable limits; every violation is refused with an error naming the field.

    Answers are sized to fit `max_message_bytes`: a Suggest hands out at most
    as many trials as fit in half of it, and list pages hold at most half of it.
    """

    max_suggest_count: int = 1000
    max_parameters: int = 256
    max_studies: int = 100_000
    max_name_length: int = NAME_COLUMN_LENGTH
    max_config_bytes: int = 256 * 1024
    max_message_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_suggest_count", "max_parameters", "max_studies", "max_name_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_name_length > NAME_COLUMN_LENGTH:
            raise ValueError(f"max_name_length must be <= {NAME_COLUMN_LENGTH}")
        if self.max_message_bytes < 64 * 1024:
            raise ValueError(f"max_message_bytes must be >= 65536, got {self.max_message_bytes}")
        if self.max_config_bytes < 1024:
            raise ValueError(f"max_config_bytes must be >= 1024, got {self.max_config_bytes}")

    @property
    def config_bytes(self) -> int:
        """The largest study config accepted: its answers must fit a message with room."""
        return min(self.max_config_bytes, self.max_message_bytes // 4)

    @property
    def answer_bytes(self) -> int:
        """What the items of one answer (trials, studies) may take together."""
        return self.max_message_bytes // 2


DEFAULT_LIMITS = Limits()


def fitting(items: Iterable[T], size: Callable[[T], int], budget: int) -> list[T]:
    """The leading `items` whose sizes add up to `budget` at most (the first one always).

    Items are taken one at a time, so a lazy iterable is only read as far as needed.
    """
    taken: list[T] = []
    used = 0
    for item in items:
        used += size(item)
        if taken and used > budget:
            break
        taken.append(item)
    return taken


def trial_bytes(trial: Trial) -> int:
    """A bound on a trial's size in an answer (its measurements included)."""
    return (
        TRIAL_OVERHEAD_BYTES
        + _json_bytes(trial.params)
        + _json_bytes(trial.metrics)
        + len(trial.reason.encode())
        + 24 * len(trial.measurements)
    )


def _json_bytes(mapping: Mapping[str, object]) -> int:
    return len(json.dumps(mapping).encode()) if mapping else 0
