"""Sort keys compare byte by byte on every engine.

``sort_key`` is built to sort in Polish alphabetical order when compared as bytes (code
points), which is how SQLite compares text. A PostgreSQL database created with a language
collation (en_US.UTF-8, pl_PL.UTF-8) would sort it by that language's rules instead; this
gives the sort-key columns the "C" collation there. Nothing changes on SQLite; no data moves.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (("company", "sort_key", 500), ("user_account", "sort_key", 400))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}) COLLATE "default"')
