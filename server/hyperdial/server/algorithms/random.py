"""Random search: independent uniform draws, or a scrambled Sobol sequence.

The n-th draw depends only on (seed, n), so a study's suggestions are the same
whatever the timing of its workers, and a restarted server continues the
sequence instead of repeating it.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping

from scipy.stats import qmc

from hyperdial.server.algorithms.base import History, Options, SuggestBatch, Suggestion
from hyperdial.server.domain import OptionValue
from hyperdial.server.space import SearchSpace
from hyperdial.server.space.encoding import decode


def _uniform(seed: int, draw: int, dims: int) -> list[float]:
    """Draw number `draw` of the study seeded `seed`: a point of the unit cube."""
    rng = random.Random(f"hyperdial:{seed}:{draw}")  # str seeds hash with SHA-512: well mixed
    return [rng.random() for _ in range(dims)]


def sobol_points(dims: int, seed: int, start: int, count: int) -> list[list[float]]:
    """Points start .. start + count - 1 of the scrambled Sobol sequence seeded `seed`."""
    engine = qmc.Sobol(dims, scramble=True, seed=seed)
    if start:  # scipy's fast_forward(0) overflows
        engine.fast_forward(start)
    with warnings.catch_warnings():
        # Trials arrive one Suggest at a time; the sequence as a whole stays balanced.
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        return [list(map(float, row)) for row in engine.random(count)]


class RandomSuggester:
    """Uniform in the encoded space (log scales respected); `sampler="sobol"` for Sobol."""

    reissues_stale = False
    learns = False
    precompute = False
    models_curves = False

    def __init__(self, space: SearchSpace, options: Mapping[str, OptionValue]) -> None:
        reader = Options(options)
        self.sampler = reader.choice("sampler", "uniform", ("uniform", "sobol"))
        reader.finish()

    def needs_model(self, history: History) -> bool:
        """Never: it does not learn."""
        return False

    def suggest(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """Returns draws history.draws .. history.draws + count - 1."""
        dims = len(space.params)
        if count <= 0:
            return SuggestBatch(())
        if self.sampler == "sobol":
            points = sobol_points(dims, seed, history.draws, count)
        else:
            points = [_uniform(seed, history.draws + k, dims) for k in range(count)]
        return SuggestBatch(tuple(Suggestion(decode(space, row)) for row in points))
