"""A running trial can be asked to stop: trials.stop_requested (StopTrial).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds trials.stop_requested, false for every existing trial."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(
            sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )
