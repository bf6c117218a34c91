"""finished_reads.days_read_at: when a report read a finished campaign's last days on demand (once).

Revision ID: quota_finished_days
Revises: replay_observations
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'quota_finished_days'
down_revision: str | None = 'pos_clicks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('finished_reads') as batch:
        batch.add_column(sa.Column('days_read_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('finished_reads') as batch:
        batch.drop_column('days_read_at')
