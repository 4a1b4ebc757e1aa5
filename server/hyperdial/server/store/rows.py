"""Rows of the studies and trials tables as frozen domain objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from hyperdial.server.domain import StudyConfig, StudyState, Trial, TrialState
from hyperdial.server.store.base import StudyRecord

# Every row of a study holds the same config: parse it once.
_parse_config = lru_cache(maxsize=1024)(StudyConfig.from_json)


def study_record(row: Mapping[Any, Any]) -> StudyRecord:
    """A row of `studies`, by column name."""
    return StudyRecord(
        id=row["id"],
        name=row["name"],
        config=_parse_config(row["config_json"]),
        state=StudyState(row["state"]),
        created_at=row["created_at"],
        draws=row["draws"],
        trial_count=row["trial_count"],
        budget_used=row["budget_used"],
        paused=bool(row["paused"]),
        queued=row["queued"],
        steps=row["steps"],
    )


def trial_from_row(study_name: str, row: Mapping[Any, Any]) -> Trial:
    """A row of `trials`, by column name, as a trial of `study_name`."""
    return Trial(
        study_name=study_name,
        number=row["number"],
        state=TrialState(row["state"]),
        params=json.loads(row["params_json"]),
        worker_id=row["worker_id"],
        created_at=row["created_at"],
        lease_expires_at=row["lease_expires_at"],
        finished_at=row["finished_at"],
        value=row["value"],
        reason=row["reason"],
        request_id=row["request_id"],
        metrics=json.loads(row["metrics_json"]) if row["metrics_json"] else {},
        violates_constraints=not row["feasible"],
        stop_requested=bool(row["stop_requested"]),
        step_budget=row["step_budget"],
    )
