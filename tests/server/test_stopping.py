from hyperdial.server.domain import Goal, Measurement, StoppingConfig
from hyperdial.server.stopping.rules import MedianRule, SuccessiveHalvingRule, make_rule


def curve(*values: float) -> list[Measurement]:
    return [Measurement(step, value) for step, value in enumerate(values)]


def test_median_stops_trials_worse_than_the_peers_median() -> None:
    rule = MedianRule(min_trials=3, warmup_steps=1)
    assert not rule.decides_at(0)
    assert rule.decides_at(1)
    peers = [0.5, 0.6, 0.7]
    assert rule.should_stop(Goal.MINIMIZE, 1, curve(0.9, 0.8), peers)
    assert not rule.should_stop(Goal.MINIMIZE, 1, curve(0.55, 0.58), peers)  # best so far counts
    assert not rule.should_stop(Goal.MINIMIZE, 1, curve(0.9, 0.8), peers[:2])  # too few peers
    assert rule.should_stop(Goal.MAXIMIZE, 1, curve(0.1, 0.2), peers)
    assert not rule.should_stop(Goal.MAXIMIZE, 1, curve(0.1, 0.9), peers)


def test_successive_halving_keeps_the_best_fraction_at_rungs() -> None:
    rule = SuccessiveHalvingRule(min_step=1, reduction_factor=3, min_trials=2)
    assert [s for s in range(30) if rule.decides_at(s)] == [1, 3, 9, 27]
    peers = [0.1, 0.2, 0.3, 0.4, 0.5]  # with this trial, 6 reached the rung: keep 2
    assert not rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.15)], peers)
    assert rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.25)], peers)
    assert not rule.should_stop(Goal.MINIMIZE, 3, [Measurement(3, 0.9)], peers[:1])


def test_make_rule_follows_the_config() -> None:
    assert make_rule(None) is None
    assert isinstance(make_rule(StoppingConfig("median")), MedianRule)
    halving = make_rule(StoppingConfig("successive_halving", min_step=2, reduction_factor=4))
    assert isinstance(halving, SuccessiveHalvingRule)
    assert halving.decides_at(8)
    assert not halving.decides_at(4)
