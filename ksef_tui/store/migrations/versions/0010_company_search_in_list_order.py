"""Companies: the trigram index hands out its matches in the list's order, a stretch at a time (SQLite).

With 0009 the first page of a filter that matches many companies had to look up the sort key of
every match to put them in order: 70,000 matches of 1,000,000 cost ~40 ms, most of a keystroke.
Now the list (companies by ``sort_key``) is cut into stretches of at most ``SPLIT_AT`` companies
(``company_search_stretch``: the smallest sort key of each, its number, its size), and the
trigram index keys each company as ``stretch number * 2**32 + id``. The index returns rowids in
ascending order, i.e. stretch by stretch in the list's order: the first ``offset + limit`` matches
it returns end in some stretch S, and only the matches in stretches up to S need their sort keys
looked up and put in order (about a stretch's worth, not all 70,000). See
``CompanyService.page``.

Triggers keep everything in step: a company added, removed or renamed (a change of
``sort_key``, ``search_key`` or ``nip``) moves its index entry and its stretch's size; a stretch
that grows past ``SPLIT_AT`` splits at its middle key, the companies from there on re-keyed
under a new number between its own and the next one's (numbers are spaced 2**20 apart, so a place
can split about twenty times; a stretch that cannot split, because its numbers ran out or most of
it has one name, is marked ``frozen``: it stays whole and the filter is as exact, only slower
there). Stretches are never merged. A serial operation changes none of those columns and never
touches the index.

The table is contentless (``content=''``): it stores only the index; names stay in ``company``.
Building it reads every company once (about as long as 0009's build: ~45 s at 1,000,000).
SQLite with FTS5 only; PostgreSQL unchanged.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "company_search"
STRETCH = "company_search_stretch"
TRIGGERS = ("company_search_insert", "company_search_delete", "company_search_update", "company_search_split")
#: a stretch splits when it grows past this many companies
SPLIT_AT = 4096
#: the first numbers are this far apart (room for splits in between)
SPACING = 1 << 20
#: the rowid's low part is the company's id
ID_BITS = 32


def _fts5(bind) -> bool:
    if bind.dialect.name != "sqlite":
        return False
    options = {row[0] for row in bind.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def _stretch_of(key: str) -> str:
    """SQL: the number of the stretch a sort key ``key`` (an SQL expression) falls in."""
    return f"(SELECT number FROM {STRETCH} WHERE lower <= {key} ORDER BY lower DESC LIMIT 1)"


def _lower_of(key: str) -> str:
    return f"(SELECT lower FROM {STRETCH} WHERE lower <= {key} ORDER BY lower DESC LIMIT 1)"


def _add(prefix: str) -> str:
    return (f"INSERT INTO {TABLE}(rowid, search_key, nip) VALUES "
            f"({_stretch_of(prefix + '.sort_key')} * {1 << ID_BITS} + {prefix}.id, {prefix}.search_key, {prefix}.nip); "
            f"UPDATE {STRETCH} SET size = size + 1 WHERE lower = {_lower_of(prefix + '.sort_key')}; ")


def _remove(prefix: str) -> str:
    return (f"INSERT INTO {TABLE}({TABLE}, rowid, search_key, nip) VALUES ('delete', "
            f"{_stretch_of(prefix + '.sort_key')} * {1 << ID_BITS} + {prefix}.id, {prefix}.search_key, {prefix}.nip); "
            f"UPDATE {STRETCH} SET size = size - 1 WHERE lower = {_lower_of(prefix + '.sort_key')}; ")


def _split_trigger() -> str:
    nxt = f"(SELECT min(lower) FROM {STRETCH} WHERE lower > new.lower)"
    upper = f"coalesce({nxt}, X'FF')"  # any text sorts before a blob: no upper bound
    mid = (f"(SELECT sort_key FROM company WHERE sort_key >= new.lower AND sort_key < {upper} "
           f"ORDER BY sort_key LIMIT 1 OFFSET new.size / 2)")
    next_number = f"(SELECT min(number) FROM {STRETCH} WHERE number > new.number)"
    number = f"((new.number + coalesce({next_number}, new.number + {2 * SPACING})) / 2)"
    can = f"{mid} > new.lower AND {number} > new.number"
    moved = f"FROM company WHERE sort_key >= {mid} AND sort_key < {upper} AND {can}"
    return (
        f"CREATE TRIGGER company_search_split AFTER UPDATE OF size ON {STRETCH} "
        f"WHEN new.size > {SPLIT_AT} AND new.frozen = 0 BEGIN "
        f"INSERT INTO {TABLE}({TABLE}, rowid, search_key, nip) "
        f"SELECT 'delete', new.number * {1 << ID_BITS} + id, search_key, nip {moved}; "
        f"INSERT INTO {TABLE}(rowid, search_key, nip) SELECT {number} * {1 << ID_BITS} + id, search_key, nip {moved}; "
        f"INSERT INTO {STRETCH}(lower, number, size, frozen) SELECT {mid}, {number}, "
        f"(SELECT count(*) FROM company WHERE sort_key >= {mid} AND sort_key < {upper}), 0 WHERE {can}; "
        # counted again (the next stretch is the new one when it split); a recursive trigger does not fire
        f"UPDATE {STRETCH} SET size = (SELECT count(*) FROM company WHERE sort_key >= new.lower AND sort_key < {upper}) "
        "WHERE lower = new.lower; "
        f"UPDATE {STRETCH} SET frozen = 1 WHERE lower = new.lower AND size > {SPLIT_AT}; "
        "END")


def create(bind) -> None:
    """The stretches (from the companies there are), the index, its triggers."""
    bind.exec_driver_sql(
        f"CREATE TABLE {STRETCH} (lower TEXT NOT NULL PRIMARY KEY, number INTEGER NOT NULL UNIQUE, "
        "size INTEGER NOT NULL DEFAULT 0, frozen INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID")
    bind.exec_driver_sql(f"INSERT INTO {STRETCH}(lower, number) VALUES ('', 0)")
    half = SPLIT_AT // 2
    bind.exec_driver_sql(
        f"INSERT OR IGNORE INTO {STRETCH}(lower, number) SELECT sort_key, (rn / {half}) * {SPACING} FROM "
        "(SELECT sort_key, row_number() OVER (ORDER BY sort_key, id) - 1 AS rn FROM company) "
        f"WHERE rn % {half} = 0 AND rn > 0")
    bind.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5(search_key, nip, content='', tokenize='trigram case_sensitive 1')")
    bind.exec_driver_sql(
        f"INSERT INTO {TABLE}(rowid, search_key, nip) SELECT {_stretch_of('company.sort_key')} * {1 << ID_BITS} "
        "+ company.id, company.search_key, company.nip FROM company")
    bind.exec_driver_sql(
        f"UPDATE {STRETCH} SET size = (SELECT count(*) FROM company WHERE sort_key >= {STRETCH}.lower AND sort_key < "
        f"coalesce((SELECT min(s.lower) FROM {STRETCH} s WHERE s.lower > {STRETCH}.lower), X'FF'))")
    bind.exec_driver_sql(_split_trigger())
    bind.exec_driver_sql(f"CREATE TRIGGER company_search_insert AFTER INSERT ON company BEGIN {_add('new')} END")
    bind.exec_driver_sql(f"CREATE TRIGGER company_search_delete AFTER DELETE ON company BEGIN {_remove('old')} END")
    bind.exec_driver_sql(
        f"CREATE TRIGGER company_search_update AFTER UPDATE OF sort_key, search_key, nip ON company BEGIN "
        f"{_remove('old')} {_add('new')} END")


def drop(bind) -> None:
    for trigger in TRIGGERS:
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {STRETCH}")


def upgrade() -> None:
    bind = op.get_bind()
    if not _fts5(bind):
        return
    drop(bind)  # 0009's index, keyed by id
    create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if not _fts5(bind):
        return
    drop(bind)
    bind.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5(search_key, nip, content='company', content_rowid='id', "
        "tokenize='trigram case_sensitive 1')")
    bind.exec_driver_sql(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")
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
