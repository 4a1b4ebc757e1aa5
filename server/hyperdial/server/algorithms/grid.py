"""Grid search: every grid point handed out once, in a fixed (optionally shuffled) order."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hyperdial.server.algorithms.base import History, Options, SuggestBatch, Suggestion
from hyperdial.server.domain import OptionValue
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space import SearchSpace
from hyperdial.server.space.grid import Grid

MAX_SHUFFLED_POINTS = 1_000_000


class GridSuggester:
    """Hands out grid point n as the n-th draw; finished once every point is out.

    The grid is sized (and, with conditions, listed) at construction, so
    CreateStudy refuses a grid that is too large and each Suggest only indexes
    into it. `shuffle` hands points out in a seeded random order, kept as one
    permutation (at most `MAX_SHUFFLED_POINTS`).
    """

    reissues_stale = True
    learns = False
    precompute = False
    models_curves = False

    def __init__(self, space: SearchSpace, options: Mapping[str, OptionValue]) -> None:
        reader = Options(options)
        default_points = reader.int("grid_points", 5, 1, 10_000)
        self.shuffle = reader.bool("shuffle", False)
        reader.finish()
        self.grid = Grid(space, default_points)
        if self.shuffle and self.grid.size > MAX_SHUFFLED_POINTS:
            raise InvalidArgument(
                "algorithm.options.shuffle",
                f"shuffling needs a grid of at most {MAX_SHUFFLED_POINTS} points, "
                f"this one has {self.grid.size}",
            )
        self._orders: dict[int, np.ndarray] = {}

    def _index(self, draw: int, seed: int) -> int:
        """The grid index of the n-th draw; a shuffled order is computed once per seed."""
        if not self.shuffle:
            return draw
        order = self._orders.get(seed)
        if order is None:
            order = np.random.default_rng(seed).permutation(self.grid.size)
            self._orders[seed] = order
        return int(order[draw])

    def needs_model(self, history: History) -> bool:
        """Never: it does not learn."""
        return False

    def suggest(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """Returns the next `count` grid points after `history.draws`."""
        end = min(history.draws + count, self.grid.size)
        indices = [self._index(draw, seed) for draw in range(history.draws, end)]
        picks = tuple(Suggestion(self.grid.point(i), grid_index=i) for i in indices)
        return SuggestBatch(picks, finished=end >= self.grid.size)
