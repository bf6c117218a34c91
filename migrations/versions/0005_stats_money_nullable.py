"""daily_stats.spend and revenue may be NULL: a money field WB left out is missing, not zero (issue 14,
defect 4); such rows are not evidence until read cleanly.

Revision ID: safe_wb_money_null
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safe_wb_money_null"
down_revision: str | None = "position_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(18, 6).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("daily_stats") as batch:
        batch.alter_column("spend", existing_type=MONEY, nullable=True)
        batch.alter_column("revenue", existing_type=MONEY, nullable=True)


def downgrade() -> None:
    op.execute("UPDATE daily_stats SET spend = '0' WHERE spend IS NULL")
    op.execute("UPDATE daily_stats SET revenue = '0' WHERE revenue IS NULL")
    with op.batch_alter_table("daily_stats") as batch:
        batch.alter_column("spend", existing_type=MONEY, nullable=False)
        batch.alter_column("revenue", existing_type=MONEY, nullable=False)
