"""Grid re-issue limits: index trials by grid point; every study config gets max_reissues.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DEFAULT_MAX_REISSUES = 3  # the default when this revision was written; never changes here


def upgrade() -> None:
    """Adds ix_trials_grid, writes max_reissues into stored configs, drops schema_info."""
    op.create_index("ix_trials_grid", "trials", ["study_id", "grid_index", "state"])
    studies = sa.table("studies", sa.column("id", sa.Integer), sa.column("config_json", sa.Text))
    connection = op.get_bind()
    for study_id, config_json in connection.execute(
        sa.select(studies.c.id, studies.c.config_json)
    ):
        config = json.loads(config_json)
        config.setdefault("max_reissues", _DEFAULT_MAX_REISSUES)
        # The canonical form StudyConfig.to_json writes (sorted keys, no spaces).
        canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
        connection.execute(
            studies.update().where(studies.c.id == study_id).values(config_json=canonical)
        )
    op.drop_table("schema_info")
