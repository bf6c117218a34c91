"""positions.clicks: the clicks behind a search-cluster reading's spend (CPC campaigns send no views, so the
CPC paid in a stretch, spend / clicks, tells which bid the reading describes).

Revision ID: pos_clicks
Revises: replay_observations
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "pos_clicks"
down_revision: str | None = "safe_rejected_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.add_column(sa.Column("clicks", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.drop_column("clicks")
