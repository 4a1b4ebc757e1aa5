"""Stopping rules: measurements indexed by (study, step, value); configs get a stopping key.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds measurements.study_id (filled from trials) with its index; stopping: null."""
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("study_id", sa.Integer, nullable=True))
    op.execute(
        "UPDATE measurements SET study_id = "
        "(SELECT trials.study_id FROM trials WHERE trials.id = measurements.trial_id)"
    )
    op.create_index("ix_measurements_step", "measurements", ["study_id", "step", "value"])
    studies = sa.table("studies", sa.column("id", sa.Integer), sa.column("config_json", sa.Text))
    connection = op.get_bind()
    for study_id, config_json in connection.execute(
        sa.select(studies.c.id, studies.c.config_json)
    ):
        config = json.loads(config_json)
        config.setdefault("stopping", None)
        canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
        connection.execute(
            studies.update().where(studies.c.id == study_id).values(config_json=canonical)
        )
