"""Caps that keep one client's request from exhausting the server (flags of `hyperdial server`)."""

from __future__ import annotations

from dataclasses import dataclass

# Names are stored in 128-character columns: a limit may be lower, never higher.
NAME_COLUMN_LENGTH = 128


@dataclass(frozen=True)
class Limits:
    """The configurable limits; every violation is refused with an error naming the field."""

    max_suggest_count: int = 1000
    max_parameters: int = 256
    max_studies: int = 100_000
    max_name_length: int = NAME_COLUMN_LENGTH

    def __post_init__(self) -> None:
        for name in ("max_suggest_count", "max_parameters", "max_studies", "max_name_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_name_length > NAME_COLUMN_LENGTH:
            raise ValueError(f"max_name_length must be <= {NAME_COLUMN_LENGTH}")


DEFAULT_LIMITS = Limits()
