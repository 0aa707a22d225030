"""Accounts: password hashes, failed logins and lockout, one-time codes; global settings.

Only salted scrypt hashes are stored (never a password or a one-time code in clear).
The ``setting`` table holds global defaults such as ``clients_may_configure_ksef``.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

_COLUMNS = (
    ("password_hash", sa.String(300)),
    ("password_set_at", TZ),
    ("failed_logins", sa.Integer),
    ("locked_until", TZ),
    ("one_time_code_hash", sa.String(300)),
    ("one_time_code_expires", TZ),
)


def upgrade() -> None:
    # plain ADD COLUMN (no table rebuild: rebuilding user_account on SQLite would cascade)
    for name, type_ in _COLUMNS:
        if name == "failed_logins":
            op.add_column("user_account", sa.Column(name, type_, nullable=False, server_default="0"))
        else:
            op.add_column("user_account", sa.Column(name, type_, nullable=True))
    op.create_table(
        "setting",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=True),
    )


def downgrade() -> None:
    bind = op.get_bind()
    n = bind.execute(sa.text(
        "SELECT COUNT(*) FROM user_account WHERE password_hash IS NOT NULL OR one_time_code_hash IS NOT NULL"
    )).scalar()
    if n:
        raise RuntimeError(f"Downgrading would delete the passwords of {n} user(s); refused.")
    op.drop_table("setting")
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), never a table rebuild that would cascade
    for name, _type in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE user_account DROP COLUMN {name}")
