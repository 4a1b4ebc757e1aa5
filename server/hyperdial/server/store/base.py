"""The Store contract: what the service needs from persistence.

Contract (every implementation, every backend):
  * Pass by value: methods return frozen domain objects or records; nothing a
    caller holds changes when the database does.
  * `Store.write(op)` runs `op(txn)` in a transaction and resolves its future
    only after the commit: when `durable` is true and the store's durability is
    "full", after an fsync, so an acknowledged Observe survives power loss.
    Concurrent writes may share one transaction and one fsync (group commit);
    each op runs in its own savepoint, so one op's error rolls back only that
    op and reaches only its caller.
  * Ops are executed one at a time (per store), so an op that reads and then
    writes (the next trial number, the next grid point) sees no interleaving
    writer of the same store. Across processes (several replicas on one
    database) `lock_study` locks the study's row for the rest of the batch.
    An op that locks a study names it as the write's `key`: a batch runs its
    ops ordered by key, so replicas lock rows in one order and never deadlock.
  * Errors: `NotFound` for a missing study or trial; `Conflict` when a
    concurrent writer won a race (retry at once); `Unavailable` when the
    database cannot commit (retry later). No database error leaves the store
    as anything else. The writer outlives every such fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from hyperdial.server.domain import (
    Measurement,
    StudyConfig,
    StudySnapshot,
    StudyState,
    Trial,
    TrialState,
)
from hyperdial.server.space import ParamValue

T = TypeVar("T")
Durability = Literal["full", "process"]


@dataclass(frozen=True)
class StudyRecord:
    """A study row: identity, config and the counters the service advances."""

    id: int
    name: str
    config: StudyConfig
    state: StudyState
    created_at: float
    draws: int
    trial_count: int
    budget_used: int
    paused: bool = False
    # Configurations waiting in the study's queue (EnqueueTrials).
    queued: int = 0
    # Intermediate values reported over all trials (ReportProgress): the steps spent.
    steps: int = 0


@dataclass(frozen=True)
class NewTrial:
    """A trial to insert."""

    params: dict[str, ParamValue]
    grid_index: int | None
    # A retry: the number of the configuration's first trial.
    retry_of: int | None = None
    # The most steps it may train (StudyConfig.fidelity; 0: no limit).
    step_budget: int = 0


@dataclass(frozen=True)
class Finish:
    """How a PENDING trial ends: what `Transaction.finish_pending_trial` stores.

    `metrics` are every value reported with the outcome; `feasible` is False
    for a completed trial that breaks an outcome constraint.
    """

    number: int
    worker_id: str
    state: TrialState
    value: float | None
    reason: str
    request_id: str
    finished_at: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    feasible: bool = True
    worker_stopped: bool = False


@dataclass(frozen=True)
class RequeuedPoint:
    """A grid point whose trial went STALE and may be handed out again."""

    params: dict[str, ParamValue]
    grid_index: int


@dataclass(frozen=True)
class RetryPoint:
    """A FAILED trial's configuration to hand out again; `first` numbers its first trial."""

    params: dict[str, ParamValue]
    grid_index: int | None
    first: int


