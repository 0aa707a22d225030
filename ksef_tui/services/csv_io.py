"""CSV import (all or nothing, every bad row named by line and column) and export.

An import streams: the file is read line by line and written in batches inside ONE transaction, so
memory does not grow with the file (1,000,000 companies: see benchmarks/bench_import). A row is
checked as it is read; a NIP (or login) met twice, or already in the database, is found by the
database's unique index as the batch goes in (``ON CONFLICT DO NOTHING``). Any problem anywhere
rolls the whole transaction back: nothing is imported. Control characters in a field are refused
with the line and column named (they would reach a terminal as escape sequences); a field over the
CSV limit (131,072 characters), a line that is not UTF-8 or holds a NUL is named too.

Every exported cell goes through :func:`ksef_tui.domain.untrusted.csv_cell` (formulas quoted,
control characters made visible).
"""

from __future__ import annotations

import bisect
import csv
import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from sqlalchemy import insert, select

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.nip import InvalidNip, normalize_nip
from ksef_tui.domain.untrusted import csv_cell
from ksef_tui.errors import ImportFailed, ImportProblem
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.companies import CompanyInput, clean_company
from ksef_tui.services.users import UserInput, clean_user
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, Membership, User

COMPANY_REQUIRED = ("name", "nip")
COMPANY_OPTIONAL = ("regon", "address", "ksef_enabled", "notes")
USER_REQUIRED = ("login", "full_name", "email", "role", "companies")
USER_OPTIONAL = ("active", "may_configure_ksef")
TRUE = {"true", "1", "yes", "tak", "t", "y"}
FALSE = {"false", "0", "no", "nie", "f", "n", ""}
#: rows written per statement
BATCH = 2000
#: problems kept (and named) at most; the count of the rest is told
MAX_PROBLEMS = 1000
#: a line longer than this (in bytes) is refused unread: six fields at the CSV limit fit
MAX_LINE_BYTES = 4 * 1024 * 1024
#: Python's csv module refuses a longer field
FIELD_LIMIT = csv.field_size_limit()


@dataclass(frozen=True)
class ImportResult:
    created: int


def _bool(value: str) -> bool | None:
    v = (value or "").strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    return None


