"""The contract of `store/base.py` as tests any `Store` implementation can run.

A backend's test module subclasses `StoreContract` and gives it a `store`
fixture (Optuna's `pytest_storages` plays the same role for its storages):

    class TestSqliteStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path) -> Iterator[Store]:
            opened = SqlStore(f"sqlite:///{tmp_path}/db", create=True)
            yield opened
            opened.close()

Every test goes through `Store.write` and `Store.read` as the service does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

import pytest

from hyperdial.server.domain import (
    Goal,
    Objective,
    StudyConfig,
    StudyState,
    Trial,
    TrialState,
)
from hyperdial.server.errors import Conflict, NotFound
from hyperdial.server.space import FloatParam, IntParam, SearchSpace
from hyperdial.server.store.base import Finish, NewTrial, Store, StudyRecord, Transaction

T = TypeVar("T")

CONFIG = StudyConfig(
    SearchSpace((FloatParam("x", 0.0, 1.0), IntParam("n", 1, 4))),
    (Objective("loss", Goal.MINIMIZE),),
)
TWO_OBJECTIVES = dataclasses.replace(
    CONFIG, objectives=(Objective("loss", Goal.MINIMIZE), Objective("size", Goal.MINIMIZE))
)


def _write(store: Store, op: Callable[[Transaction], T]) -> T:
    return store.write(op, durable=True).result(timeout=30)


def _study(store: Store, name: str = "s", config: StudyConfig = CONFIG) -> StudyRecord:
    return _write(store, lambda txn: txn.create_study(name, config, 100.0))


def _trials(store: Store, study: StudyRecord, count: int, worker: str = "w") -> list[Trial]:
    new = [NewTrial({"x": k / 10, "n": 1}, None) for k in range(count)]
    return _write(store, lambda txn: txn.insert_trials(study, 1, new, worker, 200.0, 300.0))


def _finish(number: int, value: float | None, **changes: object) -> Finish:
    finish = Finish(number, "w", TrialState.COMPLETED, value, "", "", 400.0)
    return dataclasses.replace(finish, **changes)  # type: ignore[arg-type]


def _measure(
    study: StudyRecord, number: int, value: float, step: int = 0
) -> Callable[[Transaction], object]:
    """A write of trial `number`'s value at `step`."""
    return lambda txn: txn.add_measurement(study, number, step, value, 500.0)


def _end(store: Store, study: StudyRecord, finish: Finish) -> Trial | None:
    return _write(store, lambda txn: txn.finish_pending_trial(study, finish))


