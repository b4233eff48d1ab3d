"""webhook_keys: the public key that verifies each app's RealtimeKit webhook deliveries

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_keys",
        sa.Column("account_id", sa.String(256), primary_key=True),
        sa.Column("app_id", sa.String(256), primary_key=True),
        sa.Column("public_key_pem", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_keys")
