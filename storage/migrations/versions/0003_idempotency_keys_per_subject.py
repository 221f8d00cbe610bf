"""idempotency keys per token subject

Revision ID: 0003
Revises: 0002

Keys stored before this revision get the subject '' (the server's own writes), so no token's
call is ever answered from them: a retry that spans the upgrade is stored again, as a new call.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _drop_primary_key(batch_op: BatchOperations) -> None:
    # PostgreSQL named the key in 0001; SQLite's is unnamed, and its batch copy takes the new one instead.
    if op.get_context().dialect.name != "sqlite":
        batch_op.drop_constraint("idempotency_keys_pkey", type_="primary")


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    # SQLite copies the table; described without its old primary key, the copy takes only the new one.
    old = sa.Table("idempotency_keys", sa.MetaData(), *_columns())
    with op.batch_alter_table("idempotency_keys", schema=None, copy_from=old) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=200), nullable=False, server_default=""))
        _drop_primary_key(batch_op)
        batch_op.create_primary_key("idempotency_keys_pkey", ["subject", "key"])
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.alter_column("subject", server_default=None)


def downgrade() -> None:
    # Back to one global key space: of a key used by several subjects, one answer is kept.
    op.execute(
        "DELETE FROM idempotency_keys WHERE subject <> (SELECT MIN(other.subject) FROM idempotency_keys other "
        "WHERE other.key = idempotency_keys.key)"
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("idempotency_keys_pkey", type_="primary")
        batch_op.create_primary_key("idempotency_keys_pkey", ["key"])
        batch_op.drop_column("subject")
