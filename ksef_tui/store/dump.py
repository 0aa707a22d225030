"""Whole-database copies: SQLite online backup, a portable format for any engine, restore.

Backup file formats (recognised by their first bytes on restore):

* **SQLite** (``SQLite format 3``): from a SQLite database, made with SQLite's online
  backup API while the panel may be in use; the file is itself a ksef-tui database.
* **Portable** (gzip of JSON lines): from PostgreSQL (no server tools needed, any server
  version), or from SQLite on request. The first line says ``{"format": "ksef-tui-backup",
  "schema": <revision>, ...}``; then for each table a ``{"table", "columns"}`` line followed
  by its rows as JSON lists (bytes as ``{"$b": base64}``, times as ``{"$t": ISO 8601}``).

Restore reads either format into a scratch SQLite database at the backup's schema, upgrades
that to the newest schema, and copies every row into the target in ONE transaction: a
restore that fails (or is killed) leaves the target as it was. It refuses a target that
holds any rows unless ``force`` is given, and a backup made by a newer ksef-tui.
Secrets in a backup stay sealed with the master key in use when it was made.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import errno
import gzip
import json
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.engine import Connection

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.untrusted import visible
from ksef_tui.i18n import _
from ksef_tui.store.engine import Database, open_database
from ksef_tui.store.errors import StoreError

FORMAT = "ksef-tui-backup"
FORMAT_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
BATCH = 2000
#: the bytes of a batch of restored rows (with many big values, fewer rows per batch)
BATCH_BYTES = 8 * 1024 * 1024
#: a portable backup's line (one row) is never longer: a certificate with its key is a few KiB
MAX_LINE_BYTES = 16 * 1024 * 1024
#: the largest backup file read
MAX_BACKUP_BYTES = 64 * 1024 * 1024 * 1024


def _tables() -> list[Table]:
    """Every application table, parents before children (alembic_version is handled apart)."""
    from sqlmodel import SQLModel

    from ksef_tui.store import models  # noqa: F401  (registers the tables)

    return list(SQLModel.metadata.sorted_tables)


@dataclass(frozen=True)
class DumpInfo:
    path: Path
    format: str  # "sqlite" | "portable"
    schema: str | None
    rows: dict[str, int]
    key_id: str | None  # the master key the secrets are sealed with (None: no secrets yet)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def row_counts(conn: Connection) -> dict[str, int]:
    from sqlalchemy import inspect

    have = set(inspect(conn).get_table_names())
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in _tables() if t.name in have}


def _key_id(conn: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("vault_check"):
        return None
    return conn.execute(text("SELECT key_id FROM vault_check ORDER BY id LIMIT 1")).scalar()


def _schema(conn: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


# ---- backup --------------------------------------------------------------------------------

def backup(db: Database, path: str | os.PathLike, *, portable: bool | None = None) -> DumpInfo:
    """Write a consistent copy of ``db`` to ``path``: a 0600 file that appears whole (renamed over
    ``path`` once complete and synced) or not at all; a failure (a full disk, a kill) leaves nothing
    behind, neither a partial file nor SQLite's journal of it."""
    from ksef_tui.files import FileRefused, private_folder, reason_of

    path = Path(path)
    if portable is None:
        portable = db.dialect != "sqlite"
    if path.is_dir():
        raise StoreError(_("{path} is a folder; give the backup a file name.").format(path=path))
    try:
        private_folder(path.parent, tighten=False)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # 0600
    except FileRefused as exc:
        raise StoreError(str(exc)) from None
    except OSError as exc:
        raise StoreError(_("Cannot write the backup {path}: {reason}.").format(path=path, reason=reason_of(exc))) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if portable:
            info = _backup_portable(db, tmp)
        else:
            info = _backup_sqlite(db, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(_backup_failed(path, exc)) from None
    except sqlite3.Error as exc:
        raise StoreError(_backup_failed(path, exc)) from None
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return DumpInfo(path, info.format, info.schema, info.rows, info.key_id)


def _backup_failed(path: Path, exc: BaseException) -> str:
    from ksef_tui.files import reason_of

    text = str(exc).lower()
    if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "full" in text:
        return _("The disk is full: the backup {path} was not written (nothing was left behind).").format(path=path)
    reason = reason_of(exc) if isinstance(exc, OSError) else _("the copy failed")
    return _("The backup {path} was not written: {reason}.").format(path=path, reason=reason)


def _backup_sqlite(db: Database, dest: Path) -> DumpInfo:
    if db.dialect != "sqlite":
        raise StoreError("A SQLite backup can only be made of a SQLite database; use the portable format.")
    raw = db.engine.raw_connection()
    try:
        target = sqlite3.connect(dest)
        try:
            raw.driver_connection.backup(target)  # online: pages copied under a read snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
    finally:
        raw.close()
    copy = Database(f"sqlite:///{dest}")
    try:
        with copy.engine.connect() as conn:
            return DumpInfo(dest, "sqlite", _schema(conn), row_counts(conn), _key_id(conn))
    finally:
        copy.dispose()


def _utc(v):
    return v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v


def _encode(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:  # SQLite keeps UTC without the offset
            v = v.replace(tzinfo=dt.UTC)
        return {"$t": v.isoformat()}
    return v


def _decode(v):
    if isinstance(v, dict):
        if "$b" in v:
            return base64.b64decode(v["$b"])
        if "$t" in v:
            return dt.datetime.fromisoformat(v["$t"])
    return v


def _backup_portable(db: Database, dest: Path) -> DumpInfo:
    counts: dict[str, int] = {}
    with db.engine.connect() as conn:
        # one snapshot for every table: REPEATABLE READ on PostgreSQL, a read transaction on SQLite
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            conn.exec_driver_sql("BEGIN")
        schema = _schema(conn)
        key_id = _key_id(conn)
        with gzip.open(dest, "wt", encoding="utf-8") as out:
            header = {"format": FORMAT, "format_version": FORMAT_VERSION, "schema": schema,
                      "engine": db.dialect, "key_id": key_id,
                      "created_at": system_clock().isoformat()}
            out.write(json.dumps(header) + "\n")
            for table in _tables():
                cols = [c.name for c in table.columns]
                out.write(json.dumps({"table": table.name, "columns": cols}) + "\n")
                n = 0
                pk = list(table.primary_key.columns)
                result = conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*pk))
                for row in result:
                    out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False) + "\n")
                    n += 1
                counts[table.name] = n
        conn.rollback()
    return DumpInfo(dest, "portable", schema, counts, key_id)


