"""KSeF certificate types and token end dates (issue 11): the store keeps what KSeF says a certificate
is for, and a token's own end of validity when KSeF gives one.

* ``ksef_certificate``: the KSeF certificates the office holds for a user × company × environment, with
  their type (``certificate_type``: ``Offline`` signs QR code II of offline invoices and cannot log in;
  the login certificate stays in ``ksef_credential``), sealed like a credential's, with serial, subject,
  validity and KSeF's status. One per (user, company, environment, type).
* ``ksef_credential.cert_type``: the KSeF type of the login certificate (``Authentication``), or empty
  for a certificate KSeF did not issue (qualified signature or seal, test certificates).
* ``ksef_credential.token_valid_to``: the token's own end of validity from KSeF (new-rule tokens from
  2027); empty: the office's token policy decides (PROTOCOL.md §10).

A downgrade refuses while any KSeF certificate is kept (its private key would be lost).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_CREDENTIAL_COLUMNS = (
    ("cert_type", sa.String(20)),
    ("token_valid_to", TZ),
)


def upgrade() -> None:
    op.create_table(
        "ksef_certificate",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("company_id", sa.Integer, sa.ForeignKey("company.id", ondelete="CASCADE"), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("certificate_type", sa.String(20), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("valid_from", TZ, nullable=True),
        sa.Column("valid_to", TZ, nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("cert_blob", sa.LargeBinary, nullable=False),
        sa.Column("key_blob", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("user_id", "company_id", "environment", "certificate_type", name="uq_ksef_certificate"),
    )
    op.create_index("ix_ksef_certificate_company", "ksef_certificate", ["company_id", "environment", "certificate_type"])
    for name, type_ in _CREDENTIAL_COLUMNS:
        op.add_column("ksef_credential", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    n = bind.execute(sa.text("SELECT COUNT(*) FROM ksef_certificate")).scalar()
    if n:
        raise RuntimeError(f"Downgrading would delete {n} KSeF certificate(s) and their keys; refused.")
    for name, _type in reversed(_CREDENTIAL_COLUMNS):
        op.execute(f"ALTER TABLE ksef_credential DROP COLUMN {name}")
    op.drop_index("ix_ksef_certificate_company", table_name="ksef_certificate")
    op.drop_table("ksef_certificate")
