"""Companies: a trigram index for the filter "name or NIP contains ..." (SQLite).

Without it the filter scans: at 1,000,000 companies its count took 200 ms on an idle machine (a
second and more under load) and a word that matches nothing read the whole table for its first
page (3.6 s). ``company_search`` is an FTS5 table with the trigram tokenizer over the company's
``search_key`` and ``nip`` (external content: it stores only the index, the text stays in
``company``); any three or more characters are found through it (2-15 ms at 1,000,000), one or
two still scan ``ix_company_search``. Triggers keep it in step with every insert, delete and
change of those two columns (a serial operation, which changes neither, never touches it).

Its matches are put in order (by name) through ``ix_company_id_sort`` (id, sort_key): a narrow map from
a company to its sort key, half the cost of reading each match's row (at 1,000,000 companies, 70,000
matches in order: 100 ms -> 50 ms). Names change rarely; a serial operation changes no column of it.

SQLite only, and only where its FTS5 is built in (the filter falls back to the scan without it).
PostgreSQL: unchanged (a pg_trgm index would need an extension the office's server may not allow).
Building it reads every company once (about 45 s at 1,000,000 companies, once, on the first start).

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "company_search"
TRIGGERS = ("company_search_insert", "company_search_delete", "company_search_update")


def _fts5(bind) -> bool:
    if bind.dialect.name != "sqlite":
        return False
    options = {row[0] for row in bind.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    bind = op.get_bind()
    if not _fts5(bind):
        return
    bind.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5(search_key, nip, content='company', content_rowid='id', "
        "tokenize='trigram case_sensitive 1')")
    bind.exec_driver_sql(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")
    bind.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_company_id_sort ON company (id, sort_key)")
    bind.exec_driver_sql(
        f"CREATE TRIGGER company_search_insert AFTER INSERT ON company BEGIN "
        f"INSERT INTO {TABLE}(rowid, search_key, nip) VALUES (new.id, new.search_key, new.nip); END")
    bind.exec_driver_sql(
        f"CREATE TRIGGER company_search_delete AFTER DELETE ON company BEGIN "
        f"INSERT INTO {TABLE}({TABLE}, rowid, search_key, nip) VALUES ('delete', old.id, old.search_key, old.nip); "
        "END")
    bind.exec_driver_sql(
        f"CREATE TRIGGER company_search_update AFTER UPDATE OF search_key, nip ON company BEGIN "
        f"INSERT INTO {TABLE}({TABLE}, rowid, search_key, nip) VALUES ('delete', old.id, old.search_key, old.nip); "
        f"INSERT INTO {TABLE}(rowid, search_key, nip) VALUES (new.id, new.search_key, new.nip); END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
    bind.exec_driver_sql("DROP INDEX IF EXISTS ix_company_id_sort")
