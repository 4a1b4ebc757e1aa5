"""Observe, ReportProgress and ImportTrials on a real SQLite store, and what they count."""

from __future__ import annotations

import pytest
from tests.server.service.conftest import LEASE_SECONDS, Services, config

from hyperdial.server.domain import Outcome, StoppingConfig, Trial, TrialState
from hyperdial.server.errors import FailedPrecondition, InvalidArgument

DONE = Outcome(TrialState.COMPLETED, 0.5)


def _lease(services: Services, worker: str = "w", study: str = "s") -> Trial:
    (trial,) = services.run(services.trials.leases.suggest(study, worker, 1)).trials
    return trial


def test_observe_is_idempotent_by_request_id_and_by_outcome(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    trial = _lease(services)
    outcomes = services.trials.outcomes
    first, _ = services.run(outcomes.observe("s", trial.number, "w", "r1", DONE))
    assert (first.state, first.value, first.finished_at) == (
        TrialState.COMPLETED,
        0.5,
        services.clock.now,
    )
    services.clock.advance(5)
    retried, _ = services.run(outcomes.observe("s", trial.number, "w", "r1", DONE))
    repeated, _ = services.run(outcomes.observe("s", trial.number, "w", "r2", DONE))
    assert retried == first
    assert repeated == first
    with pytest.raises(FailedPrecondition, match=r"already COMPLETED with value 0\.5"):
        services.run(outcomes.observe("s", trial.number, "w", "r3", Outcome(TrialState.FAILED)))
    with pytest.raises(FailedPrecondition, match="leased to worker 'w'"):
        services.run(outcomes.observe("s", trial.number, "intruder", "r4", DONE))


def test_observe_hands_out_the_next_trial_and_a_retry_gets_the_same_one(
    services: Services,
) -> None:
    services.run(services.studies.create("s", config()))
    trial = _lease(services)
    outcomes = services.trials.outcomes
    _, following = services.run(outcomes.observe("s", trial.number, "w", "r", DONE, next_count=1))
    assert following is not None
    (next_trial,) = following.trials
    _, again = services.run(outcomes.observe("s", trial.number, "w", "r", DONE, next_count=1))
    assert again is not None
    assert [t.number for t in again.trials] == [next_trial.number]


def test_counters_move_once_per_new_trial_and_per_ended_trial(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    trial = _lease(services)
    _lease(services)  # resumed: not a new trial
    outcomes = services.trials.outcomes
    services.run(outcomes.observe("s", trial.number, "w", "r", DONE))
    services.run(outcomes.observe("s", trial.number, "w", "r", DONE))  # a retry
    with pytest.raises(FailedPrecondition):
        services.run(outcomes.observe("s", trial.number, "w", "x", Outcome(TrialState.FAILED)))
    labels = {"study": "s", "algorithm": "random"}
    assert services.counted("hyperdial_suggestions", **labels) == 1
    assert services.counted("hyperdial_observations", **labels, state="COMPLETED") == 1
    assert services.counted("hyperdial_observations", **labels, state="FAILED") == 0


def test_an_outcome_missing_a_required_metric_changes_nothing(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    trial = _lease(services)
    with pytest.raises(InvalidArgument) as raised:
        services.run(
            services.trials.outcomes.observe(
                "s", trial.number, "w", "", Outcome(TrialState.COMPLETED, metrics={"acc": 0.9})
            )
        )
    assert raised.value.field == "metrics.loss"
    listed = services.run(services.trials.reads.list_trials("s", [], 9, ""))[0]
    assert [t.state for t in listed] == [TrialState.PENDING]
    assert services.counted("hyperdial_observations", study="s", algorithm="random") == 0


def test_progress_renews_the_lease_and_the_median_rule_stops_a_bad_trial(
    services: Services,
) -> None:
    median = StoppingConfig.median(min_trials=2, warmup_steps=0)
    services.run(services.studies.create("s", config(stopping=median)))
    outcomes = services.trials.outcomes
    for worker, loss in (("a", 0.1), ("b", 0.2)):
        good = _lease(services, worker)
        services.run(outcomes.report_progress("s", good.number, worker, 1, loss))
        services.run(
            outcomes.observe("s", good.number, worker, "", Outcome(TrialState.COMPLETED, loss))
        )
    bad = _lease(services, "c")
    services.clock.advance(10)
    stop, until = services.run(outcomes.report_progress("s", bad.number, "c", 1, 0.9))
    assert stop
    assert until == services.clock.now + LEASE_SECONDS
    services.run(outcomes.observe("s", bad.number, "c", "", Outcome(TrialState.PRUNED)))
    with pytest.raises(FailedPrecondition, match="only accepted while it is PENDING"):
        services.run(outcomes.report_progress("s", bad.number, "c", 2, 0.9))


def test_imported_trials_take_numbers_but_no_budget_all_or_nothing(services: Services) -> None:
    services.run(services.studies.create("s", config(max_trials=1)))
    outcomes = services.trials.outcomes
    good = ({"x": 0.2, "n": 1}, Outcome(TrialState.COMPLETED, 0.3))
    bad = ({"x": 7.0, "n": 1}, Outcome(TrialState.COMPLETED, 0.3))
    with pytest.raises(InvalidArgument) as raised:
        services.run(outcomes.import_trials("s", [good, bad]))
    assert raised.value.field.startswith("trials[1].parameters")
    imported = services.run(outcomes.import_trials("s", [good, good]))
    assert [(t.number, t.worker_id, t.state) for t in imported] == [
        (1, "import", TrialState.COMPLETED),
        (2, "import", TrialState.COMPLETED),
    ]
    assert _lease(services).number == 3  # the one budget slot is still free
