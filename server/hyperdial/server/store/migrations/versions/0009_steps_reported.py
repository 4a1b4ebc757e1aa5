"""The budget spent in steps: studies.steps, counted from the stored curves.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds studies.steps and sets it to the values each study's trials have reported."""
    # Plain ADD COLUMN, never SQLite's batch mode (see 0007).
    op.add_column("studies", sa.Column("steps", sa.BigInteger, nullable=False, server_default="0"))
    op.execute(
        "UPDATE studies SET steps = (SELECT count(*) FROM measurements "
        "JOIN trials ON trials.id = measurements.trial_id WHERE trials.study_id = studies.id)"
    )
