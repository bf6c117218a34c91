"""alerts: an index on (dedup_key, created_at) for the de-duplication lookup (issue 20: PostgreSQL CPU
per account cycle; every lookup read the whole outbox).

Revision ID: p5workers_alerts_dedup_index
Revises: quota_finished_days
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'p5workers_alerts_dedup_index'
down_revision: str | None = 'quota_finished_days'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_alerts_dedup_key_created_at', 'alerts', ['dedup_key', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_alerts_dedup_key_created_at', table_name='alerts')
