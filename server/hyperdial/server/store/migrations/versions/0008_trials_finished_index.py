"""A study's last finished trial from an index (Study.update_time): ix_trials_finished.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds the index on (study_id, finished_at)."""
    op.create_index("ix_trials_finished", "trials", ["study_id", "finished_at"])