class _Problems:
    """The problems of one import, kept in line order, at most :data:`MAX_PROBLEMS` of them."""

    def __init__(self) -> None:
        self.items: list[ImportProblem] = []
        self.more = 0

    def add(self, line: int, column: str, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(ImportProblem(line, column, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=lambda p: p.line)
        if self.more:
            items.append(ImportProblem(items[-1].line, "-", _("and {n} more problems").format(n=self.more)))
        raise ImportFailed(items)


def _lines(source: BinaryIO) -> Iterator[str]:
    """The file's lines as text, one at a time; a line that is not UTF-8 or far too long is named."""
    from ksef_tui.files import LineTooLong, NotText, text_lines

    try:
        for _number, line in text_lines(source, MAX_LINE_BYTES):
            yield line
    except LineTooLong as exc:
        raise ImportFailed([ImportProblem(exc.number, "-", _(
            "The line is longer than {n} bytes; is this a CSV file?").format(n=MAX_LINE_BYTES))]) from None
    except NotText as exc:
        raise ImportFailed([ImportProblem(exc.number, "-", _(
            "The file is not UTF-8 text (line {line}); save it as CSV UTF-8.").format(line=exc.number))]) from None


class _Rows:
    """CSV records with their line numbers; the delimiter (``,`` or ``;``) is taken from the header."""

    def __init__(self, source: BinaryIO) -> None:
        lines = _lines(source)
        first = next(lines, None)
        if first is None:
            raise ImportFailed([ImportProblem(1, "-", _("The file is empty."))])
        delimiter = ";" if first.count(";") > first.count(",") else ","

        def chained() -> Iterator[str]:
            yield first
            yield from lines

        self.reader = csv.reader(chained(), delimiter=delimiter, strict=False)

    @property
    def line(self) -> int:
        return self.reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self.reader)
        except csv.Error as exc:
            line = self.reader.line_num or 1
            text = str(exc)
            if "field larger than field limit" in text:
                message = _("A field is longer than {n} characters.").format(n=f"{FIELD_LIMIT:,}")
            elif "NUL" in text:
                message = _("The line holds a NUL character; is this a CSV file?")
            else:
                message = _("The line is not valid CSV ({reason}).").format(reason=text)
            raise ImportFailed([ImportProblem(line, "-", message)]) from None


def _header(rows: _Rows, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        raise ImportFailed([ImportProblem(1, "-", _("The file is empty."))]) from None
    problems = []
    for col in required:
        if col not in header:
            problems.append(ImportProblem(1, col, _("missing column {col}").format(col=col)))
    for col in header:
        if col not in required and col not in optional:
            problems.append(ImportProblem(1, col, _("unknown column {col}").format(col=col)))
    if len(set(header)) != len(header):
        problems.append(ImportProblem(1, "-", _("a column is named twice")))
    if problems:
        raise ImportFailed(problems)
    return header


def _records(rows: _Rows, header: list[str], problems: _Problems) -> Iterator[tuple[int, dict[str, str]]]:
    """The records after the header; a line that cannot be read ends the file (with the problems so far)."""
    first = rows.line + 1
    try:
        for row in rows:
            line, first = first, rows.line + 1  # a quoted field may span lines: the record starts at ``line``
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                problems.add(line, "-", _("expected {n} fields, found {m}").format(n=len(header), m=len(row)))
                continue
            yield line, dict(zip(header, row, strict=False))
    except ImportFailed as exc:
        for p in exc.problems:
            problems.add(p.line, p.column, p.message)


def _source(data: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data


def _conflict_insert(db: Database, table: Any, key: str) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING for the database in use."""
    if db.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # the same API on both
    return insert(table).on_conflict_do_nothing(index_elements=[key])


def _writer(out: IO[str], header: list[str]) -> Any:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    return w


class _Inserted:
    """Which line each imported row came from (two compact arrays, ids increasing)."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.lines = array("q")

    def add(self, pairs: list[tuple[int, int]]) -> None:
        for row_id, line in sorted(pairs):
            self.ids.append(row_id)
            self.lines.append(line)

    def line_of(self, row_id: int) -> int | None:
        i = bisect.bisect_left(self.ids, row_id)
        return self.lines[i] if i < len(self.ids) and self.ids[i] == row_id else None


class CsvService:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    # ---- companies -------------------------------------------------------------
    def import_companies(self, actor: Actor, data: bytes | BinaryIO) -> ImportResult:
        """Import companies from CSV ``data`` (bytes, or a binary file read as a stream): all or nothing."""
        require_admin(actor)
        rows = _Rows(_source(data))
        header = _header(rows, COMPANY_REQUIRED, COMPANY_OPTIONAL)
        problems = _Problems()
        inserted = _Inserted()
        created = 0
        now = self.clock()
        stmt = _conflict_insert(self.db, Company, "nip").returning(Company.id, Company.nip)
        with self.db.session() as s:
            batch: dict[str, tuple[int, dict]] = {}

            def flush() -> None:
                nonlocal created
                if not batch:
                    return
                values = [vals for _line, vals in batch.values()]
                got = {nip: cid for cid, nip in s.execute(stmt, values)}
                inserted.add([(cid, batch[nip][0]) for nip, cid in got.items()])
                taken = [nip for nip in batch if nip not in got]
                if taken:
                    for cid, nip in s.execute(select(Company.id, Company.nip).where(Company.nip.in_(taken))):
                        other = inserted.line_of(cid)
                        line = batch[nip][0]
                        if other is not None:
                            problems.add(line, "nip", _("NIP {nip} is also on line {other}").format(nip=nip, other=other))
                        else:
                            problems.add(line, "nip", _("A company with NIP {nip} already exists.").format(nip=nip))
                if not problems:
                    audit.record(s, (audit.audit_values(actor, "company.import", "company", got[nip], vals["name"], None,
                                                        {"nip": nip, "ksef_enabled": vals["ksef_enabled"]}, at=now)
                                     for nip, (_line, vals) in batch.items() if nip in got))
                created += len(got)
                batch.clear()

            for line, rec in _records(rows, header, problems):
                enabled = _bool(rec.get("ksef_enabled", ""))
                if enabled is None:
                    problems.add(line, "ksef_enabled", _("use true or false"))
                    enabled = False
                values, errors = clean_company(CompanyInput(
                    name=rec["name"], nip=rec["nip"], regon=rec.get("regon"), address=rec.get("address"),
                    ksef_enabled=enabled, notes=rec.get("notes"),
                ))
                for field, msg in errors.items():
                    problems.add(line, field, msg)
                if errors:
                    continue
                nip = values["nip"]
                if nip in batch:
                    problems.add(line, "nip", _("NIP {nip} is also on line {other}").format(nip=nip, other=batch[nip][0]))
                    continue
                batch[nip] = (line, values | {"created_at": now, "updated_at": now, "version": 1})
                if len(batch) >= BATCH:
                    flush()
            flush()
            problems.raise_if_any()  # rolls the transaction back: nothing was imported
        return ImportResult(created=created)

    def export_companies(self, actor: Actor, out: IO[str]) -> int:
        require_admin(actor)
        w = _writer(out, ["name", "nip", "ksef_enabled", "regon", "address", "notes"])
        n = 0
        q = select(Company.name, Company.nip, Company.ksef_enabled, Company.regon, Company.address, Company.notes).order_by(Company.sort_key, Company.id)
        with self.db.engine.connect() as conn:
            for name, nip, en, regon, address, notes in conn.execution_options(yield_per=2000).execute(q):
                w.writerow([csv_cell(v) for v in (name, nip, "true" if en else "false", regon or "", address or "", notes or "")])
                n += 1
        return n

    # ---- users -----------------------------------------------------------------
    def import_users(self, actor: Actor, data: bytes | BinaryIO) -> ImportResult:
        """Import users (with their companies by NIP) from CSV ``data``: all or nothing."""
        require_admin(actor)
        rows = _Rows(_source(data))
        header = _header(rows, USER_REQUIRED, USER_OPTIONAL)
        problems = _Problems()
        seen: dict[str, int] = {}  # lower-case login -> line (users are few: thousands, not millions)
        created = 0
        now = self.clock()
        with self.db.session() as s:
            batch: list[tuple[int, dict, list[str], bool]] = []  # line, values, NIPs, valid so far

            def flush() -> None:
                nonlocal created
                if not batch:
                    return
                wanted = sorted({n for _l, _v, nips, _ok in batch for n in nips})
                nip_ids: dict[str, int] = dict(s.execute(select(Company.nip, Company.id).where(Company.nip.in_(wanted))).all()) if wanted else {}
                logins = [v["login"] for _l, v, _n, _ok in batch if v["login"]]
                existing = set(s.scalars(select(User.login).where(User.login.in_(logins)))) if logins else set()
                good = []
                for line, values, nips, ok in batch:
                    for nip in nips:
                        if nip not in nip_ids:
                            problems.add(line, "companies", _("no company with NIP {nip}").format(nip=nip))
                            ok = False
                    if values["login"] in existing:
                        problems.add(line, "login", _("A user with login {login} already exists.").format(login=values["login"]))
                        ok = False
                    if ok:
                        good.append((line, values, nips))
                batch.clear()
                if problems or not good:
                    return
                ids = s.execute(_conflict_insert(self.db, User, "login").returning(User.id, User.login),
                                [v | {"created_at": now, "updated_at": now, "version": 1} for _l, v, _n in good]).all()
                by_login = {login: uid for uid, login in ids}
                members = []
                entries = []
                for line, values, nips in good:
                    uid = by_login.get(values["login"])
                    if uid is None:  # created by someone else meanwhile
                        problems.add(line, "login", _("A user with login {login} already exists.").format(login=values["login"]))
                        continue
                    cids = sorted({nip_ids[n] for n in nips})
                    members += [{"user_id": uid, "company_id": c} for c in cids]
                    entries.append(audit.audit_values(actor, "user.import", "user", uid, values["login"], None,
                                                      {"role": values["role"], "company_ids": cids}, at=now))
                if members:
                    s.execute(insert(Membership), members)
                audit.record(s, entries)
                created += len(entries)

            for line, rec in _records(rows, header, problems):
                flags = {}
                for col, default in (("active", True), ("may_configure_ksef", False)):
                    b = _bool(rec.get(col, "")) if rec.get(col, "").strip() else default
                    if b is None:
                        problems.add(line, col, _("use true or false"))
                        b = default
                    flags[col] = b
                values, errors = clean_user(UserInput(
                    login=rec["login"], full_name=rec["full_name"], email=rec["email"], role=rec["role"], **flags,
                ))
                for field, msg in errors.items():
                    problems.add(line, field, msg)
                login = values["login"]
                if login and "login" not in errors:
                    lower = login.lower()
                    if lower in seen:
                        problems.add(line, "login", _("login {login} is also on line {other}").format(login=login, other=seen[lower]))
                        errors["login"] = "twice"
                    seen.setdefault(lower, line)
                nips: list[str] = []
                for raw in (rec["companies"] or "").split(";"):
                    if not raw.strip():
                        continue
                    try:
                        nips.append(normalize_nip(raw))
                    except InvalidNip:
                        problems.add(line, "companies", _("{value} is not a valid NIP").format(value=raw.strip()))
                        errors["companies"] = "bad"
                batch.append((line, values, nips, not errors))
                if len(batch) >= BATCH:
                    flush()
            flush()
            problems.raise_if_any()  # rolls the transaction back: nothing was imported
        return ImportResult(created=created)

    def export_users(self, actor: Actor, out: IO[str]) -> int:
        require_admin(actor)
        w = _writer(out, ["login", "full_name", "email", "role", "companies", "active", "may_configure_ksef"])
        n = 0
        with self.db.engine.connect() as conn:
            members: dict[int, list[str]] = {}
            for uid, nip in conn.execute(select(Membership.user_id, Company.nip).join(Company, Company.id == Membership.company_id).order_by(Company.nip)):
                members.setdefault(uid, []).append(nip)
            for uid, login, full_name, email, role, active, may in conn.execute(
                select(User.id, User.login, User.full_name, User.email, User.role, User.active, User.may_configure_ksef).order_by(User.sort_key, User.id)
            ):
                w.writerow([csv_cell(v) for v in (login, full_name, email or "", role, ";".join(members.get(uid, [])),
                                                  "true" if active else "false", "true" if may else "false")])
                n += 1
        return n
