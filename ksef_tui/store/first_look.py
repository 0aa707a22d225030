"""A first look at a SQLite database with the standard library's ``sqlite3`` (read-only, no SQLAlchemy):
what the panel's first frame shows, read while Python still imports Textual at start-up.

It answers only for a database it can vouch for: a plain SQLite file (``sqlite:///path``) that the
normal opening would accept as it is, already at the newest schema (:data:`~ksef_tui.store.revision.HEAD`).
Everything else (PostgreSQL, a URL with options, no file yet, an older or newer schema, a file that is
not readable and writable, any fault) gets None, and start-up takes the normal path (create, migrate,
report). The normal opening (engine, migrations check, vault check) follows in any case.

The queries say what :class:`~ksef_tui.services.companies.CompanyService` ``count`` and ``page`` say
for the unfiltered list, and :func:`~ksef_tui.services.ksef.offline.offline_ready` for its rows; a
test compares the answers (tests/store/test_first_look.py)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ksef_tui.domain.certificate_types import DEAD_STATUSES, OFFLINE
from ksef_tui.store.revision import HEAD

#: the URL schemes of SQLite through Python's own driver, as SQLAlchemy spells them
SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
#: how long a read waits for a lock (a writer in rollback-journal mode) before it gives up
BUSY_TIMEOUT_S = 0.5

#: (id, name, nip, ksef_enabled, version): a company as the list shows it
RawRow = tuple[int, str, str, bool, int]


@dataclass(frozen=True)
class FirstLook:
    """A database at the newest schema: whether someone must log in first (then nothing else is
    read), else the companies' count, the first ``limit`` of them in the list's order, and where
    each of those is offline-ready (company id, environment)."""

    login_required: bool
    count: int = 0
    rows: tuple[RawRow, ...] = ()
    offline: tuple[tuple[int, str], ...] = ()


def sqlite_file(url: str) -> Path | None:
    """The file a plain SQLite URL names (``sqlite:///relative``, ``sqlite:////absolute``), or None for
    anything else (another database, in memory, query options, escapes only SQLAlchemy decodes)."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme not in SQLITE_SCHEMES or not rest or rest == ":memory:" or any(c in rest for c in "?#%"):
        return None
    return Path(rest)


def _openable(path: Path) -> bool:
    """What :func:`ksef_tui.store.engine.open_database` accepts without a word: a regular, non-empty,
    readable and writable SQLite file."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or not os.access(path, os.R_OK | os.W_OK):
            return False
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _timestamp(at: dt.datetime) -> str:
    """``at`` as the models' aware DateTime columns are written into SQLite (and so compared): in UTC,
    its fields without an offset."""
    if at.utcoffset() is None:
        raise ValueError("an aware time is needed")
    at = at.astimezone(dt.UTC)
    return (f"{at.year:04d}-{at.month:02d}-{at.day:02d} "
            f"{at.hour:02d}:{at.minute:02d}:{at.second:02d}.{at.microsecond:06d}")


def first_look(url: str, *, limit: int, now: dt.datetime) -> FirstLook | None:
    """The first frame's facts from the SQLite database at ``url`` (one read transaction), or None when
    this look cannot vouch for them."""
    path = sqlite_file(url)
    if path is None or not _openable(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None)
    except (sqlite3.Error, OSError):
        return None
    try:
        conn.execute("BEGIN")  # one snapshot: the count and the page agree
        if conn.execute("SELECT version_num FROM alembic_version").fetchall() != [(HEAD,)]:
            return None
        if conn.execute("SELECT EXISTS (SELECT 1 FROM user_account WHERE password_hash IS NOT NULL)").fetchone()[0]:
            return FirstLook(login_required=True)  # nothing of the panel before someone logs in
        count = int(conn.execute("SELECT count(*) FROM company").fetchone()[0])
        rows = tuple((int(i), name, nip, bool(on), int(version)) for i, name, nip, on, version in conn.execute(
            "SELECT id, name, nip, ksef_enabled, version FROM company ORDER BY sort_key, id LIMIT ?", (limit,)))
        ids = [r[0] for r in rows]
        offline: tuple[tuple[int, str], ...] = ()
        if ids:
            marks = ", ".join("?" * len(ids))
            dead = ", ".join("?" * len(DEAD_STATUSES))
            offline = tuple(conn.execute(
                "SELECT DISTINCT k.company_id, k.environment FROM ksef_certificate AS k "
                "JOIN membership AS m ON m.user_id = k.user_id AND m.company_id = k.company_id "
                f"WHERE k.company_id IN ({marks}) AND k.certificate_type = ? "
                f"AND (k.status IS NULL OR k.status NOT IN ({dead})) AND (k.valid_to IS NULL OR k.valid_to > ?)",
                (*ids, OFFLINE, *DEAD_STATUSES, _timestamp(now))))
        return FirstLook(login_required=False, count=count, rows=rows, offline=offline)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
