import random
from collections.abc import Sequence

import pytest

from hyperdial.server.domain import Goal, Measurement, StoppingConfig
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.stopping.rules import (
    MedianRule,
    ModelRule,
    Peers,
    SuccessiveHalvingRule,
    beat_probability,
    hyperband_bracket,
    make_rule,
)


def curve(*values: float) -> list[Measurement]:
    return [Measurement(step, value) for step, value in enumerate(values)]


def peers(values: Sequence[float] = (), finals: Sequence[tuple[float, float]] = ()) -> Peers:
    """Peers numbered 1, 2, ... in the order of `values`."""
    return Peers(values=lambda: list(enumerate(values, start=1)), finals=lambda: finals)


def test_median_stops_trials_worse_than_the_peers_median() -> None:
    rule = MedianRule(min_trials=3, warmup_steps=1)
    assert not rule.decides_at(0)
    assert rule.decides_at(1)
    others = [0.5, 0.6, 0.7]
    assert rule.should_stop(Goal.MINIMIZE, 1, curve(0.9, 0.8), peers(others))
    assert not rule.should_stop(Goal.MINIMIZE, 1, curve(0.55, 0.58), peers(others))  # best so far
    assert not rule.should_stop(Goal.MINIMIZE, 1, curve(0.9, 0.8), peers(others[:2]))  # too few
    assert rule.should_stop(Goal.MAXIMIZE, 1, curve(0.1, 0.2), peers(others))
    assert not rule.should_stop(Goal.MAXIMIZE, 1, curve(0.1, 0.9), peers(others))


def test_successive_halving_keeps_the_best_fraction_at_rungs() -> None:
    rule = SuccessiveHalvingRule(min_step=1, reduction_factor=3, min_trials=2)
    assert [s for s in range(30) if rule.decides_at(s)] == [1, 3, 9, 27]
    others = [0.1, 0.2, 0.3, 0.4, 0.5]  # with this trial, 6 reached the rung: keep 2
    assert not rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.15)], peers(others))
    assert rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.25)], peers(others))
    assert not rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.9)], peers(others[:1]))


def test_hyperband_spreads_trials_over_brackets_as_hyperband_budgets_them() -> None:
    counts = [0, 0, 0]
    for number in range(1, 17_001):
        counts[hyperband_bracket(number, brackets=3, reduction_factor=3)] += 1
    # Weights ceil(3 * 9 / 3) = 9, ceil(3 * 3 / 2) = 5, ceil(3 * 1 / 1) = 3 of 17.
    assert [round(c / 1000, 0) for c in counts] == [9, 5, 3]
    assert all(hyperband_bracket(n, 1, 3) == 0 for n in range(100))
    # The same trial, the same bracket: every report and replica agrees.
    assert [hyperband_bracket(n, 3, 3) for n in range(50)] == [
        hyperband_bracket(n, 3, 3) for n in range(50)
    ]


def test_a_hyperband_bracket_starts_late_and_compares_only_within_itself() -> None:
    config = StoppingConfig.successive_halving(1, 3, 2, brackets=3)
    by_bracket = {hyperband_bracket(n, 3, 3): n for n in range(40)}
    late = make_rule(config, by_bracket[2])
    assert isinstance(late, SuccessiveHalvingRule)
    assert [s for s in range(30) if late.decides_at(s)] == [9, 27]
    first = make_rule(config, by_bracket[0])
    assert [s for s in range(30) if first.decides_at(s)] == [1, 3, 9, 27]
    # Ahead of this trial at step 9: three trials of bracket 0 and two of bracket 2.
    in_first = [n for n in range(40, 400) if hyperband_bracket(n, 3, 3) == 0][:3]
    in_late = [n for n in range(40, 400) if hyperband_bracket(n, 3, 3) == 2][:3]
    values = [(n, 0.1) for n in in_first] + [(in_late[0], 0.1), (in_late[1], 0.2)]
    values.append((in_late[2], 0.9))
    numbered = Peers(values=lambda: values)
    step9 = [Measurement(9, 0.5)]
    # Among its own bracket (0.1, 0.2, 0.9 and itself) it is third of four: stopped.
    assert late.should_stop(Goal.MINIMIZE, 9, step9, numbered)
    # Bracket 0 sees three 0.1s ahead of it among four: stopped as well, by other peers.
    assert first.should_stop(Goal.MINIMIZE, 9, step9, numbered)
    # Judged among bracket 2's 0.9 alone (too few: min_trials 2), it goes on.
    alone = Peers(values=lambda: [(in_late[2], 0.9), *((n, 0.1) for n in in_first)])
    assert not late.should_stop(Goal.MINIMIZE, 9, step9, alone)


