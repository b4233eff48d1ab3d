"""events: the per-peer index holds only events about a peer

Session and meeting events have no peer. In an index of every event by peer they
all sort first, as NULLs, and SQLite's sampled ``ANALYZE`` (``analysis_limit``) reads
the start of the index: it then believes a peer has as many events as the NULL run,
and reads a peer's events by scanning the app's whole log (participant details of
a 1,000-peer webinar: 7 ms instead of 1). Without the NULLs the sample sees real
peers, and the index is smaller. ``peer_id = ?`` always uses it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "ix_events_app_pk_peer_id_type_ts_ms_received_ms"
COLUMNS = ["app_pk", "peer_id", "type", "ts_ms", "received_ms"]
ABOUT_A_PEER = sa.text("peer_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(
            NAME, COLUMNS, sqlite_where=ABOUT_A_PEER, postgresql_where=ABOUT_A_PEER
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(NAME)
        batch_op.create_index(NAME, COLUMNS)
