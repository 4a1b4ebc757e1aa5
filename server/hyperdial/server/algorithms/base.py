"""The Suggester protocol, its inputs and outputs, and the registry of algorithms.

A suggester is a pure function of (space, history, count, seed): no I/O, no
clock, randomness only from `seed`. That makes every algorithm testable and
benchmarkable without a server, and lets any replica reproduce a suggestion.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from hyperdial.server.domain import AlgorithmConfig, Measurement, Objective, OptionValue
from hyperdial.server.errors import InvalidArgument, shown
from hyperdial.server.space import ParamValue, SearchSpace


@dataclass(frozen=True)
class Observed:
    """A completed trial's configuration and final value.

    `values` holds every objective's value when the study has several (then
    `value` is the first); `slacks` every outcome-constraint bound's slack
    (<= 0 where the bound holds), when the study has constraints; `curve` its
    intermediate values by step, for a suggester that `models_curves`, and
    `step_budget` the steps it was granted (0: no fidelity).
    """

    params: Mapping[str, ParamValue]
    value: float
    values: tuple[float, ...] = ()
    slacks: tuple[float, ...] = ()
    curve: tuple[Measurement, ...] = ()
    step_budget: int = 0


@dataclass(frozen=True)
class History:
    """What a suggester may know of the study.

    Attributes:
        draws: how many fresh suggestions this study has drawn so far. Random
            search derives the n-th draw from (seed, n); grid search hands out
            grid point n. Re-issued trials do not count.
        completed, infeasible, pending: the study's trials by state, filled in
            only for suggesters that set `learns = True` (reading them costs a
            query per suggestion). FAILED and STALE trials are left out.
        pruned: trials stopped early, each with its best reported value (the
            value it had when the stopping rule judged it), for one objective
            without constraints.
        maximize: the (first) objective's direction.
        max_steps: the study's declared fidelity (`Fidelity.max_steps`), or 0.
        objectives: every objective, when the study has several (each
            observation's `values` follow their order).
        model_state: what the suggester's previous computation for this study
            left to start from (`SuggestBatch.model_state`), or None. It
            makes a computation cheaper, not different in kind: a suggester
            must give a valid answer without it.
    """

    draws: int
    completed: tuple[Observed, ...] = ()
    infeasible: tuple[Mapping[str, ParamValue], ...] = ()
    pending: tuple[Mapping[str, ParamValue], ...] = ()
    pruned: tuple[Observed, ...] = ()
    maximize: bool = False
    max_steps: int = 0
    objectives: tuple[Objective, ...] = ()
    model_state: object = None

    @property
    def results(self) -> int:
        """How many trials ended with something to learn from: completed, infeasible, pruned."""
        return len(self.completed) + len(self.infeasible) + len(self.pruned)


@dataclass(frozen=True)
class Suggestion:
    """One configuration; `grid_index` identifies a grid point so it can be re-issued.

    `step_budget` asks for fewer steps than the study grants (0: its grant); the
    service grants no fewer than the study's `Fidelity.min_steps`. `repeat` marks a
    deliberate re-evaluation of a finished configuration (a fresh trial, a fresh seed).
    """

    params: Mapping[str, ParamValue]
    grid_index: int | None = None
    step_budget: int = 0
    repeat: bool = False


@dataclass(frozen=True)
class SuggestBatch:
    """Up to `count` suggestions; `finished` means the algorithm has nothing more to give.

    `model_state` is what the next computation for the study may start from
    (bayes: the fitted kernel hyperparameters); opaque to the service.
    """

    suggestions: tuple[Suggestion, ...]
    finished: bool = False
    model_state: object = None


class Suggester(Protocol):
    """Proposes configurations. Pure: no I/O, no clock; all randomness comes from `seed`.

    `reissues_stale` asks the service to hand the configuration of a trial whose
    worker vanished (STALE) out again before drawing new ones: a grid must
    cover every point, while random search simply draws afresh.

    `learns` marks a suggester that models the observed trials: the service
    gives it the full `History` and runs it in its compute pool, off the RPC
    threads and outside any transaction, one computation per study at a time;
    with `precompute` the next suggestion is computed as soon as trials are
    handed out while others run, with them pending, so the next Suggest finds
    it ready.

    `models_curves` asks for the curves of finished trials in `Observed.curve`
    (one objective without constraints; reading them costs a query).
    """

    reissues_stale: bool
    learns: bool
    precompute: bool
    models_curves: bool

    def suggest(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """Returns up to `count` new configurations after `history`."""
        ...

    def needs_model(self, history: History) -> bool:
        """Whether the next suggestions after `history` need the model (and the compute pool).

        A learning suggester's initial design does not: the service then draws it
        at once, not behind other computations or the pool's start-up.
        """
        ...


SuggesterFactory = Callable[[SearchSpace, Mapping[str, OptionValue]], Suggester]

# name -> "module:factory", imported on first use so heavy algorithms cost nothing until used.
_REGISTRY: Mapping[str, str] = {
    "random": "hyperdial.server.algorithms.random:RandomSuggester",
    "grid": "hyperdial.server.algorithms.grid:GridSuggester",
    "bayes": "hyperdial.server.algorithms.bayes:BayesSuggester",
}


def algorithm_names() -> tuple[str, ...]:
    """Names accepted in `Algorithm.name`."""
    return tuple(_REGISTRY)


def make_suggester(space: SearchSpace, algorithm: AlgorithmConfig) -> Suggester:
    """Builds the suggester of a study; raises InvalidArgument for bad names or options."""
    target = _REGISTRY.get(algorithm.name)
    if target is None:
        raise InvalidArgument(
            "algorithm.name",
            f"unknown algorithm {shown(algorithm.name)}; choose one of {', '.join(_REGISTRY)}",
        )
    module_name, factory_name = target.split(":")
    factory: SuggesterFactory = getattr(importlib.import_module(module_name), factory_name)
    return factory(space, algorithm.options)


class Options:
    """Reads typed algorithm options, naming the field in every error.

    Call `finish()` after reading every known option: unknown ones are rejected,
    so a typo fails at CreateStudy rather than being silently ignored.
    """

    def __init__(self, options: Mapping[str, OptionValue]) -> None:
        self._options = dict(options)

    def _field(self, name: str) -> str:
        return f"algorithm.options.{shown(name, quote=False)}"

    def int(self, name: str, default: int, low: int, high: int) -> int:
        """An integer option in [low, high]."""
        value = self._options.pop(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(self._field(name), f"must be an integer, got {shown(value)}")
        if not low <= value <= high:
            raise InvalidArgument(self._field(name), f"must be in {low}..{high}, got {value}")
        return value

    def float(self, name: str, default: float, low: float, high: float) -> float:
        """A number in [low, high]."""
        value = self._options.pop(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(self._field(name), f"must be a number, got {shown(value)}")
        if not low <= value <= high:
            raise InvalidArgument(self._field(name), f"must be in {low}..{high}, got {value}")
        return float(value)

    def bool(self, name: str, default: bool) -> bool:
        """A boolean option."""
        value = self._options.pop(name, default)
        if not isinstance(value, bool):
            raise InvalidArgument(self._field(name), f"must be a bool, got {shown(value)}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """A string option among `choices`."""
        value = self._options.pop(name, default)
        if value not in choices:
            raise InvalidArgument(
                self._field(name), f"must be one of {', '.join(choices)}, got {shown(value)}"
            )
        return str(value)

    def finish(self) -> None:
        """Rejects any option that was not read."""
        if self._options:
            name = sorted(self._options)[0]
            raise InvalidArgument(self._field(name), "unknown option for this algorithm")
