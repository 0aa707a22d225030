"""Companies: a narrow index for counting the filtered list.

The filter "name or NIP contains ..." cannot seek, it scans; scanning this index of
(search_key, nip) instead of the whole table makes the count of 100,000 companies
about 40% cheaper on SQLite (the filter's count is what a keystroke waits for).
SQLite only: on PostgreSQL it does not speed the count, and every row a serial operation
updates would be re-indexed in it too (the UPDATE of 20,000 companies: 0.6 s → 1.1 s).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        op.create_index("ix_company_search", "company", ["search_key", "nip"])


def downgrade() -> None:
    if _sqlite():
        op.drop_index("ix_company_search", table_name="company")
