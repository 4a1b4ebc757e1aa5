"""Grid search: every grid point handed out once, in a fixed (optionally shuffled) order."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hyperdial.server.algorithms.base import History, Options, SuggestBatch, Suggestion
from hyperdial.server.domain import OptionValue
from hyperdial.server.space import ParamValue, SearchSpace
from hyperdial.server.space.grid import enumerate_grid


class GridSuggester:
    """Hands out grid point n as the n-th draw; finished once every point is out.

    The grid is enumerated once, at construction, so CreateStudy refuses a grid
    that is too large and each Suggest only indexes into it.
    """

    reissues_stale = True

    def __init__(self, space: SearchSpace, options: Mapping[str, OptionValue]) -> None:
        reader = Options(options)
        default_points = reader.int("grid_points", 5, 1, 10_000)
        self.shuffle = reader.bool("shuffle", False)
        reader.finish()
        self.points: tuple[dict[str, ParamValue], ...] = enumerate_grid(space, default_points)
        self._orders: dict[int, np.ndarray] = {}

    def _order(self, seed: int) -> np.ndarray:
        """The order points are handed out in; a shuffled order is computed once per seed."""
        order = self._orders.get(seed)
        if order is None:
            size = len(self.points)
            order = (
                np.random.default_rng(seed).permutation(size) if self.shuffle else np.arange(size)
            )
            self._orders[seed] = order
        return order

    def suggest(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """Returns the next `count` grid points after `history.draws`."""
        order = self._order(seed)
        end = min(history.draws + count, len(self.points))
        picks = tuple(
            Suggestion(self.points[int(order[i])], grid_index=int(order[i]))
            for i in range(history.draws, end)
        )
        return SuggestBatch(picks, finished=end >= len(self.points))
