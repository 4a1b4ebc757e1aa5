"""One suggester per study, built once and reused across Suggest calls."""

from __future__ import annotations

import threading
from collections import OrderedDict

from hyperdial.server.algorithms.base import Suggester, make_suggester
from hyperdial.server.store.base import StudyRecord

CACHE_SIZE = 256


class SuggesterCache:
    """An LRU of suggesters by study id (ids are never reused, configs never change).

    Building a grid suggester enumerates the grid; caching it keeps Suggest O(1).
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._cache: OrderedDict[int, Suggester] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, study: StudyRecord) -> Suggester:
        """The study's suggester, built on first use."""
        with self._lock:
            suggester = self._cache.get(study.id)
            if suggester is not None:
                self._cache.move_to_end(study.id)
                return suggester
        suggester = make_suggester(study.config.space, study.config.algorithm)
        self.keep(study.id, suggester)
        return suggester

    def keep(self, study_id: int, suggester: Suggester) -> None:
        """Caches a suggester built elsewhere (CreateStudy builds one to check the options)."""
        with self._lock:
            self._cache[study_id] = suggester
            self._cache.move_to_end(study_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
