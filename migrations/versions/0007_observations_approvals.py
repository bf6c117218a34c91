"""Replay and approval: the approvals table (decisions waiting for Approve / Reject in Telegram), the observations table (every input an evaluation read, with when it was observed) and the
evaluations table (what each campaign's evaluation read besides them and what it decided).

Revision ID: replay_observations
Revises: 0001
Create Date: 2026-12-07 19:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'replay_observations'
down_revision: str | None = 'quota_finished_reads'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('observations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=600), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('digest', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_observations_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_observations'))
    )
    op.create_index(op.f('ix_observations_account_id_known_at'), 'observations', ['account_id', 'known_at'],
                    unique=False)
    op.create_index(op.f('ix_observations_account_id_advert_id_kind_known_at'), 'observations',
                    ['account_id', 'advert_id', 'kind', 'known_at'], unique=False)
    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stats_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stats_since', sa.Date(), nullable=False),
    sa.Column('operator_paused', sa.Boolean(), nullable=False),
    sa.Column('stopped', sa.Boolean(), nullable=False),
    sa.Column('rules_known', sa.Boolean(), nullable=False),
    sa.Column('failed', sa.Boolean(), nullable=False),
    sa.Column('decisions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_evaluations_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations'))
    )
    op.create_index(op.f('ix_evaluations_account_id_at'), 'evaluations', ['account_id', 'at'], unique=False)
    op.create_index(op.f('ix_evaluations_account_id_advert_id_at'), 'evaluations', ['account_id', 'advert_id', 'at'],
                    unique=False)


    op.create_table('approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('target', sa.String(length=600), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('bid_before', sa.Integer(), nullable=True),
    sa.Column('bid_after', sa.Integer(), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_approvals_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals'))
    )
    op.create_index(op.f('ix_approvals_account_id_status'), 'approvals', ['account_id', 'status'], unique=False)
    op.create_index(op.f('ix_approvals_status_expires_at'), 'approvals', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_approvals_status_expires_at'), table_name='approvals')
    op.drop_index(op.f('ix_approvals_account_id_status'), table_name='approvals')
    op.drop_table('approvals')
    op.drop_index(op.f('ix_evaluations_account_id_advert_id_at'), table_name='evaluations')
    op.drop_index(op.f('ix_evaluations_account_id_at'), table_name='evaluations')
    op.drop_table('evaluations')
    op.drop_index(op.f('ix_observations_account_id_advert_id_kind_known_at'), table_name='observations')
    op.drop_index(op.f('ix_observations_account_id_known_at'), table_name='observations')
    op.drop_table('observations')