def _pairs(seed: int, count: int = 12) -> list[tuple[float, float]]:
    """Completed trials whose final loss is 0.5 x their loss at the step, plus noise 0.01."""
    rng = random.Random(seed)
    at_step = [rng.uniform(0.3, 1.0) for _ in range(count)]
    return [(x, 0.5 * x + rng.gauss(0, 0.01)) for x in at_step]


def test_the_model_rule_stops_a_clearly_bad_curve_and_keeps_a_clearly_good_one() -> None:
    rule = ModelRule(min_probability=0.05, min_trials=5, warmup_steps=1)
    assert not rule.decides_at(0)
    assert rule.decides_at(1)
    finals = _pairs(0)
    best = min(y for _, y in finals)
    bad, good = curve(1.2, 0.95), curve(1.2, 0.25)  # predicted finals ~0.47 and ~0.12
    assert rule.should_stop(Goal.MINIMIZE, 1, bad, peers(finals=finals))
    assert not rule.should_stop(Goal.MINIMIZE, 1, good, peers(finals=finals))
    chances = [beat_probability(Goal.MINIMIZE, x, finals) for x in (0.25, 2 * best, 0.95)]
    assert chances[0] > 0.95
    assert chances == sorted(chances, reverse=True)  # a worse value now, a smaller chance
    # Too few completed trials reached the step: nobody is stopped on their word.
    assert not rule.should_stop(Goal.MINIMIZE, 1, bad, peers(finals=finals[:4]))


def test_the_model_rule_judges_the_best_value_so_far_not_one_noisy_epoch() -> None:
    rule = ModelRule(min_probability=0.05, min_trials=5, warmup_steps=1)
    finals = _pairs(0)
    assert rule.should_stop(Goal.MINIMIZE, 2, curve(1.2, 0.95, 0.95), peers(finals=finals))
    # It reached 0.25 at step 1 (a predicted final near 0.12): the bad step 2 is noise.
    assert not rule.should_stop(Goal.MINIMIZE, 2, curve(1.2, 0.25, 0.95), peers(finals=finals))


def test_the_model_rule_keeps_a_slow_starter_the_median_rule_would_stop() -> None:
    """Trials whose loss at the step says little of their end (here: the opposite)."""
    rng = random.Random(1)
    finals = [(x, 1.2 - x + rng.gauss(0, 0.01)) for x in (rng.uniform(0.3, 1.0) for _ in range(9))]
    slow = curve(1.2, 0.99)  # worse than every other trial now, predicted to end best
    others = [x for x, _ in finals]
    assert MedianRule(min_trials=3, warmup_steps=1).should_stop(
        Goal.MINIMIZE, 1, slow, peers(others)
    )
    model = ModelRule(min_probability=0.05, min_trials=5, warmup_steps=1)
    assert not model.should_stop(Goal.MINIMIZE, 1, slow, peers(others, finals))


def test_the_model_rule_follows_the_goal() -> None:
    rng = random.Random(2)
    now = [rng.uniform(0.3, 1.0) for _ in range(12)]  # accuracy at the step
    accuracy = [(x, 0.5 + 0.5 * x + rng.gauss(0, 0.01)) for x in now]
    rule = ModelRule(min_probability=0.05, min_trials=5, warmup_steps=0)
    assert rule.should_stop(Goal.MAXIMIZE, 0, curve(0.3), peers(finals=accuracy))
    assert not rule.should_stop(Goal.MAXIMIZE, 0, curve(1.0), peers(finals=accuracy))


def test_make_rule_follows_the_config() -> None:
    assert make_rule(None, 1) is None
    assert isinstance(make_rule(StoppingConfig("median"), 1), MedianRule)
    halving = make_rule(StoppingConfig("successive_halving", min_step=2, reduction_factor=4), 1)
    assert isinstance(halving, SuccessiveHalvingRule)
    assert halving.decides_at(8)
    assert not halving.decides_at(4)
    model = make_rule(StoppingConfig.model(0.1, 0, 2), 1)
    assert model == ModelRule(min_probability=0.1, min_trials=5, warmup_steps=2)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (lambda: StoppingConfig.model(0.5, 5, 0), "stopping.model.min_probability"),
        (lambda: StoppingConfig.model(float("nan"), 5, 0), "stopping.model.min_probability"),
        (lambda: StoppingConfig.model(0.05, 2, 0), "stopping.model.min_trials"),
        (lambda: StoppingConfig.model(0.05, 5, -1), "stopping.model.warmup_steps"),
        (
            lambda: StoppingConfig.successive_halving(1, 3, 0, brackets=9),
            "stopping.successive_halving.brackets",
        ),
        (
            lambda: StoppingConfig.successive_halving(1, 3, 0, brackets=-1),
            "stopping.successive_halving.brackets",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_its_field(config, field) -> None:
    with pytest.raises(InvalidArgument) as raised:
        config()
    assert raised.value.field == field
