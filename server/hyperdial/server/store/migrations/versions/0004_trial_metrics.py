"""Trials keep every reported metric and whether they meet the outcome constraints.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds trials.metrics_json (null: none reported) and trials.feasible (true so far)."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("metrics_json", sa.Text, nullable=True))
        batch.add_column(
            sa.Column("feasible", sa.Boolean, nullable=False, server_default=sa.true())
        )
