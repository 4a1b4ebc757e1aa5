"""Leases on a fake clock: resume, renew, expire, give budget and grid points back."""

from __future__ import annotations

import pytest
from tests.server.service.conftest import LEASE_SECONDS, Services, config

from hyperdial.server.domain import AlgorithmConfig, TrialState
from hyperdial.server.errors import FailedPrecondition, InvalidArgument, NotFound
from hyperdial.server.service.handout import EXPIRY_CHECK_SECONDS


def test_a_worker_gets_its_pending_trials_back_with_a_renewed_lease(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    (first,) = services.run(services.trials.leases.suggest("s", "w", 1)).trials
    assert first.lease_expires_at == services.clock.now + LEASE_SECONDS
    services.clock.advance(30)
    (again,) = services.run(services.trials.leases.suggest("s", "w", 1)).trials
    assert again.number == first.number
    assert again.lease_expires_at == services.clock.now + LEASE_SECONDS
    (fresh,) = services.run(services.trials.leases.suggest("s", "w", 1, force_new=True)).trials
    assert fresh.number == first.number + 1


def test_an_expired_lease_turns_stale_and_gives_its_budget_slot_back(services: Services) -> None:
    services.run(services.studies.create("s", config(max_trials=2)))
    leases = services.trials.leases
    services.run(leases.suggest("s", "vanished", 1))
    services.run(leases.suggest("s", "a", 1))
    spent = services.run(leases.suggest("s", "b", 1))
    assert spent.trials == ()
    assert spent.study_finished
    services.clock.advance(LEASE_SECONDS + 1)
    (replacement,) = services.run(leases.suggest("s", "b", 1)).trials
    assert replacement.number == 3
    trials = services.run(services.trials.reads.list_trials("s", [], 10, ""))[0]
    assert [t.state for t in trials] == [TrialState.STALE, TrialState.STALE, TrialState.PENDING]


def test_expiry_is_checked_at_most_once_a_second_per_study(services: Services) -> None:
    assert EXPIRY_CHECK_SECONDS == 1.0  # the times below are chosen around it
    services.run(services.studies.create("s", config(lease_seconds=1.0)))
    leases = services.trials.leases

    def state_of(worker: str) -> TrialState:
        trials = services.run(services.trials.reads.list_trials("s", [], 9, ""))[0]
        (trial,) = [t for t in trials if t.worker_id == worker]
        return trial.state

    services.run(leases.suggest("s", "vanished", 1))  # checked now: next check in 1 s
    services.clock.advance(0.5)
    services.run(leases.suggest("s", "slow", 1))  # lease ends 1.5 s from the start
    services.clock.advance(0.7)
    services.run(leases.suggest("s", "a", 1))  # checked: `vanished` ended 0.2 s ago
    assert state_of("vanished") is TrialState.STALE
    assert state_of("slow") is TrialState.PENDING
    services.clock.advance(0.5)
    services.run(leases.suggest("s", "b", 1))  # `slow` ended, but the last check was 0.5 s ago
    assert state_of("slow") is TrialState.PENDING
    services.clock.advance(0.6)
    services.run(leases.suggest("s", "c", 1))
    assert state_of("slow") is TrialState.STALE


def test_a_grid_point_of_an_expired_lease_is_handed_out_again(services: Services) -> None:
    grid = config(algorithm=AlgorithmConfig("grid"), max_reissues=2)
    services.run(services.studies.create("g", grid))
    leases = services.trials.leases
    handed = []
    for attempt in range(4):  # the first hand-out and two re-issues, then it is given up
        (trial,) = services.run(leases.suggest("g", f"doomed-{attempt}", 1)).trials
        handed.append(trial.params["n"])
        services.clock.advance(LEASE_SECONDS + 1)
    assert handed[:3] == [handed[0]] * 3
    assert handed[3] != handed[0]


def test_heartbeats_renew_held_trials_and_name_the_lost_ones(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    leases = services.trials.leases
    kept, dropped = services.run(leases.suggest("s", "w", 2)).trials
    services.clock.advance(LEASE_SECONDS / 2)
    renewed, lost, until = services.run(leases.heartbeat("s", "w", [kept.number, 99]))
    assert (renewed, lost) == ([kept.number], [99])
    assert until == services.clock.now + LEASE_SECONDS
    services.clock.advance(LEASE_SECONDS / 2 + 1)
    services.run(leases.suggest("s", "other", 1))  # expires `dropped`, whose lease ran out
    renewed, lost, _ = services.run(leases.heartbeat("s", "w", [kept.number, dropped.number]))
    assert (renewed, lost) == ([kept.number], [dropped.number])


def test_bad_requests_name_their_field(services: Services) -> None:
    services.run(services.studies.create("s", config()))
    leases = services.trials.leases
    with pytest.raises(InvalidArgument) as raised:
        services.run(leases.suggest("s", "w", 10_000))
    assert raised.value.field == "count"
    with pytest.raises(InvalidArgument) as raised:
        services.run(leases.suggest("s", "", 1))
    assert raised.value.field == "worker_id"
    with pytest.raises(NotFound):
        services.run(leases.suggest("missing", "w", 1))


def test_a_stale_trial_cannot_be_observed(services: Services) -> None:
    from hyperdial.server.domain import Outcome

    services.run(services.studies.create("s", config()))
    (trial,) = services.run(services.trials.leases.suggest("s", "w", 1)).trials
    services.clock.advance(LEASE_SECONDS + 1)
    services.run(services.trials.leases.suggest("s", "other", 1))
    with pytest.raises(FailedPrecondition, match="STALE"):
        services.run(
            services.trials.outcomes.observe(
                "s", trial.number, "w", "", Outcome(TrialState.COMPLETED, 1.0)
            )
        )
