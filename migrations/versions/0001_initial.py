"""Initial schema: accounts, campaigns, campaign_items, bid_snapshots, daily_stats, cluster_stats,
decisions, alerts, operator_state, cycles.

Hand-checked. Column types are plain SQLAlchemy (no import of bidder): UTCDateTime renders as
DateTime(timezone=True); Money as NUMERIC(18, 6) on PostgreSQL and VARCHAR(32) text on SQLite (exact).

Revision ID: 0001
Revises:
Create Date: 2026-11-24 22:36:55.903673

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('dedup_key', sa.String(length=256), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_alerts_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index(op.f('ix_alerts_status_next_attempt_at'), 'alerts', ['status', 'next_attempt_at'], unique=False)
    op.create_index('uq_alerts_pending_dedup_key', 'alerts', ['dedup_key'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.create_table('bid_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('nm_id', sa.BigInteger(), nullable=False),
    sa.Column('placement', sa.String(length=32), nullable=False),
    sa.Column('bid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_bid_snapshots_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid_snapshots'))
    )
    op.create_index(op.f('ix_bid_snapshots_account_id_advert_id_nm_id_placement_at'), 'bid_snapshots', ['account_id', 'advert_id', 'nm_id', 'placement', 'at'], unique=False)

    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('type', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('bid_type', sa.String(length=32), nullable=False),
    sa.Column('payment_type', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('placements', sa.JSON(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_campaigns_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('account_id', 'advert_id', name=op.f('uq_campaigns_account_id_advert_id'))
    )
    op.create_table('cluster_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('nm_id', sa.BigInteger(), nullable=False),
    sa.Column('norm_query', sa.String(length=512), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('views', sa.BigInteger(), nullable=True),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.BigInteger(), nullable=False),
    sa.Column('spend', sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite"), nullable=False),
    sa.Column('avg_pos', sa.Float(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_cluster_stats_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_stats')),
    sa.UniqueConstraint('account_id', 'advert_id', 'nm_id', 'norm_query', 'period_from', 'period_to', name='uq_cluster_stats_key')
    )
    op.create_index(op.f('ix_cluster_stats_account_id_advert_id_period_to'), 'cluster_stats', ['account_id', 'advert_id', 'period_to'], unique=False)

    op.create_table('cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_cycles_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles'))
    )
    op.create_index(op.f('ix_cycles_account_id_started_at'), 'cycles', ['account_id', 'started_at'], unique=False)

    op.create_table('daily_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('nm_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.BigInteger(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('atbs', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.BigInteger(), nullable=False),
    sa.Column('spend', sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite"), nullable=False),
    sa.Column('revenue', sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite"), nullable=False),
    sa.Column('avg_position', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_daily_stats_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_stats')),
    sa.UniqueConstraint('account_id', 'advert_id', 'nm_id', 'day', name=op.f('uq_daily_stats_account_id_advert_id_nm_id_day'))
    )
    op.create_index(op.f('ix_daily_stats_account_id_day'), 'daily_stats', ['account_id', 'day'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=False),
    sa.Column('nm_id', sa.BigInteger(), nullable=True),
    sa.Column('placement', sa.String(length=32), nullable=True),
    sa.Column('norm_query', sa.String(length=512), nullable=True),
    sa.Column('strategy', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('proposal', sa.JSON(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('bid_before', sa.Integer(), nullable=True),
    sa.Column('bid_after', sa.Integer(), nullable=True),
    sa.Column('proposed_bid', sa.Integer(), nullable=True),
    sa.Column('guard', sa.Text(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('apply_status', sa.String(length=32), nullable=False),
    sa.Column('api_error', sa.Text(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_decisions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    op.create_index(op.f('ix_decisions_account_id_advert_id_at'), 'decisions', ['account_id', 'advert_id', 'at'], unique=False)
    op.create_index(op.f('ix_decisions_account_id_apply_status'), 'decisions', ['account_id', 'apply_status'], unique=False)
    op.create_index(op.f('ix_decisions_at'), 'decisions', ['at'], unique=False)

    op.create_table('operator_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('advert_id', sa.BigInteger(), nullable=True),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_operator_state_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_state'))
    )
    op.create_index(op.f('ix_operator_state_account_id_key'), 'operator_state', ['account_id', 'key'], unique=False)

    op.create_table('campaign_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('nm_id', sa.BigInteger(), nullable=False),
    sa.Column('subject', sa.String(length=256), nullable=False),
    sa.Column('bid_search', sa.Integer(), nullable=True),
    sa.Column('bid_recommendations', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_items_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_items')),
    sa.UniqueConstraint('campaign_id', 'nm_id', name=op.f('uq_campaign_items_campaign_id_nm_id'))
    )


def downgrade() -> None:
    op.drop_table('campaign_items')
    op.drop_index(op.f('ix_operator_state_account_id_key'), table_name='operator_state')

    op.drop_table('operator_state')
    op.drop_index(op.f('ix_decisions_at'), table_name='decisions')
    op.drop_index(op.f('ix_decisions_account_id_apply_status'), table_name='decisions')
    op.drop_index(op.f('ix_decisions_account_id_advert_id_at'), table_name='decisions')

    op.drop_table('decisions')
    op.drop_index(op.f('ix_daily_stats_account_id_day'), table_name='daily_stats')

    op.drop_table('daily_stats')
    op.drop_index(op.f('ix_cycles_account_id_started_at'), table_name='cycles')

    op.drop_table('cycles')
    op.drop_index(op.f('ix_cluster_stats_account_id_advert_id_period_to'), table_name='cluster_stats')

    op.drop_table('cluster_stats')
    op.drop_table('campaigns')
    op.drop_index(op.f('ix_bid_snapshots_account_id_advert_id_nm_id_placement_at'), table_name='bid_snapshots')

    op.drop_table('bid_snapshots')
    op.drop_index('uq_alerts_pending_dedup_key', table_name='alerts', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_alerts_status_next_attempt_at'), table_name='alerts')

    op.drop_table('alerts')
    op.drop_table('accounts')
