"""KSeF credentials per (user, company, environment), vault check, endpoint overrides.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vault_check",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("check", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "ksef_endpoint",
        sa.Column("environment", sa.String(20), primary_key=True),
        sa.Column("base_url", sa.String(300), nullable=False),
    )
    op.create_table(
        "ksef_credential",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("company_id", sa.Integer, sa.ForeignKey("company.id", ondelete="CASCADE"), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("api_version", sa.String(5), nullable=False, server_default="2.0"),
        sa.Column("token_blob", sa.LargeBinary, nullable=True),
        sa.Column("token_last4", sa.String(4), nullable=True),
        sa.Column("token_reference", sa.String(36), nullable=True),
        sa.Column("token_permissions", sa.String(300), nullable=True),
        sa.Column("token_status", sa.String(20), nullable=True),
        sa.Column("cert_blob", sa.LargeBinary, nullable=True),
        sa.Column("key_blob", sa.LargeBinary, nullable=True),
        sa.Column("cert_subject", sa.String(500), nullable=True),
        sa.Column("cert_identifier", sa.String(60), nullable=True),
        sa.Column("cert_serial", sa.String(64), nullable=True),
        sa.Column("cert_valid_from", TZ, nullable=True),
        sa.Column("cert_valid_to", TZ, nullable=True),
        sa.Column("cert_fingerprint", sa.String(64), nullable=True),
        sa.Column("last_auth_at", TZ, nullable=True),
        sa.Column("last_auth_ok", sa.Boolean, nullable=True),
        sa.Column("last_auth_method", sa.String(20), nullable=True),
        sa.Column("last_auth_reference", sa.String(36), nullable=True),
        sa.Column("last_auth_valid_until", TZ, nullable=True),
        sa.Column("last_auth_error", sa.String(500), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("user_id", "company_id", "environment", name="uq_credential"),
    )
    op.create_index("ix_credential_company", "ksef_credential", ["company_id"])
    op.create_index("ix_credential_env_method", "ksef_credential", ["environment", "method"])


def downgrade() -> None:
    bind = op.get_bind()
    n = bind.execute(sa.text("SELECT COUNT(*) FROM ksef_credential")).scalar()
    if n:
        raise RuntimeError(f"Downgrading would delete {n} KSeF credential(s); refused.")
    op.drop_table("ksef_credential")
    op.drop_table("ksef_endpoint")
    op.drop_table("vault_check")
