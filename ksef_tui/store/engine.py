"""Database engine: SQLite (embedded default, WAL) or PostgreSQL, opened and migrated."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ksef_tui.store.errors import StoreError

DATABASE_ENV = "KSEF_TUI_DATABASE_URL"
APP_NAME = "ksef-tui"


def default_database_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "ksef-tui.sqlite3"


def resolve_database_url(url: str | None = None) -> str:
    if url:
        return url
    env = os.environ.get(DATABASE_ENV)
    if env:
        return env
    return f"sqlite:///{default_database_path()}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via engine
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # up to 64 MiB of page cache (taken only as pages are read; the default is 2 MiB): a serial
    # operation over 100,000 companies rewrites ~30 MiB of table and index pages, 40% faster so
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")  # a serial operation's temporary table of ids
    cur.close()


class Database:
    """An engine plus a session factory. Services receive one of these."""

    def __init__(self, url: str, *, busy_timeout_s: float = 5.0) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout_s, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_name(self) -> str:
        u = make_url(self.url)
        if self.dialect == "sqlite" and u.database:
            return u.database
        return u.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as s:
            try:
                with s.begin():
                    yield s
            except StaleDataError:
                # a versioned row (see models) was changed by someone else since it was read
                from ksef_tui.errors import ConflictError
                from ksef_tui.i18n import _

                raise ConflictError(
                    _("Someone else changed this record since you opened it; reload it and try again.")
                ) from None

    def dispose(self) -> None:
        self.engine.dispose()


def _describe(exc: BaseException, db: Database) -> str:
    msg = str(getattr(exc, "orig", exc)).lower()
    where = db.display_name
    if "locked" in msg or "busy" in msg:
        return f"The database {where} is locked by another program; close it or try again."
    if "not a database" in msg or "malformed" in msg or "file is encrypted" in msg:
        return f"The file {where} is not a ksef-tui database (or it is damaged)."
    if "unable to open" in msg or "permission denied" in msg or "readonly" in msg or "read-only" in msg:
        return f"The database {where} cannot be opened for writing: check the path and its permissions."
    if "password authentication failed" in msg or "could not connect" in msg or "connection refused" in msg:
        return f"Cannot connect to the database {where}: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"
    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"The database {where} cannot be used: {first}"


def open_database(url: str | None = None, *, migrate: bool = True, busy_timeout_s: float | None = None) -> Database:
    """Open (creating if needed) and upgrade the database; raise :class:`StoreError` in plain words."""
    if busy_timeout_s is None:
        try:
            busy_timeout_s = float(os.environ.get("KSEF_TUI_BUSY_TIMEOUT", "5"))
        except ValueError:
            busy_timeout_s = 5.0
    resolved = resolve_database_url(url)
    try:
        parsed = make_url(resolved)
    except Exception:
        raise StoreError(f"Not a database URL: {resolved!r} (e.g. sqlite:///path/ksef.sqlite3)") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder {path.parent}: {exc.strerror}") from None
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(f"The database {path} cannot be opened for writing: check its permissions.")
    try:
        db = Database(resolved, busy_timeout_s=busy_timeout_s)
    except Exception as exc:  # bad driver, bad URL parts
        raise StoreError(f"Cannot open the database {resolved}: {exc}") from None
    try:
        if db.dialect == "sqlite":
            with db.engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
                if str(mode).lower() not in ("wal", "memory"):
                    conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        if migrate:
            from ksef_tui.store.migrate import upgrade_if_needed

            upgrade_if_needed(db)
        else:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        db.dispose()
        raise StoreError(_describe(exc, db)) from None
    return db
