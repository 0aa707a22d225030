"""Initial schema: companies, users, memberships, append-only audit log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "company",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("nip", sa.String(10), nullable=False),
        sa.Column("regon", sa.String(14), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("ksef_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("search_key", sa.String(300), nullable=False, server_default=""),
        sa.Column("sort_key", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("nip", name="uq_company_nip"),
    )
    op.create_index("ix_company_sort", "company", ["sort_key", "id"])
    op.create_index("ix_company_ksef", "company", ["ksef_enabled", "sort_key", "id"])

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("role", sa.String(20), nullable=False, server_default="client"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("may_configure_ksef", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("search_key", sa.String(600), nullable=False, server_default=""),
        sa.Column("sort_key", sa.String(400), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("login", name="uq_user_login"),
    )
    op.create_index("ix_user_sort", "user_account", ["sort_key", "id"])

    op.create_table(
        "membership",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("company_id", sa.Integer, sa.ForeignKey("company.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_membership_company", "membership", ["company_id", "user_id"])

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=True),
        sa.Column("actor_login", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("object_id", sa.Integer, nullable=True),
        sa.Column("object_label", sa.String(300), nullable=False, server_default=""),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_at", "audit_entry", ["at"])
    op.create_index("ix_audit_object", "audit_entry", ["object_type", "object_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )


def downgrade() -> None:
    raise RuntimeError("Downgrading below the first schema would delete every row; refused.")
