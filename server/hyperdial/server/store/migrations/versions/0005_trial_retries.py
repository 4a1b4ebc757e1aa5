"""FAILED configurations can be handed out again: trials know what they retry and why they failed.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds trials.retry_of (null: a first attempt), trials.worker_stopped and ix_trials_retry."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("retry_of", sa.BigInteger, nullable=True))
        batch.add_column(
            sa.Column("worker_stopped", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index("ix_trials_retry", "trials", ["study_id", "retry_of"])
