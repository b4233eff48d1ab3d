"""sessions: indexes for the minutes sort and the status filter

Sorting by participant-minutes reads sessions with nobody in them in the order of
their fixed total; the status filter finds live sessions among those nothing closed.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BY_MINUTES = ["app_pk", "listed", "open_peers", "closed_peer_ms", "session_id"]
BY_CLOSED = ["app_pk", "listed", "closed_ms"]


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sessions_app_pk_listed_open_peers_closed_peer_ms_session_id"),
            BY_MINUTES,
        )
        batch_op.create_index(batch_op.f("ix_sessions_app_pk_listed_closed_ms"), BY_CLOSED)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_app_pk_listed_closed_ms"))
        batch_op.drop_index(
            batch_op.f("ix_sessions_app_pk_listed_open_peers_closed_peer_ms_session_id")
        )