class Transaction(Protocol):
    """Reads and writes inside one transaction; see the module docstring."""

    def touch(self) -> None:
        """Writes without changing anything: proves the database takes writes."""
        ...

    def create_study(self, name: str, config: StudyConfig, now: float) -> StudyRecord:
        """Inserts a study; the caller has checked the name is free.

        Raises Conflict if another writer took the name meanwhile (the caller's
        client retries, and then finds that study).
        """
        ...

    def find_study(self, name: str) -> StudyRecord | None:
        """The study of that name, or None."""
        ...

    def lock_study(self, name: str) -> StudyRecord:
        """The study, locked against other writers until commit. Raises NotFound."""
        ...

    def study_snapshots(self) -> list[StudySnapshot]:
        """Every study with its trial counts by state and best value (for metrics).

        A study with several objectives has no best value; its hypervolume is
        left to the caller (None here).
        """
        ...

    def count_studies(self) -> int:
        """How many studies exist."""
        ...

    def list_studies(self, after_id: int, limit: int) -> list[StudyRecord]:
        """Studies with id > after_id, by id."""
        ...

    def delete_study(self, study_id: int) -> None:
        """Deletes a study with its trials and measurements."""
        ...

    def update_study(
        self, study_id: int, *, draws: int, trial_count: int, budget_used: int, state: StudyState
    ) -> None:
        """Stores the study's new counters and state."""
        ...

    def replace_config(self, study_id: int, config: StudyConfig) -> None:
        """Stores the study's changed config; the caller changed only what may change."""
        ...

    def trial_counts(self, study_id: int) -> dict[TrialState, int]:
        """Number of trials in each state."""
        ...

    def last_activity(self, study_id: int) -> float | None:
        """When a trial was last handed out or finished; None without trials."""
        ...

    def pending_trials(self, study: StudyRecord, worker_id: str, limit: int) -> list[Trial]:
        """The worker's PENDING trials, oldest first."""
        ...

    def renew_leases(self, study_id: int, numbers: Sequence[int], until: float) -> None:
        """Extends the leases of these trials."""
        ...

    def expire_leases(self, study_id: int, now: float) -> int:
        """Turns PENDING trials whose lease ended before `now` STALE; returns how many."""
        ...

    def take_requeued(self, study_id: int, limit: int, max_reissues: int) -> list[RequeuedPoint]:
        """Claims up to `limit` grid points of STALE trials not yet handed out again.

        A point whose trials went STALE more than `max_reissues` times is
        claimed but not returned: it is given up.
        """
        ...

    def take_retries(self, study_id: int, limit: int, max_retries: int) -> list[RetryPoint]:
        """Claims up to `limit` FAILED trials not yet handed out again, oldest first.

        A claimed trial is returned unless its configuration has failed more
        than `max_retries` times, not counting failures whose worker was
        stopped; such a trial is returned whatever the count.
        """
        ...

    def set_paused(self, study_id: int, paused: bool) -> None:
        """Pauses or resumes the study."""
        ...

    def enqueue(
        self, study_id: int, assignments: Sequence[dict[str, ParamValue]], now: float
    ) -> None:
        """Appends configurations to the study's queue (and to its `queued` count)."""
        ...

    def queued_assignments(self, study_id: int) -> list[dict[str, ParamValue]]:
        """The study's queue, oldest first."""
        ...

    def take_queued(self, study_id: int, limit: int) -> list[dict[str, ParamValue]]:
        """Removes and returns up to `limit` configurations from the queue, oldest first."""
        ...

    def insert_trials(
        self,
        study: StudyRecord,
        first_number: int,
        new: Sequence[NewTrial],
        worker_id: str,
        now: float,
        lease_until: float,
    ) -> list[Trial]:
        """Inserts PENDING trials numbered from `first_number`."""
        ...

    def request_stop(self, study: StudyRecord, number: int) -> None:
        """Marks a trial to be told to stop at its next report."""
        ...

    def get_trial(self, study: StudyRecord, number: int) -> Trial:
        """One trial. Raises NotFound."""
        ...

    def finish_pending_trial(self, study: StudyRecord, finish: Finish) -> Trial | None:
        """Ends the trial as `finish` says if it is PENDING and leased to its worker.

        Returns None (and changes nothing) otherwise: the caller then reads the
        trial to tell why.
        """
        ...

    def add_measurement(
        self, study: StudyRecord, number: int, step: int, value: float, lease_until: float
    ) -> None:
        """Records (or overwrites) the value at `step` and renews the lease."""
        ...

    def steps_reserved(self, study_id: int) -> int:
        """Steps granted to the study's PENDING trials and not yet reported by them."""
        ...

    def measurements(self, study: StudyRecord, number: int) -> tuple[Measurement, ...]:
        """A trial's intermediate values by step."""
        ...

    def curves(
        self, study: StudyRecord, first: int, last: int, states: tuple[TrialState, ...] = ()
    ) -> dict[int, tuple[Measurement, ...]]:
        """The intermediate values of trials numbered first..last that have any, by number.

        `states`, when given, keeps trials in those states only (every state otherwise).
        """
        ...

    def finals_at_step(self, study: StudyRecord, step: int) -> list[tuple[float, float]]:
        """(best value up to `step`, final value) of completed trials that reported `step`.

        The best so far, not the value at the step: it is what the trial has
        already reached, and one noisy epoch says less of where it ends.

        Trials that break an outcome constraint are left out, and so are trials
        granted fewer than the study's `max_steps`: their final values are early ones.
        """
        ...

    def values_at_step(
        self, study: StudyRecord, step: int, exclude: int
    ) -> list[tuple[int, float]]:
        """Every other trial's (number, value) at `step` (trial number `exclude` left out)."""
        ...

    def list_trials(
        self,
        study: StudyRecord,
        states: Sequence[TrialState],
        after_number: int,
        limit: int,
    ) -> list[Trial]:
        """Trials with number > after_number (in `states` if given), by number."""
        ...

    def best_trials(self, study: StudyRecord, limit: int) -> list[Trial]:
        """Completed trials that meet the constraints, best first by the (first) objective."""
        ...


class ComputationLock(Protocol):
    """Held while one replica computes suggestions for a study."""

    def release(self) -> None:
        """Lets other replicas compute for the study."""
        ...


class Store(Protocol):
    """A database of studies; see the module docstring for the contract."""

    def try_lock_computation(self, study_id: int) -> ComputationLock | None:
        """Takes the study's computation lock if no replica holds it (None if one does).

        Blocks briefly: call it off the event loop. A replica that dies while
        holding it loses it, so it never blocks a study for good.
        """
        ...

    def write(self, op: Callable[[Transaction], T], *, durable: bool, key: str = "") -> Future[T]:
        """Runs `op` in a (possibly shared) write transaction; resolves after commit.

        `key` is the name of the study `op` locks, if any (see the module
        docstring). A caller that cancels the future before `op` starts has it
        skipped.
        """
        ...

    def read(self, op: Callable[[Transaction], T]) -> T:
        """Runs `op` in a read-only snapshot. Blocks: call it off the event loop."""
        ...

    def close(self) -> None:
        """Finishes queued writes and releases the database."""
        ...
