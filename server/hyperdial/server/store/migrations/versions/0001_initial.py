"""The first schema: studies, trials, measurements.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates the tables of schema version 1."""
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("draws", sa.BigInteger, nullable=False),
        sa.Column("trial_count", sa.BigInteger, nullable=False),
        sa.Column("budget_used", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("grid_index", sa.BigInteger, nullable=True),
        sa.Column("requeued", sa.Boolean, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    )
    op.create_index("ix_trials_worker", "trials", ["study_id", "worker_id", "state", "number"])
    op.create_index("ix_trials_lease", "trials", ["study_id", "state", "lease_expires_at"])
    op.create_index("ix_trials_value", "trials", ["study_id", "state", "value"])
    op.create_table(
        "measurements",
        sa.Column(
            "trial_id",
            sa.Integer,
            sa.ForeignKey("trials.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("step", sa.BigInteger, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_table("schema_info", sa.Column("version", sa.Integer, primary_key=True))
    op.execute("INSERT INTO schema_info (version) VALUES (1)")
