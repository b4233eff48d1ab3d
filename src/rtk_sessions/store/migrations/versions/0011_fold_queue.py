"""fold_queue: appended events not yet folded into meetings, sessions and peers;
apps.fold_version: moves with every commit that changes an app's derived rows

Until this revision every ingest folded its events in its own transaction, so an
existing database has nothing to fold: the queue starts empty.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fold_queue",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("app_pk", sa.Integer, nullable=False),
        sa.Column("event_ids", sa.LargeBinary, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("appended_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_fold_queue_app_pk_seq", "fold_queue", ["app_pk", "seq"])
    with op.batch_alter_table("apps") as batch:
        batch.add_column(
            sa.Column("fold_version", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("fold_version")
    op.drop_index("ix_fold_queue_app_pk_seq", table_name="fold_queue")
    op.drop_table("fold_queue")
