"""A study's trials in the UI process, kept current with one ListTrials page per refresh.

The first read pages through every trial. Later refreshes ask for one page
from the oldest trial still running (or the first new one): running trials
are the only ones that change, and new trials come at the end. Pages opened
on the same study share the cache, so the server sees one refresh per study
per interval however many pages are open.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from hyperdial.client.client import Client
from hyperdial.client.errors import NotFoundError
from hyperdial.client.ui.charts import params
from hyperdial.v1 import hyperdial_pb2 as pb

PAGE_SIZE = 1000
# Studies whose trials are kept at once; a page on another study reads it afresh.
MAX_STUDIES = 32


@dataclass
class Snapshot:
    """A study and its trials by id as last read; `version` counts the changes seen.

    `values` holds each trial's parameters as JSON scalars, decoded once per
    change of the trial rather than on every table request; `charts` the chart
    data, made once per version.
    """

    study: pb.Study
    trials: dict[int, pb.Trial]
    version: int
    values: dict[int, dict[str, float | int | str]] = field(default_factory=dict)
    # What the charts draw of this version, as JSON, once a page has asked.
    charts: bytes | None = None


class StudyTrials:
    """One study's cached trials; `current()` refreshes them when they are older than `ttl`."""

    def __init__(
        self,
        client: Client,
        name: str,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._name = name
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._read_at = 0.0
        self._cursor = 1  # the first id not read yet
        self._catching_up = False  # the last page was full: go on from the cursor

    def current(self) -> Snapshot:
        """The study as of at most `ttl` seconds ago (reads the server when older)."""
        with self._lock:
            if self._snapshot is None or self._clock() - self._read_at >= self._ttl:
                self._refresh()
            assert self._snapshot is not None
            return self._snapshot

    def invalidate(self) -> None:
        """The next `current()` reads the server, however recent the last read."""
        with self._lock:
            self._read_at = float("-inf")

    def _refresh(self) -> None:
        study = self._client.call(self._client.stub.GetStudy, pb.GetStudyRequest(name=self._name))
        if self._snapshot is None:
            trials = self._read_all()
            values = {number: params(trial) for number, trial in trials.items()}
            self._snapshot = Snapshot(study, trials, 1, values)
            self._cursor = max(trials, default=0) + 1
        else:
            self._snapshot = self._read_page(study)
        self._read_at = self._clock()

    def _list(self, start_id: int, token: str) -> pb.ListTrialsResponse:
        request = pb.ListTrialsRequest(
            study=self._name,
            page_size=PAGE_SIZE,
            page_token=token,
            start_id=start_id,
            include_measurements=True,
        )
        return self._client.call(self._client.stub.ListTrials, request)

    def _read_all(self) -> dict[int, pb.Trial]:
        trials: dict[int, pb.Trial] = {}
        token = ""
        while True:
            page = self._list(1, token)
            trials.update((t.id, t) for t in page.trials)
            token = page.next_page_token
            if not token:
                return trials

    def _read_page(self, study: pb.Study) -> Snapshot:
        """One page from the oldest running trial (or the cursor): the next snapshot.

        A changed snapshot is a new one, with new dicts: pages still reading the
        previous one are never disturbed.
        """
        previous = self._snapshot
        assert previous is not None
        start = self._cursor
        if not self._catching_up:
            running = (t.id for t in previous.trials.values() if t.state == pb.PENDING)
            start = min(running, default=self._cursor)
        page = self._list(start, "")
        if page.trials:
            self._cursor = max(self._cursor, page.trials[-1].id + 1)
        self._catching_up = bool(page.next_page_token)
        fresh = [t for t in page.trials if previous.trials.get(t.id) != t]
        before = previous.study.SerializeToString(deterministic=True)
        if not fresh and study.SerializeToString(deterministic=True) == before:
            return previous
        trials, values = dict(previous.trials), dict(previous.values)
        for trial in fresh:
            trials[trial.id] = trial
            values[trial.id] = params(trial)
        return Snapshot(study, trials, previous.version + 1, values)


class TrialCache:
    """The `StudyTrials` of the studies that pages look at.

    Made on first use; the least recently used dropped past `MAX_STUDIES`; a
    study the server no longer has dropped at once, so no name a page asks for
    is kept for nothing.
    """

    def __init__(self, client: Client, ttl: float) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._studies: OrderedDict[str, StudyTrials] = OrderedDict()

    def current(self, name: str) -> Snapshot:
        """Study `name` as of at most the cache's ttl ago. Raises NotFoundError."""
        with self._lock:
            found = self._studies.get(name)
            if found is None:
                found = self._studies[name] = StudyTrials(self._client, name, self._ttl)
                while len(self._studies) > MAX_STUDIES:
                    self._studies.popitem(last=False)
            self._studies.move_to_end(name)
        try:
            return found.current()
        except NotFoundError:
            with self._lock:
                self._studies.pop(name, None)
            raise

    def invalidate(self, name: str) -> None:
        """The next read of study `name` asks the server (an action changed the study)."""
        with self._lock:
            found = self._studies.get(name)
        if found is not None:
            found.invalidate()
