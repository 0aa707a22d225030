"""Many ids in one statement: the rows a serial operation works on (up to a million), told to the
database in a few steps instead of one parameter (or one round trip) per id.

A selection is kept as runs of consecutive ids (:func:`id_runs`): select all over a list whose
companies were added one after another is a handful of runs however many ids it holds, and the
database reads each run as one range of its primary key instead of looking up every id.

- :func:`chosen_table`: a temporary table (this connection only) of the chosen runs, cut into pieces
  of at most a chunk each (:func:`run_pieces`); a serial operation joins it chunk by chunk
  (``id BETWEEN lo AND hi``);
- :func:`fill_chosen`: fills it (SQLite: one JSON array read by ``json_each``; PostgreSQL: COPY),
  and :func:`seen_table` the versions the user saw (a page or two of rows);
- :func:`runs_join`: the chosen rows of a table as one join with the runs given as one parameter
  (SQLite), for a count over a whole selection (a serial operation's preview).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, islice
from operator import lt, sub
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, func

#: ids per statement where the database cannot take them as one parameter
IDS_PER_STATEMENT = 5_000

Run = tuple[int, int]


def sorted_ids(ids: Iterable[int]) -> list[int]:
    """``ids`` as a sorted list of distinct ints. A set, or a list already sorted, of plain ints (a
    serial operation's million ids, as the panel hands them over) is checked and sorted by C loops
    instead of being converted id by id."""
    if isinstance(ids, (set, frozenset, list)) and set(map(type, ids)) <= {int}:
        if isinstance(ids, list):
            if all(map(lt, ids, islice(ids, 1, None))):
                return ids
            return sorted(set(ids))
        return sorted(ids)
    return sorted(set(map(int, ids)))


#: a selection with more runs than its ids divided by this (a scattered one) is told id by id: its runs
#: would cost more to make and read than the ids themselves
SCATTERED = 4


def id_runs(ids: Sequence[int], limit: int | None = None) -> list[Run] | None:
    """``ids`` (sorted, distinct) as maximal runs of consecutive ids, ``(first, last)`` each, in order;
    None when there would be more than ``limit`` of them. The scan is done by the interpreter's C loops
    (``map``, ``compress``): a million ids in ~0.05 s."""
    n = len(ids)
    if not n:
        return []
    # where the next id is not this one plus one, a run ends
    starts = [0, *compress(range(1, n), map((1).__ne__, map(sub, islice(ids, 1, None), ids)))]
    if limit is not None and len(starts) > limit:
        return None
    ends = [*(s - 1 for s in islice(starts, 1, None)), n - 1]
    return list(zip(map(ids.__getitem__, starts), map(ids.__getitem__, ends), strict=True))


def dense_runs(ids: Sequence[int]) -> list[Run] | None:
    """The runs of ``ids`` when they are few enough to be worth it (see :data:`SCATTERED`), else None."""
    return id_runs(ids, limit=max(1, len(ids) // SCATTERED))


def run_pieces(runs: Sequence[Run], size: int) -> tuple[list[Run], list[tuple[int, int, int]]]:
    """``runs`` cut where a chunk of ``size`` ids ends: the pieces in order, and each chunk as (its first
    piece, its last piece, how many ids up to its end)."""
    pieces: list[Run] = []
    chunks: list[tuple[int, int, int]] = []
    first = done = 0
    room = size
    for lo, hi in runs:
        while hi - lo + 1 >= room:  # this run fills the chunk
            pieces.append((lo, lo + room - 1))
            done += room
            chunks.append((first, len(pieces) - 1, done))
            first = len(pieces)
            lo += room
            room = size
            if lo > hi:
                break
        else:
            pieces.append((lo, hi))
            room -= hi - lo + 1
            done += hi - lo + 1
    if first < len(pieces):
        chunks.append((first, len(pieces) - 1, done))
    return pieces, chunks


def _temporary(conn: Any, name: str, *columns: Column) -> Table:
    table = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")  # left on this pooled connection by a crash
    table.create(conn)
    return table


def chosen_table(conn: Any) -> Table:
    """A temporary table ``serial_chosen (seq, lo, hi)``: the pieces of the chosen runs, in order."""
    return _temporary(conn, "serial_chosen", Column("seq", Integer, primary_key=True, autoincrement=False),
                      Column("lo", Integer, nullable=False), Column("hi", Integer, nullable=False))


def seen_table(conn: Any) -> Table:
    """A temporary table ``serial_seen (id, expected)``: the versions the user saw of chosen rows."""
    return _temporary(conn, "serial_seen", Column("id", Integer, primary_key=True, autoincrement=False),
                      Column("expected", Integer, nullable=False))


def fill_chosen(conn: Any, table: Table, pieces: Sequence[Run], ids: Sequence[int] | None = None) -> None:
    """``pieces`` (from :func:`run_pieces`) into ``table`` as (position, first id, last id); or, given
    ``ids`` instead (a scattered selection), one piece per id."""
    if not pieces and not ids:
        return
    name = table.name
    if conn.dialect.name == "postgresql":
        # COPY: 100,000 rows in about a sixth of an executemany's time; ANALYZE so the planner
        # knows the temporary table's size
        with conn.connection.dbapi_connection.cursor() as cur, \
                cur.copy(f"COPY {name} (seq, lo, hi) FROM STDIN") as copy:
            for seq, (lo, hi) in enumerate(pieces or ((cid, cid) for cid in ids or ())):
                copy.write_row((seq, lo, hi))
        conn.exec_driver_sql(f"ANALYZE {name}")
        return
    if pieces:
        conn.exec_driver_sql(f"INSERT INTO {name} (seq, lo, hi) SELECT key, json_extract(value, '$[0]'), "
                             "json_extract(value, '$[1]') FROM json_each(?)", (json.dumps(pieces),))
    else:
        conn.exec_driver_sql(f"INSERT INTO {name} (seq, lo, hi) SELECT key, value, value FROM json_each(?)",
                             (json.dumps(ids),))


def single_chunks(n: int, size: int) -> list[tuple[int, int, int]]:
    """Chunks of ``size`` over ``n`` pieces of one id each, as :func:`run_pieces` gives them."""
    return [(start, min(start + size, n) - 1, min(start + size, n)) for start in range(0, n, size)]


def fill_seen(conn: Any, table: Table, ids: Sequence[int], expected: Mapping[int, int]) -> int:
    """The versions in ``expected`` of the ids among ``ids`` (sorted, found by bisection); how many."""
    rows = [{"id": cid, "expected": version} for cid, version in expected.items()
            if (at := bisect_left(ids, cid)) < len(ids) and ids[at] == cid]
    if rows:
        conn.execute(table.insert(), rows)
    return len(rows)


def runs_join(conn: Any, id_col: Any, ids: Sequence[int]) -> tuple[Any, dict[str, str]] | None:
    """The rows of ``id_col``'s table whose id is in ``ids`` (sorted, distinct), as one join with their
    runs as one parameter (a JSON array) where the database takes it (SQLite): each run is read as a
    range of the primary key (a scattered selection: each id). None elsewhere (the caller goes :data:`IDS_PER_STATEMENT` ids at a time)."""
    if conn.dialect.name != "sqlite":
        return None
    runs = dense_runs(ids)
    values = func.json_each(bindparam("chosen")).table_valued("value")
    if runs is None:  # scattered: id by id
        return values.join(id_col.table, id_col == values.c.value), {"chosen": json.dumps(ids)}
    lo, hi = (func.json_extract(values.c.value, f"$[{i}]") for i in (0, 1))
    return values.join(id_col.table, id_col.between(lo, hi)), {"chosen": json.dumps(runs)}