# ---- reading a backup ----------------------------------------------------------------------

def backup_format(path: str | os.PathLike) -> str:
    from ksef_tui.files import FileRefused, open_regular

    try:
        with open_regular(path, limit=MAX_BACKUP_BYTES, what=_("backup")) as f:
            head = f.read(16)
    except FileRefused as exc:
        raise StoreError(str(exc)) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(GZIP_MAGIC):
        return "portable"
    raise StoreError(_("The file {path} is not a ksef-tui backup.").format(path=path))


class DamagedBackup(StoreError):
    """A portable backup that cannot be read; the message names the line."""

    def __init__(self, path: Path, line: int, what: str) -> None:
        self.line = line
        super().__init__(_("The backup {path} is damaged at line {line} ({what}); nothing was restored.").format(
            path=path, line=line, what=what))


def _portable_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The decompressed lines with their numbers; a line over MAX_LINE_BYTES (a crafted file: 400 KB that
    inflate to gigabytes) is refused before it is held in memory."""
    from ksef_tui.files import LineTooLong, NotText, text_lines

    number = 0
    try:
        with gzip.open(path, "rb") as f:
            for number, line in text_lines(f, MAX_LINE_BYTES):
                yield number, line
    except LineTooLong as exc:
        raise DamagedBackup(path, exc.number, _("a line longer than {n} MiB").format(n=MAX_LINE_BYTES >> 20)) from None
    except NotText as exc:
        raise DamagedBackup(path, exc.number, _("not UTF-8 text")) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DamagedBackup(path, number + 1, _("the compressed data ends or is broken")) from exc


def _portable_header(path: Path) -> dict:
    try:
        _n, first = next(_portable_lines(path))
        header = json.loads(first)
    except (StopIteration, ValueError, StoreError):
        raise StoreError(_("The file {path} is not a ksef-tui backup (or it is damaged).").format(path=path)) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StoreError(_("The file {path} is not a ksef-tui backup.").format(path=path))
    try:
        newer = int(header.get("format_version", 0)) > FORMAT_VERSION
    except (TypeError, ValueError):
        raise StoreError(_("The file {path} is not a ksef-tui backup (or it is damaged).").format(path=path)) from None
    if newer:
        raise StoreError(_("The backup {path} was made by a newer ksef-tui; upgrade ksef-tui to restore it.").format(
            path=path))
    return header


def _portable_rows(path: Path, tables: dict[str, Table]) -> Iterator[tuple[int, str, dict]]:
    """(line, table, row as a dict) for every row of a portable backup; anything malformed names its line."""
    lines = _portable_lines(path)
    next(lines, None)
    table: str | None = None
    cols: list[str] = []
    for number, line in lines:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise DamagedBackup(path, number, _("not JSON: {reason}").format(reason=getattr(exc, "msg", exc))) from None
        if isinstance(item, dict):
            name, columns = item.get("table"), item.get("columns")
            if name not in tables:
                raise DamagedBackup(path, number, _("an unknown table {name}").format(name=visible(str(name)[:60])))
            known = {c.name for c in tables[name].columns}
            if not isinstance(columns, list) or not all(isinstance(c, str) and c in known for c in columns):
                raise DamagedBackup(path, number, _("unknown columns of table {name}").format(name=name))
            table, cols = name, columns
            continue
        if table is None or not isinstance(item, list):
            raise DamagedBackup(path, number, _("a row outside any table"))
        if len(item) != len(cols):
            raise DamagedBackup(path, number, _("{n} values for {m} columns").format(n=len(item), m=len(cols)))
        try:
            values = [_decode(v) for v in item]
        except (ValueError, TypeError, binascii.Error):
            raise DamagedBackup(path, number, _("a value that cannot be read")) from None
        yield number, table, dict(zip(cols, values, strict=True))


def _check_schema(schema: str | None, path: Path) -> None:
    from ksef_tui.store.migrate import known_revisions

    if schema is None:
        raise StoreError(f"The backup {path} holds no ksef-tui schema.")
    if schema not in known_revisions():
        raise StoreError(
            f"The backup {path} was made by a newer ksef-tui (schema {schema}); upgrade ksef-tui to restore it.")


def _staged_copy(path: Path, workdir: Path) -> tuple[Database, str]:
    """The backup as a SQLite database at the newest schema (a scratch copy; the file is untouched)."""
    from ksef_tui.store.migrate import upgrade_to

    kind = backup_format(path)
    scratch = workdir / "restore.sqlite3"
    if kind == "sqlite":
        from urllib.parse import quote

        try:
            src = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
            try:
                dst = sqlite3.connect(scratch)
                src.backup(dst)
                dst.close()
            finally:
                src.close()
        except sqlite3.DatabaseError:
            raise StoreError(_("The file {path} is not a ksef-tui backup (or it is damaged); nothing was "
                               "restored.").format(path=path)) from None
        probe = Database(f"sqlite:///{scratch}")
        try:
            with probe.engine.connect() as conn:
                schema = _schema(conn)
        finally:
            probe.dispose()
        _check_schema(schema, path)
    else:
        header = _portable_header(path)
        schema = header.get("schema")
        _check_schema(schema, path)
        stage = open_database(f"sqlite:///{scratch}", migrate=False)
        try:
            upgrade_to(stage, schema)
            tables = {t.name: t for t in _tables()}
            with stage.engine.begin() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                _drop_audit_guard(conn, "sqlite")
                batch: list[tuple[int, dict]] = []
                size = 0
                current: str | None = None
                for number, name, row in _portable_rows(path, tables):
                    if batch and (name != current or len(batch) >= BATCH or size >= BATCH_BYTES):
                        _insert_rows(conn, tables[current], batch, path)  # type: ignore[index]
                        batch, size = [], 0
                    current = name
                    batch.append((number, row))
                    size += len(row)  # bounded by the line cap; the count keeps batches small
                if batch:
                    _insert_rows(conn, tables[current], batch, path)  # type: ignore[index]
                _restore_audit_guard(conn, "sqlite")
        finally:
            stage.dispose()
    staged = open_database(f"sqlite:///{scratch}")  # upgrades an older backup to the newest schema
    assert schema is not None  # a backup always names its schema (checked when it was opened)
    return staged, schema


def _insert_rows(conn: Connection, table: Table, batch: list[tuple[int, dict]], path: Path) -> None:
    """Insert a batch of a portable backup's rows; a row the schema refuses (a duplicate, a missing
    value, a wrong type) is found again one by one, so that the message names its line."""
    from sqlalchemy.exc import StatementError

    try:
        with conn.begin_nested():
            conn.execute(insert(table), [row for _n, row in batch])
        return
    except (StatementError, StoreError):
        pass
    for number, row in batch:
        try:
            with conn.begin_nested():
                conn.execute(insert(table), [row])
        except (StatementError, StoreError) as exc:
            text = str(getattr(exc, "orig", exc)).lower()
            what = (_("a row that is already there") if "unique" in text else
                    _("a row another one needs is missing") if "foreign key" in text else
                    _("a value is missing") if "not null" in text else
                    _("a value of the wrong kind"))
            raise DamagedBackup(path, number, what) from None


# ---- restore -------------------------------------------------------------------------------

_SQLITE_GUARDS = ("UPDATE", "DELETE")


def _drop_audit_guard(conn: Connection, dialect: str) -> None:
    if dialect == "sqlite":
        for verb in _SQLITE_GUARDS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_entry_no_{verb.lower()}")


def _restore_audit_guard(conn: Connection, dialect: str) -> None:
    if dialect == "sqlite":
        for verb in _SQLITE_GUARDS:
            conn.exec_driver_sql(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


def reset_sequences(conn: Connection) -> None:
    """After rows were written with their ids: PostgreSQL's id sequences continue above them."""
    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy import inspect

    have = set(inspect(conn).get_table_names())
    for table in _tables():
        if table.name not in have:
            continue
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement is not False and pk[0].type.python_type is int:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": pk[0].name}).scalar()
            if seq:
                conn.execute(text(
                    f'SELECT setval(:s, COALESCE((SELECT MAX("{pk[0].name}") FROM "{table.name}"), 0) + 1, false)'),
                    {"s": seq})


