"""A stopped trial keeps its best reported value, on both stores: bayes models it by that."""

from __future__ import annotations

from hyperdial.client import Client, float_param, median_stopping


def test_a_pruned_trial_keeps_its_best_value_but_is_never_the_best(client: Client) -> None:
    study = client.create_study(
        "stopped", [float_param("x", 0, 1)], stopping=median_stopping(min_trials=1)
    )
    (good,) = study.suggest(1, worker_id="w")
    for step, value in enumerate((0.5, 0.3, 0.2)):
        good.report(step, value)
    good.complete(0.2)
    (bad,) = study.suggest(1, worker_id="w")
    assert bad.report(0, 0.9)  # worse than the other trial at step 0: stop
    bad.report(1, 0.7)  # a report after the stop answer still counts while it is running
    bad.report(2, 0.8)
    bad.prune()
    stopped = {t.id: t for t in study.trials()}[bad.id]
    assert (stopped.state, stopped.value) == ("PRUNED", 0.7)
    assert [t.id for t in study.best_trials(5)] == [good.id]


def test_a_trial_stopped_before_any_report_has_no_value(client: Client) -> None:
    study = client.create_study("unreported", [float_param("x", 0, 1)])
    (trial,) = study.suggest(1, worker_id="w")
    trial.prune("stopped by the worker")
    assert next(study.trials()).value is None
