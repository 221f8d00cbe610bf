"""feed health: when each price source was last heard from, and whether it is stale

Revision ID: 0004
Revises: 0003

Sources stored before this revision have never been seen (last_seen_at is null): the first
sweep after the upgrade marks them stale, until they next call.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("price_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("price_sources", schema=None) as batch_op:
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("stale")
        batch_op.drop_column("last_seen_at")
