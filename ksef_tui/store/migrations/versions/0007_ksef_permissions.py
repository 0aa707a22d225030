"""KSeF permissions (issue 15): the office's own identity, the working model of each company, the
permission picture read from KSeF, and each credential's last permission check.

* ``office_credential``: per environment, how the person (or seal) who administers the office's own
  KSeF context logs in; sealed like a user's credential (the office NIP and name are settings);
* ``company.ksef_model``: how the office works with the company (PROTOCOL.md §17 models A–D; empty:
  not chosen);
* ``ksef_permission``: one permission as last read from KSeF for a company and environment: whose
  (a user, the office, someone else), which scope, where it comes from (direct, indirect through the
  office, owner, the client's grant to the office) and its state, with the time it was read;
* ``ksef_permission_read``: when a company's picture was last read and what could not be read;
* ``ksef_credential.permission_*``: the last permission check of that credential (its cause, e.g.
  ``no-permission`` or ``chain-broken``, and the permissions it found).

A downgrade refuses while an office credential or a chosen working model exists (that would lose
them); the picture and the checks are readings of KSeF and may go (they are read again).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_CREDENTIAL_COLUMNS = (
    ("permission_cause", sa.String(30)),
    ("permission_scopes", sa.String(300)),
    ("permission_checked_at", TZ),
)


def upgrade() -> None:
    op.create_table(
        "office_credential",
        sa.Column("environment", sa.String(20), primary_key=True),
        sa.Column("nip", sa.String(10), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("token_blob", sa.LargeBinary, nullable=True),
        sa.Column("token_last4", sa.String(4), nullable=True),
        sa.Column("token_reference", sa.String(36), nullable=True),
        sa.Column("cert_blob", sa.LargeBinary, nullable=True),
        sa.Column("key_blob", sa.LargeBinary, nullable=True),
        sa.Column("cert_subject", sa.String(500), nullable=True),
        sa.Column("cert_identifier", sa.String(60), nullable=True),
        sa.Column("cert_serial", sa.String(64), nullable=True),
        sa.Column("cert_valid_to", TZ, nullable=True),
        sa.Column("cert_fingerprint", sa.String(64), nullable=True),
        sa.Column("last_auth_at", TZ, nullable=True),
        sa.Column("last_auth_ok", sa.Boolean, nullable=True),
        sa.Column("last_auth_error", sa.String(500), nullable=True),
        sa.Column("permissions_read_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "ksef_permission",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("company_id", sa.Integer, sa.ForeignKey("company.id", ondelete="CASCADE"), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True),
        sa.Column("holder", sa.String(10), nullable=False),
        sa.Column("identifier_type", sa.String(12), nullable=True),
        sa.Column("identifier_value", sa.String(64), nullable=True),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("can_delegate", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("target", sa.String(40), nullable=True),
        sa.Column("permission_id", sa.String(36), nullable=True),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("subject_name", sa.String(200), nullable=True),
        sa.Column("seen_by", sa.String(10), nullable=False),
        sa.Column("read_at", TZ, nullable=False),
    )
    op.create_index("ix_permission_company", "ksef_permission", ["company_id", "environment", "user_id"])
    op.create_index("ix_permission_user", "ksef_permission", ["user_id", "environment"])
    op.create_table(
        "ksef_permission_read",
        sa.Column("company_id", sa.Integer, sa.ForeignKey("company.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("environment", sa.String(20), primary_key=True),
        sa.Column("read_at", TZ, nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
    )
    # plain ADD COLUMN (no table rebuild: rebuilding company on SQLite would cascade to its rows' children)
    op.add_column("company", sa.Column("ksef_model", sa.String(1), nullable=True))
    for name, type_ in _CREDENTIAL_COLUMNS:
        op.add_column("ksef_credential", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    n = bind.execute(sa.text("SELECT COUNT(*) FROM office_credential")).scalar()
    if n:
        raise RuntimeError(f"Downgrading would delete {n} office KSeF credential(s); refused.")
    m = bind.execute(sa.text("SELECT COUNT(*) FROM company WHERE ksef_model IS NOT NULL")).scalar()
    if m:
        raise RuntimeError(f"Downgrading would delete the KSeF working model of {m} company(ies); refused.")
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), never a table rebuild that would cascade
    for name, _type in reversed(_CREDENTIAL_COLUMNS):
        op.execute(f"ALTER TABLE ksef_credential DROP COLUMN {name}")
    op.execute("ALTER TABLE company DROP COLUMN ksef_model")
    op.drop_table("ksef_permission_read")
    op.drop_index("ix_permission_user", table_name="ksef_permission")
    op.drop_index("ix_permission_company", table_name="ksef_permission")
    op.drop_table("ksef_permission")
    op.drop_table("office_credential")
