"""alerts and notifications

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "PRICE_LEVEL",
                "PRICE_MOVE",
                "RACE_STATUS",
                "SCRATCHED",
                "NEWS",
                name="alert_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("runner_id", sa.Integer(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("news_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_created", ["user", "created_at", "id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "PRICE_LEVEL",
                "PRICE_MOVE",
                "RACE_STATUS",
                "SCRATCHED",
                "NEWS",
                name="alert_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("runner_id", sa.Integer(), nullable=True),
        sa.Column("above", sa.Boolean(), nullable=True),
        sa.Column("level", sa.Float(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("reference", sa.Float(), nullable=True),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["race_id"],
            ["races.id"],
        ),
        sa.ForeignKeyConstraint(
            ["runner_id"],
            ["runners.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_race_kind", ["race_id", "kind"], unique=False)
        batch_op.create_index("ix_alerts_runner_kind", ["runner_id", "kind"], unique=False)
        batch_op.create_index("ix_alerts_user_id", ["user", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_user_id")
        batch_op.drop_index("ix_alerts_runner_kind")
        batch_op.drop_index("ix_alerts_race_kind")

    op.drop_table("alerts")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_created")

    op.drop_table("notifications")
