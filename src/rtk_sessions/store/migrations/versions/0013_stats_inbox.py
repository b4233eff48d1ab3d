"""stats_inbox: peer.stats events appended as received, compacted by the folder

The append no longer encodes telemetry (several times the cost of storing it): it puts
each event in ``stats_inbox`` and the background folder compacts it into ``stats``.
Nothing moves: existing rows are compact already.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_inbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("app_pk", sa.Integer, nullable=False),
        sa.Column("peer_key", sa.Integer, nullable=False),
        sa.Column("h1", sa.BigInteger, nullable=False),
        sa.Column("h2", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("app_pk", "h1", name="uq_stats_inbox_app_pk_h1"),
    )
    op.create_index("ix_stats_inbox_app_pk_seq", "stats_inbox", ["app_pk", "seq"])
    op.create_index("ix_stats_inbox_peer_key", "stats_inbox", ["peer_key"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _has_lz4(bind):
        # the events' JSON, compressed by the server in its own process (lz4: several
        # times pglz's speed), not by the append
        op.execute("ALTER TABLE stats_inbox ALTER COLUMN data SET COMPRESSION lz4")


def _has_lz4(bind: sa.Connection) -> bool:
    methods = bind.exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    return bool(methods) and "lz4" in methods


def downgrade() -> None:
    op.drop_table("stats_inbox")
