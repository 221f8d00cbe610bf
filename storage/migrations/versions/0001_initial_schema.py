"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "events",
        sa.Column("stream", sa.String(length=60), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", "seq"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("going", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("venue", "date"),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_date"), ["date"], unique=False)

    op.create_table(
        "news",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("news", schema=None) as batch_op:
        batch_op.create_index("ix_news_published_id", ["published_at", "id"], unique=False)

    op.create_table(
        "price_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "streams",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "news_tags",
        sa.Column("news_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["news_id"],
            ["news.id"],
        ),
        sa.PrimaryKeyConstraint("news_id", "tag"),
    )
    with op.batch_alter_table("news_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "races",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("post_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "SCHEDULED",
                "BETTING_OPEN",
                "SUSPENDED",
                "OFF",
                "FINISHED",
                "RESULTED",
                "ABANDONED",
                name="race_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "number"),
    )
    with op.batch_alter_table("races", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_races_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index("ix_races_post_time_id", ["post_time", "id"], unique=False)

    op.create_table(
        "news_races",
        sa.Column("news_id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["news_id"],
            ["news.id"],
        ),
        sa.ForeignKeyConstraint(
            ["race_id"],
            ["races.id"],
        ),
        sa.PrimaryKeyConstraint("news_id", "race_id"),
    )
    with op.batch_alter_table("news_races", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_races_race_id"), ["race_id"], unique=False)

    op.create_table(
        "runners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("horse", sa.String(length=100), nullable=False),
        sa.Column("jockey", sa.String(length=100), nullable=True),
        sa.Column("trainer", sa.String(length=100), nullable=True),
        sa.Column("draw", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("scratched", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["race_id"],
            ["races.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("race_id", "number"),
    )
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runners_race_id"), ["race_id"], unique=False)

    op.create_table(
        "current_prices",
        sa.Column("runner_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("decimal", sa.Float(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["race_id"],
            ["races.id"],
        ),
        sa.ForeignKeyConstraint(
            ["runner_id"],
            ["runners.id"],
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["price_sources.id"],
        ),
        sa.PrimaryKeyConstraint("runner_id", "source_id"),
    )
    with op.batch_alter_table("current_prices", schema=None) as batch_op:
        batch_op.create_index("ix_current_prices_race", ["race_id"], unique=False)

    op.create_table(
        "prices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("runner_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("decimal", sa.Float(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["race_id"],
            ["races.id"],
        ),
        sa.ForeignKeyConstraint(
            ["runner_id"],
            ["runners.id"],
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["price_sources.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.create_index("ix_prices_runner_observed", ["runner_id", "observed_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_index("ix_prices_runner_observed")

    op.drop_table("prices")
    with op.batch_alter_table("current_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_current_prices_race")

    op.drop_table("current_prices")
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runners_race_id"))

    op.drop_table("runners")
    with op.batch_alter_table("news_races", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_races_race_id"))

    op.drop_table("news_races")
    with op.batch_alter_table("races", schema=None) as batch_op:
        batch_op.drop_index("ix_races_post_time_id")
        batch_op.drop_index(batch_op.f("ix_races_meeting_id"))

    op.drop_table("races")
    with op.batch_alter_table("news_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_tags_tag"))

    op.drop_table("news_tags")
    op.drop_table("streams")
    op.drop_table("price_sources")
    with op.batch_alter_table("news", schema=None) as batch_op:
        batch_op.drop_index("ix_news_published_id")

    op.drop_table("news")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_date"))

    op.drop_table("meetings")
    op.drop_table("idempotency_keys")
    op.drop_table("events")
