"""Every study's progress for the gauges, read at scrape time.

The store counts trials and finds best values in grouped queries; the
hypervolume of a study with several objectives needs its whole front, so it
is computed here, and again only when the study's count of completed trials
has changed since the last scrape.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from hyperdial.server.domain import StudySnapshot, TrialState
from hyperdial.server.pareto import pareto_front
from hyperdial.server.store.base import Store, Transaction


class StudyProgress:
    """Snapshots of every study, with hypervolumes cached by completed-trial count."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hypervolumes: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()  # scrapes may overlap

    def snapshots(self) -> list[StudySnapshot]:
        """Every study's snapshot. Blocks: call it off the event loop (the scrape thread is)."""
        return self._store.read(self._read)

    def _read(self, txn: Transaction) -> list[StudySnapshot]:
        found = txn.study_snapshots()
        with self._lock:
            cached = self._hypervolumes
            self._hypervolumes = {}
            result = []
            for snapshot in found:
                if snapshot.multi_objective:
                    snapshot = self._with_hypervolume(txn, snapshot, cached)
                result.append(snapshot)
            return result

    def _with_hypervolume(
        self, txn: Transaction, snapshot: StudySnapshot, cached: dict[str, tuple[int, float]]
    ) -> StudySnapshot:
        completed = snapshot.trial_counts.get(TrialState.COMPLETED.value, 0)
        known = cached.get(snapshot.name)
        if known is None or known[0] != completed:
            study = txn.find_study(snapshot.name)
            if study is None:
                return snapshot
            trials = txn.list_trials(study, [TrialState.COMPLETED], 0, 1 << 62)
            known = (completed, pareto_front(study.config, trials).hypervolume)
        self._hypervolumes[snapshot.name] = known
        return replace(snapshot, hypervolume=known[1])
