"""alert_webhooks and alert_outbox: outgoing quality alerts

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_webhooks",
        sa.Column("account_id", sa.String(256), primary_key=True),
        sa.Column("app_id", sa.String(256), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("mos_below", sa.Float, nullable=False),
        sa.Column("low_intervals", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("app_pk", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_outbox")
    op.drop_table("alert_webhooks")
