"""events: the per-peer index also holds received_ms

A peer's stats version (how many ``peer.stats`` events, the latest sample,
the latest arrival) is read on every participant-details and peer-report
request. With ``received_ms`` in the per-peer index it is read from the index
alone (SQLite: a covering index; PostgreSQL: an index-only scan once the
table is vacuumed) instead of one table lookup per event.

Building the index reads the whole events table: on a large PostgreSQL
database, run ``rtk-sessions migrate`` at a quiet time (writes to the table
wait while it builds).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = ["app_pk", "peer_id", "type", "ts_ms"]
NEW = [*OLD, "received_ms"]


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_app_pk_peer_id_type_ts_ms_received_ms"), NEW)
        batch_op.drop_index(batch_op.f("ix_events_app_pk_peer_id_type_ts_ms"))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_app_pk_peer_id_type_ts_ms"), OLD)
        batch_op.drop_index(batch_op.f("ix_events_app_pk_peer_id_type_ts_ms_received_ms"))
