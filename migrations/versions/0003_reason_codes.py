"""Decision reasons as codes with their numbers: decisions.reason_code, decisions.reason_args.

NULL in both for rows written before (and reasons with no code yet): they render as their stored text.

Revision ID: dash2_reason_codes
Revises: 0001
Create Date: 2026-12-07 19:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'dash2_reason_codes'
down_revision: str | None = 'leases_tables'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('decisions') as batch:
        batch.add_column(sa.Column('reason_code', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reason_args', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions') as batch:
        batch.drop_column('reason_args')
        batch.drop_column('reason_code')
