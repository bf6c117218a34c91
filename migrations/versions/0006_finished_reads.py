"""finished_reads: finished campaigns whose final read is done (never polled again).

Revision ID: quota_finished_reads
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'quota_finished_reads'
down_revision: str | None = 'safe_wb_money_null'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('finished_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_finished_reads_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finished_reads')),
    sa.UniqueConstraint('account_id', 'advert_id', name=op.f('uq_finished_reads_account_id_advert_id'))
    )


def downgrade() -> None:
    op.drop_table('finished_reads')
