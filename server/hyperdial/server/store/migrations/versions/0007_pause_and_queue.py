"""Studies can be paused (studies.paused) and given configurations to try next (queued_trials).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds studies.paused and studies.queued (false and 0 for every study), and the queue."""
    # Plain ADD COLUMN, never batch mode: SQLite's batch mode copies the table and drops
    # the old one, and with foreign keys on that drop would cascade to every trial.
    op.add_column(
        "studies", sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "studies", sa.Column("queued", sa.BigInteger, nullable=False, server_default="0")
    )
    op.create_table(
        "queued_trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_queued_trials_study", "queued_trials", ["study_id", "id"])
