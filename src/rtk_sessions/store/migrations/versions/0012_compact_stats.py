"""stats, stats_peers: telemetry stored compactly; the log's peer.stats events move there

Each ``peer.stats`` event of the log becomes a compact row of ``stats`` (encoded against
the previous event of its peer, as an ingest of today would store it), a peer at a
time, and leaves the log; its peer's numbers go on ``stats_peers``. An event with keys
the schema does not declare stays in the log as received (the log keeps them) and is
counted on its peer all the same.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_peers",
        sa.Column("peer_key", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_pk", sa.Integer, nullable=False),
        sa.Column("peer_id", sa.String(256), nullable=False),
        sa.Column("session_id", sa.String(256)),
        sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_received_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rewrites", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("app_pk", "peer_id", name="uq_stats_peers_app_pk_peer_id"),
    )
    op.create_index(
        "ix_stats_peers_app_pk_last_received_ms", "stats_peers", ["app_pk", "last_received_ms"]
    )
    op.create_table(
        "stats",
        sa.Column("app_pk", sa.Integer, nullable=False),
        sa.Column("peer_key", sa.Integer, nullable=False),
        sa.Column("h1", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("app_pk", "h1", name="uq_stats_app_pk_h1"),
    )
    op.create_index("ix_stats_peer_key", "stats", ["peer_key"])
    from rtk_sessions.store.stats_rewrite import move_logged_stats

    move_logged_stats(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("telemetry moved out of the log does not move back")
