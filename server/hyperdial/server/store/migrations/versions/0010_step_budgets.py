"""Steps as a budget: each trial's step_budget and the steps it has reported.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds trials.step_budget (0: none) and trials.steps, counted from the stored curves."""
    # Plain ADD COLUMN, never SQLite's batch mode (see 0007).
    for name in ("step_budget", "steps"):
        op.add_column("trials", sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
    op.execute(
        "UPDATE trials SET steps = (SELECT count(*) FROM measurements "
        "WHERE measurements.trial_id = trials.id)"
    )
