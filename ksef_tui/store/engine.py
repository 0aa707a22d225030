"""Database engine: SQLite (embedded default, WAL) or PostgreSQL, opened and migrated."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ksef_tui.i18n import _
from ksef_tui.settings import DATABASE_ENV as DATABASE_ENV
from ksef_tui.settings import get_settings
from ksef_tui.store.errors import StoreError


def default_database_path() -> Path:
    return get_settings().paths.default_database


def resolve_database_url(url: str | None = None) -> str:
    """``url``, or the settings' (``KSEF_TUI_DATABASE_URL``, the settings file, or SQLite in the data folder)."""
    return url or get_settings().database_url


#: SQLite's default: a commit that leaves the WAL over this many pages copies them into the database
AUTOCHECKPOINT = 1000


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
        # errors never carry the statement's values (names, sealed secrets) into a message or a log
        kwargs: dict = {"hide_parameters": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout_s, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "handle_error", self._handle_error)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _handle_error(self, context) -> None:
        """Every database failure becomes a :class:`StoreError` saying what happened in the user's terms
        (locked, full, damaged, a NUL, a value too long) and naming a log entry with the details; a
        unique-constraint violation is left to the service that knows what it means."""
        from sqlalchemy.exc import IntegrityError

        from ksef_tui.store.faults import translate

        if isinstance(context.sqlalchemy_exception, IntegrityError):
            return
        if "interrupted" in str(context.original_exception).lower() and self.dialect == "sqlite":
            # stopped by :func:`cancellable` (its caller no longer wants the answer): not a fault
            from ksef_tui.errors import OperationCancelled

            raise OperationCancelled(_("Cancelled.")) from None
        error = translate(context.sqlalchemy_exception or context.original_exception, self.display_name, self.url)
        if error is not None:
            raise error

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

    def defer_checkpoint(self, session: Session) -> None:
        """For one large write in ``session`` (a serial operation over up to a million rows), SQLite's
        copy of the written pages from the WAL into the database (its automatic checkpoint, ~2 s
        after a serial operation over 1,000,000 companies) is not done inside the commit the user
        waits for, but just after it, in a background thread (a PASSIVE checkpoint: it never blocks
        a reader or a writer; if the process ends first, the next one does it)."""
        if self.dialect != "sqlite":
            return
        raw: Any = session.connection().connection.dbapi_connection
        raw.execute("PRAGMA wal_autocheckpoint=0")

        def restore(_session: Session) -> None:  # before the connection goes back to the pool
            raw.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}")

        def committed(session: Session) -> None:
            restore(session)
            import threading

            threading.Thread(target=self._checkpoint, name="ksef-tui checkpoint", daemon=True).start()

        event.listen(session, "after_commit", committed, once=True)
        event.listen(session, "after_rollback", restore, once=True)

    def _checkpoint(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the database closed meanwhile: the next commit or start checkpoints it
            pass

    def dispose(self) -> None:
        self.engine.dispose()


#: steps of SQLite's virtual machine between two looks at a query's ``should_cancel`` (about a millisecond)
CANCEL_STEPS = 10_000


@contextlib.contextmanager
def cancellable(conn: Connection, should_cancel: Callable[[], bool] | None) -> Iterator[None]:
    """Statements run inside stop soon after ``should_cancel()`` says so, raising
    :class:`~ksef_tui.errors.OperationCancelled` (SQLite: checked every few thousand steps of the
    query, so a filter typed on does not wait for the scan it made stale; elsewhere they run on)."""
    if should_cancel is not None and should_cancel():
        from ksef_tui.errors import OperationCancelled

        raise OperationCancelled(_("Cancelled."))
    if should_cancel is None or conn.dialect.name != "sqlite":
        yield
        return
    raw: Any = conn.connection.dbapi_connection
    raw.set_progress_handler(lambda: 1 if should_cancel() else 0, CANCEL_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def open_database(url: str | None = None, *, migrate: bool = True, busy_timeout_s: float | None = None,
                  create: bool = True) -> Database:
    """Open and upgrade the database; raise :class:`StoreError` in plain words.

    A SQLite file is created (mode 0600, in a 0700 folder when the folder is ours) only with
    ``create``: read-only commands never create a database. An existing file that is empty (0 bytes),
    not a regular file or not a SQLite database is refused, never replaced or silently initialised."""
    if busy_timeout_s is None:
        try:
            busy_timeout_s = float(os.environ.get("KSEF_TUI_BUSY_TIMEOUT", "5"))
        except ValueError:
            busy_timeout_s = 5.0
    resolved = resolve_database_url(url)
    try:
        parsed = make_url(resolved)
    except Exception:
        raise StoreError(_("Not a database URL: {url} (e.g. sqlite:///path/ksef.sqlite3).").format(
            url=_without_password(resolved))) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _prepare_sqlite_file(Path(parsed.database), create=create)
    try:
        db = Database(resolved, busy_timeout_s=busy_timeout_s)
    except Exception as exc:  # bad driver, bad URL parts: never the URL's password, never driver text
        from ksef_tui.store.faults import log_fault

        ref = log_fault(exc, "opening the database")
        raise StoreError(_("Cannot open the database {where}: the URL names an unknown driver or is not "
                           "valid (log entry {ref}).").format(where=parsed.render_as_string(hide_password=True),
                                                              ref=ref)) from None
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
        from ksef_tui.store.faults import describe

        raise StoreError(describe(exc, db.display_name, db.url)) from None
    except BaseException:
        db.dispose()
        raise
    return db


def _without_password(url: str) -> str:
    """A URL to show: the password (``user:PASSWORD@``) replaced by ``***`` even when it does not parse."""
    import re

    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    from ksef_tui.files import FileRefused, create_private, data_folder, private_folder

    ours = path.parent.resolve() == data_folder().resolve()
    if ours and path.parent.exists():
        try:
            private_folder(path.parent)  # our folder, made too open (by an older version): 0700 again
        except FileRefused:
            pass
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        from ksef_tui.files import reason_of

        raise StoreError(_("The database {path} cannot be opened: {reason}.").format(
            path=path, reason=reason_of(exc))) from None
    if st is None:
        if not create:
            raise StoreError(_("There is no database at {path}; nothing was created (ksef-tui creates it when "
                               "the panel first opens).").format(path=path))
        try:
            private_folder(path.parent, tighten=ours)
            create_private(path)  # 0600 before SQLite opens it: its WAL and SHM files get the same mode
        except FileRefused as exc:
            raise StoreError(str(exc)) from None
        except OSError as exc:
            from ksef_tui.files import reason_of

            raise StoreError(_("Cannot create the database {path}: {reason}.").format(
                path=path, reason=reason_of(exc))) from None
        return
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(_("The database {path} is not a regular file; give the path of a database file.").format(
            path=path))
    if st.st_size == 0:
        raise StoreError(_("The database file {path} is empty (0 bytes), so it is not a ksef-tui database; it was "
                           "left as it is. Remove it to start a new database, or restore a backup into a new "
                           "path.").format(path=path))
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(_("The database {path} cannot be opened for writing: check its permissions.").format(
            path=path))
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        head = b""
    if head != b"SQLite format 3\x00":
        raise StoreError(_("The file {path} is not a ksef-tui database (or it is damaged); it was left as it "
                           "is.").format(path=path))
