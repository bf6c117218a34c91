"""positions: every observed ad position with its source, query, region, observed and described times.

Revision ID: position_positions
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "position_positions"
down_revision: str | None = "dash2_reason_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("advert_id", sa.BigInteger(), nullable=False),
        sa.Column("nm_id", sa.BigInteger(), nullable=False),
        sa.Column("query", sa.String(length=512), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("bid", sa.BigInteger(), nullable=True),
        sa.Column("sample", sa.BigInteger(), nullable=True),
        sa.Column("spend", sa.Float(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("describes_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_positions_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index(op.f("ix_positions_account_id_advert_id_observed_at"), "positions",
                    ["account_id", "advert_id", "observed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_positions_account_id_advert_id_observed_at"), table_name="positions")
    op.drop_table("positions")