class StoreContract:
    """Subclass it in a test module and provide a `store` fixture."""

    def test_a_created_study_is_found_by_name_and_locked(self, store: Store) -> None:
        created = _study(store)
        found = store.read(lambda txn: txn.find_study("s"))
        locked = _write(store, lambda txn: txn.lock_study("s"))
        assert found == locked == created
        assert (created.state, created.trial_count, created.budget_used) == (
            StudyState.ACTIVE,
            0,
            0,
        )
        assert created.config == CONFIG
        assert store.read(lambda txn: txn.find_study("missing")) is None
        with pytest.raises(NotFound):
            _write(store, lambda txn: txn.lock_study("missing"))

    def test_a_taken_name_is_a_conflict(self, store: Store) -> None:
        _study(store)
        with pytest.raises(Conflict):
            _study(store)

    def test_what_it_returns_is_frozen(self, store: Store) -> None:
        study = _study(store)
        (trial,) = _trials(store, study, 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            study.trial_count = 5  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            trial.value = 1.0  # type: ignore[misc]

    def test_counters_and_state_are_stored(self, store: Store) -> None:
        study = _study(store)
        _write(
            store,
            lambda txn: txn.update_study(
                study.id, draws=3, trial_count=4, budget_used=2, state=StudyState.FINISHED
            ),
        )
        found = store.read(lambda txn: txn.find_study("s"))
        assert found is not None
        assert (found.draws, found.trial_count, found.budget_used, found.state) == (
            3,
            4,
            2,
            StudyState.FINISHED,
        )

    def test_studies_are_listed_by_creation_and_counted(self, store: Store) -> None:
        for name in ("a", "b", "c"):
            _study(store, name)
        first = store.read(lambda txn: txn.list_studies(0, 2))
        rest = store.read(lambda txn: txn.list_studies(first[-1].id, 2))
        assert [s.name for s in first + rest] == ["a", "b", "c"]
        assert store.read(lambda txn: txn.count_studies()) == 3

    def test_inserted_trials_are_numbered_pending_and_leased(self, store: Store) -> None:
        study = _study(store)
        inserted = _trials(store, study, 3)
        assert [t.number for t in inserted] == [1, 2, 3]
        read_back = store.read(lambda txn: txn.get_trial(study, 2))
        assert read_back == inserted[1]
        assert (read_back.state, read_back.worker_id) == (TrialState.PENDING, "w")
        assert (read_back.created_at, read_back.lease_expires_at) == (200.0, 300.0)
        with pytest.raises(NotFound):
            store.read(lambda txn: txn.get_trial(study, 9))

    def test_a_workers_pending_trials_come_oldest_first(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 3, worker="a")
        _write(
            store,
            lambda txn: txn.insert_trials(
                study, 4, [NewTrial({"x": 0.9, "n": 2}, None)], "b", 1, 2
            ),
        )
        mine = store.read(lambda txn: txn.pending_trials(study, "a", 2))
        assert [t.number for t in mine] == [1, 2]
        assert [t.number for t in store.read(lambda txn: txn.pending_trials(study, "b", 5))] == [4]

    def test_expired_leases_turn_stale_and_renewed_ones_do_not(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 3)
        _write(store, lambda txn: txn.renew_leases(study.id, [2], 1000.0))
        expired = _write(store, lambda txn: txn.expire_leases(study.id, 500.0))
        assert expired == 2
        states = {
            t.number: t.state for t in store.read(lambda txn: txn.list_trials(study, [], 0, 9))
        }
        assert states == {1: TrialState.STALE, 2: TrialState.PENDING, 3: TrialState.STALE}

    def test_a_stale_grid_point_is_claimed_once_and_given_up_past_its_reissues(
        self, store: Store
    ) -> None:
        study = _study(store)
        points = [NewTrial({"x": 0.5, "n": 1}, 7), NewTrial({"x": 0.1, "n": 2}, 8)]
        _write(store, lambda txn: txn.insert_trials(study, 1, points, "w", 1.0, 2.0))
        _write(store, lambda txn: txn.expire_leases(study.id, 10.0))
        claimed = _write(store, lambda txn: txn.take_requeued(study.id, 5, 1))
        assert sorted(p.grid_index for p in claimed) == [7, 8]
        assert _write(store, lambda txn: txn.take_requeued(study.id, 5, 1)) == []
        # Point 7 goes stale a second time: with one reissue allowed, it is given up.
        again = [NewTrial({"x": 0.5, "n": 1}, 7)]
        _write(store, lambda txn: txn.insert_trials(study, 3, again, "w", 1.0, 2.0))
        _write(store, lambda txn: txn.expire_leases(study.id, 10.0))
        assert _write(store, lambda txn: txn.take_requeued(study.id, 5, 1)) == []

    def test_a_failed_configuration_is_retried_until_its_failures_pass_the_limit(
        self, store: Store
    ) -> None:
        study = _study(store)
        _trials(store, study, 2)
        failed = _finish(1, None, state=TrialState.FAILED, reason="boom")
        stopped = _finish(2, None, state=TrialState.FAILED, reason="stop", worker_stopped=True)
        for finish in (failed, stopped):
            _end(store, study, finish)
        claimed = _write(store, lambda txn: txn.take_retries(study.id, 5, 1))
        assert [(p.params["x"], p.first) for p in claimed] == [(0.0, 1), (0.1, 2)]
        assert _write(store, lambda txn: txn.take_retries(study.id, 5, 1)) == []
        # The retries fail too: trial 1's configuration has now failed twice (given up at
        # one retry); trial 2's first failure was a stopped worker's, so it goes again.
        retries = [NewTrial(p.params, p.grid_index, retry_of=p.first) for p in claimed]
        _write(store, lambda txn: txn.insert_trials(study, 3, retries, "w", 1.0, 2.0))
        for number in (3, 4):
            _end(store, study, _finish(number, None, state=TrialState.FAILED, reason="boom"))
        again = _write(store, lambda txn: txn.take_retries(study.id, 5, 1))
        assert [(p.params["x"], p.first) for p in again] == [(0.1, 2)]

    def test_only_the_owner_ends_a_pending_trial_once(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 2)
        metrics = {"loss": 0.25, "size": 3.0}
        ended = _write(
            store,
            lambda txn: txn.finish_pending_trial(
                study, _finish(1, 0.25, metrics=metrics, request_id="r1")
            ),
        )
        assert ended is not None
        assert (ended.state, ended.value, ended.finished_at) == (TrialState.COMPLETED, 0.25, 400.0)
        assert (ended.metrics, ended.request_id, ended.lease_expires_at) == (metrics, "r1", None)
        again = _write(store, lambda txn: txn.finish_pending_trial(study, _finish(1, 0.5)))
        stranger = _write(
            store, lambda txn: txn.finish_pending_trial(study, _finish(2, 0.5, worker_id="x"))
        )
        assert again is None
        assert stranger is None
        assert store.read(lambda txn: txn.get_trial(study, 1)).value == 0.25
        assert store.read(lambda txn: txn.get_trial(study, 2)).state is TrialState.PENDING

    def test_best_trials_are_completed_feasible_and_ordered_by_goal(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 4)
        outcomes = [
            _finish(1, 0.5),
            _finish(2, 0.1, feasible=False),
            _finish(3, 0.3),
            _finish(4, None, state=TrialState.FAILED, reason="crashed"),
        ]
        for finish in outcomes:
            _write(store, lambda txn, f=finish: txn.finish_pending_trial(study, f))  # type: ignore[misc]
        best = store.read(lambda txn: txn.best_trials(study, 5))
        assert [t.number for t in best] == [3, 1]
        assert store.read(lambda txn: txn.get_trial(study, 2)).violates_constraints
        counts = store.read(lambda txn: txn.trial_counts(study.id))
        assert counts == {TrialState.COMPLETED: 3, TrialState.FAILED: 1}

    def test_trials_are_listed_by_number_filtered_and_paged(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 5)
        _write(store, lambda txn: txn.finish_pending_trial(study, _finish(2, 1.0)))
        page = store.read(lambda txn: txn.list_trials(study, [], 0, 2))
        following = store.read(lambda txn: txn.list_trials(study, [], page[-1].number, 10))
        assert [t.number for t in page + following] == [1, 2, 3, 4, 5]
        completed = store.read(lambda txn: txn.list_trials(study, [TrialState.COMPLETED], 0, 9))
        assert [t.number for t in completed] == [2]

    def test_a_measurement_per_step_overwrites_and_renews_the_lease(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 2)
        _write(store, lambda txn: txn.add_measurement(study, 1, 0, 0.9, 500.0))
        _write(store, lambda txn: txn.add_measurement(study, 1, 1, 0.7, 500.0))
        _write(store, lambda txn: txn.add_measurement(study, 1, 0, 0.8, 600.0))
        _write(store, lambda txn: txn.add_measurement(study, 2, 0, 0.6, 500.0))
        curve = store.read(lambda txn: txn.measurements(study, 1))
        assert [(m.step, m.value) for m in curve] == [(0, 0.8), (1, 0.7)]
        assert store.read(lambda txn: txn.get_trial(study, 1)).lease_expires_at == 600.0
        assert store.read(lambda txn: txn.values_at_step(study, 0, exclude=1)) == [(2, 0.6)]
        with pytest.raises(NotFound):
            _write(store, lambda txn: txn.add_measurement(study, 9, 0, 0.1, 1.0))

    def test_curves_are_read_in_bulk_and_filtered_by_state(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 3)
        for number in (1, 2, 3):
            _write(store, _measure(study, number, number / 10))
        _end(store, study, _finish(1, 0.1))
        _end(store, study, _finish(2, 0.2, state=TrialState.PRUNED))
        every = store.read(lambda txn: txn.curves(study, 1, 3))
        assert {n: [m.value for m in curve] for n, curve in every.items()} == {
            1: [0.1],
            2: [0.2],
            3: [0.3],
        }
        completed = store.read(lambda txn: txn.curves(study, 1, 3, (TrialState.COMPLETED,)))
        assert list(completed) == [1]

    @pytest.mark.parametrize(("goal", "best_so_far"), [(Goal.MINIMIZE, 0.3), (Goal.MAXIMIZE, 0.5)])
    def test_finals_at_a_step_pair_the_best_so_far_with_the_final_value(
        self, store: Store, goal: Goal, best_so_far: float
    ) -> None:
        study = _study(
            store, config=dataclasses.replace(CONFIG, objectives=(Objective("l", goal),))
        )
        _trials(store, study, 3)
        for number, curve in ((1, (0.5, 0.3, 0.4)), (2, (0.5, 0.3, 0.4)), (3, (0.6,))):
            for step, value in enumerate(curve):
                _write(store, _measure(study, number, value, step))
        _end(store, study, _finish(1, 0.25))
        _end(store, study, _finish(2, 0.2, state=TrialState.PRUNED))
        _end(store, study, _finish(3, 0.6))  # stopped reporting before step 2
        finals = store.read(lambda txn: txn.finals_at_step(study, 2))
        assert finals == [(best_so_far, 0.25)]

    def test_snapshots_count_trials_and_name_the_best(self, store: Store) -> None:
        study = _study(store, "single")
        _study(store, "pareto", TWO_OBJECTIVES)
        _trials(store, study, 3)
        _write(store, lambda txn: txn.finish_pending_trial(study, _finish(1, 0.4)))
        _write(store, lambda txn: txn.finish_pending_trial(study, _finish(2, 0.2)))
        by_name = {s.name: s for s in store.read(lambda txn: txn.study_snapshots())}
        single, pareto = by_name["single"], by_name["pareto"]
        assert single.trial_counts == {"COMPLETED": 2, "PENDING": 1}
        assert (single.best_value, single.active, single.multi_objective) == (0.2, True, False)
        assert (pareto.best_value, pareto.multi_objective, pareto.hypervolume) == (
            None,
            True,
            None,
        )

    def test_a_deleted_study_takes_its_trials_along(self, store: Store) -> None:
        study = _study(store)
        _trials(store, study, 2)
        _write(store, lambda txn: txn.add_measurement(study, 1, 0, 0.5, 500.0))
        _write(store, lambda txn: txn.delete_study(study.id))
        assert store.read(lambda txn: txn.find_study("s")) is None
        reborn = _study(store)
        assert store.read(lambda txn: txn.list_trials(reborn, [], 0, 9)) == []
        assert store.read(lambda txn: txn.values_at_step(reborn, 0, exclude=0)) == []

    def test_a_failing_op_changes_nothing_and_reaches_only_its_caller(self, store: Store) -> None:
        def half_then_fail(txn: Transaction) -> None:
            txn.create_study("rolled-back", CONFIG, 1.0)
            raise NotFound("on purpose")

        failing = store.write(half_then_fail, durable=True)
        fine = store.write(lambda txn: txn.create_study("kept", CONFIG, 1.0), durable=True)
        with pytest.raises(NotFound):
            failing.result(timeout=30)
        assert fine.result(timeout=30).name == "kept"
        assert store.read(lambda txn: txn.find_study("rolled-back")) is None

    def test_the_writes_touch_proves_writes_without_changing_data(self, store: Store) -> None:
        _study(store)
        _write(store, lambda txn: txn.touch())
        assert [s.name for s in store.read(lambda txn: txn.list_studies(0, 9))] == ["s"]
