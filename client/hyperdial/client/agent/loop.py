"""The agent's worker loop: K slots, each taking a trial and running its command.

Each slot is a thread with its own worker id (`<host>-<pid>-agent<k>`) and,
given GPUs, its own `CUDA_VISIBLE_DEVICES`. `count` bounds the trials the
whole agent runs. `stop` (the agent's SIGTERM or Ctrl-C) ends every running
trial as FAILED ("the worker was stopped") and lets no slot take another.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence

from hyperdial.client.agent.trial_run import RunSettings, TrialRun
from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError
from hyperdial.client.study import Study, default_worker_id
from hyperdial.client.views import StudyInfo

log = logging.getLogger(__name__)


class Agent:
    """Runs a study's trials as commands until the study finishes, `count` is spent or `stop`."""

    def __init__(
        self,
        client: Client,
        study: StudyInfo,
        settings: RunSettings,
        *,
        count: int = 0,
        parallel: int = 1,
        gpus: Sequence[str] = (),
    ) -> None:
        self._client = client
        self._info = study
        self._settings = settings
        self._left = count or None  # None: no bound
        self._parallel = parallel
        self._gpus = list(gpus)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._running: set[TrialRun] = set()
        self.outcomes: Counter[str] = Counter()

    def run(self) -> Counter[str]:
        """Runs every slot to its end; the trials' outcomes by state."""
        slots = [
            threading.Thread(target=self._slot, args=(k,), name=f"agent-slot-{k}", daemon=True)
            for k in range(self._parallel)
        ]
        for slot in slots:
            slot.start()
        for slot in slots:
            while slot.is_alive():
                slot.join(timeout=0.2)  # wakes the main thread for signal handlers
        return self.outcomes

    def stop(self) -> None:
        """Stops every running command; their trials end FAILED. Safe from a signal handler."""
        self._stopping.set()
        with self._lock:
            running = list(self._running)
        for run in running:
            run.interrupt()

    def _take_ticket(self) -> bool:
        with self._lock:
            if self._stopping.is_set() or self._left == 0:
                return False
            if self._left is not None:
                self._left -= 1
            return True

    def _slot(self, k: int) -> None:
        worker_id = f"{default_worker_id()}-agent{k}"
        gpu = self._gpus[k % len(self._gpus)] if self._gpus else None
        # A slot's own Work stream: its Suggest, ReportProgress and Observe travel on it.
        study = self._client.study(self._info.name, stream=True)
        try:
            self._run_trials(study, worker_id, gpu)
        finally:
            study.close()

    def _run_trials(self, study: Study, worker_id: str, gpu: str | None) -> None:
        while self._take_ticket():
            trial = study.next_trial(worker_id, stop=self._stopping)
            if trial is None:
                log.info("study %s hands out no more trials", study.name)
                return
            run = TrialRun(trial, self._info, self._settings, gpu)
            with self._lock:
                self._running.add(run)
                if self._stopping.is_set():
                    run.interrupt()
            try:
                state = run.run()
            except HyperdialError as error:  # the server is gone or refused: say so, go on
                log.error("trial %d: %s", trial.id, error)
                state = "ERROR"
            with self._lock:
                self._running.discard(run)
                self.outcomes[state] += 1
            log.info("trial %d: %s", trial.id, state)