@dataclass(frozen=True)
class RestoreInfo:
    source: DumpInfo
    replaced: dict[str, int]  # rows the target held before (only with force)


def restore(db: Database, path: str | os.PathLike, *, force: bool = False) -> RestoreInfo:
    """Replace the contents of ``db`` (at the newest schema) with the backup at ``path``."""
    from ksef_tui.store.migrate import HEAD, current_revision

    path = Path(path)
    if current_revision(db) != HEAD:
        raise StoreError(f"The database {db.display_name} is not at the newest schema; open it once first.")
    with db.engine.connect() as conn:
        before = row_counts(conn)
    if any(before.values()) and not force:
        raise StoreError(
            f"The database {db.display_name} is not empty ({sum(before.values())} rows); "
            "restoring would replace them: add --force to do it.")
    from ksef_tui.files import scratch_folder

    # the scratch copy lives in the data folder (0700), not the system's temporary folder; what a killed
    # restore leaves there is removed at the next start
    workdir = scratch_folder("restore")
    try:
        staged, schema = _staged_copy(path, workdir)
        try:
            with staged.engine.connect() as src:
                counts = row_counts(src)
                key_id = _key_id(src)
                with db.engine.begin() as dst:
                    if db.dialect == "sqlite":
                        dst.exec_driver_sql("BEGIN IMMEDIATE")
                    replaced = row_counts(dst)
                    if any(replaced.values()) and not force:
                        raise StoreError(f"The database {db.display_name} is no longer empty; nothing was restored.")
                    tables = _tables()
                    if db.dialect == "postgresql":
                        names = ", ".join(f'"{t.name}"' for t in tables)
                        dst.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")  # no row triggers fire
                    else:
                        _drop_audit_guard(dst, "sqlite")
                        for t in reversed(tables):
                            dst.execute(delete(t))
                    for t in tables:
                        batch: list[dict] = []
                        for row in src.execution_options(yield_per=BATCH).execute(
                                select(t).order_by(*t.primary_key.columns)).mappings():
                            batch.append({k: _utc(v) for k, v in row.items()})
                            if len(batch) >= BATCH:
                                dst.execute(insert(t), batch)
                                batch = []
                        if batch:
                            dst.execute(insert(t), batch)
                    if db.dialect == "sqlite":
                        _restore_audit_guard(dst, "sqlite")
                    reset_sequences(dst)
        finally:
            staged.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RestoreInfo(DumpInfo(path, backup_format(path), schema, counts, key_id),
                       {k: v for k, v in replaced.items() if v})
