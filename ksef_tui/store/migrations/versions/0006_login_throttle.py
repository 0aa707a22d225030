"""Login throttling: wrong passwords counted per source address and per login at a source.

One row per key: ``src:<address>`` (every login tried from that address) or
``pair:<sha256 of the login>|<address>`` (one login from one address; the login is hashed,
so a password typed into the login field is never stored). The rows are transient state,
not office data: backups leave them out, and a downgrade drops them.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failure", TZ, nullable=False),
        sa.Column("blocked_until", TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
