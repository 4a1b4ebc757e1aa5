"""Tables of the SQL store (SQLAlchemy Core), as the newest migration leaves them.

The migrations in `migrations/versions` create and change the tables; this
module describes the result for building statements, and a test checks that
the two agree.

Times are stored as float seconds since the epoch (UTC): portable across
SQLite and PostgreSQL and cheap to compare in the lease index. Every query on
the hot path (Suggest, Observe, ReportProgress) is served by an index on
(study_id, ...), so its cost does not grow with the number of trials.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("config_json", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    # Fresh suggestions drawn from the algorithm (random draw / grid index to use next).
    Column("draws", BigInteger, nullable=False, default=0),
    # Trials ever created: the next trial's number is trial_count + 1.
    Column("trial_count", BigInteger, nullable=False, default=0),
    # Trials counted against max_trials (stale trials give their slot back).
    Column("budget_used", BigInteger, nullable=False, default=0),
    # Paused (PauseStudy): no new trials are handed out until it is resumed.
    Column("paused", Boolean, nullable=False, default=False),
    # Rows of `queued_trials` for the study: read with the study, so an empty queue
    # costs the hand-out no query.
    Column("queued", BigInteger, nullable=False, default=0),
    # Intermediate values recorded (ReportProgress), over all trials: epochs trained.
    Column("steps", BigInteger, nullable=False, default=0),
    sqlite_autoincrement=True,  # never reuse a deleted study's id (caches key on it)
)

trials = Table(
    "trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("worker_id", String(128), nullable=False),
    Column("value", Float, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("grid_index", BigInteger, nullable=True),
    # Set when a STALE grid trial's point has been handed out again.
    Column("requeued", Boolean, nullable=False, default=False),
    # Request id of the Observe that finished the trial (idempotent retries).
    Column("request_id", String(128), nullable=False, default=""),
    # Every metric reported with the outcome, as a JSON object (null before any).
    Column("metrics_json", Text, nullable=True),
    # False for a completed trial whose metrics break an outcome constraint.
    Column("feasible", Boolean, nullable=False, default=True),
    # A retry of a FAILED configuration: the number of that configuration's first trial.
    Column("retry_of", BigInteger, nullable=True),
    # A FAILED trial whose worker was stopped: its failure is not the configuration's.
    Column("worker_stopped", Boolean, nullable=False, default=False),
    # Someone asked (StopTrial) that the trial stop: its next ReportProgress answers stop.
    Column("stop_requested", Boolean, nullable=False, default=False),
    # The most steps the trial may train (StudyConfig.fidelity; 0: no limit).
    Column("step_budget", BigInteger, nullable=False, default=0),
    # Steps it has reported (ReportProgress, a re-reported step once).
    Column("steps", BigInteger, nullable=False, default=0),
    UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    Index("ix_trials_worker", "study_id", "worker_id", "state", "number"),
    Index("ix_trials_lease", "study_id", "state", "lease_expires_at"),
    Index("ix_trials_value", "study_id", "state", "value"),
    Index("ix_trials_grid", "study_id", "grid_index", "state"),
    Index("ix_trials_retry", "study_id", "retry_of"),
    Index("ix_trials_finished", "study_id", "finished_at"),
)

# Configurations queued by EnqueueTrials, handed out by id (oldest first) before the
# algorithm's own; a row is deleted when its trial is inserted.
queued_trials = Table(
    "queued_trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_queued_trials_study", "study_id", "id"),
    sqlite_autoincrement=True,
)

measurements = Table(
    "measurements",
    metadata,
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("value", Float, nullable=False),
    # Lets stopping rules read every trial's value at a step through one index.
    Column("study_id", Integer, nullable=True),
    Index("ix_measurements_step", "study_id", "step", "value"),
)
