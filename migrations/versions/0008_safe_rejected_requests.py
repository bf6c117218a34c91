"""rejected_requests: write requests WB rejected, never sent again unchanged (across restarts).

Revision ID: safe_rejected_requests
Revises: replay_observations
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'safe_rejected_requests'
down_revision: str | None = 'replay_observations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rejected_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('shape', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_rejected_requests_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_requests')),
    sa.UniqueConstraint('account_id', 'fingerprint', name=op.f('uq_rejected_requests_account_id_fingerprint'))
    )


def downgrade() -> None:
    op.drop_table('rejected_requests')
