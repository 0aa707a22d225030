"""CSV import (all or nothing, every bad row named by line and column) and export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from sqlalchemy import insert, select

from ksef_tui.domain.nip import InvalidNip, normalize_nip
from ksef_tui.errors import ImportFailed, ImportProblem
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.companies import CompanyInput, clean_company
from ksef_tui.services.users import UserInput, clean_user
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, Membership, User, utcnow

COMPANY_REQUIRED = ("name", "nip")
COMPANY_OPTIONAL = ("regon", "address", "ksef_enabled", "notes")
USER_REQUIRED = ("login", "full_name", "email", "role", "companies")
USER_OPTIONAL = ("active", "may_configure_ksef")
TRUE = {"true", "1", "yes", "tak", "t", "y"}
FALSE = {"false", "0", "no", "nie", "f", "n", ""}


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


def _reader(text: str) -> csv.reader:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed([ImportProblem(1, "-", _("The file is not UTF-8 text; save it as CSV UTF-8."))]) from None


def _header(rows: csv.reader, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
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


def _records(rows: csv.reader, header: list[str], problems: list[ImportProblem]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in rows:
        line = rows.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(ImportProblem(line, "-", _("expected {n} fields, found {m}").format(n=len(header), m=len(row))))
            continue
        yield line, dict(zip(header, row, strict=False))


class CsvService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- companies -------------------------------------------------------------
    def import_companies(self, actor: Actor, data: bytes) -> ImportResult:
        require_admin(actor)
        rows = _reader(_decode(data))
        header = _header(rows, COMPANY_REQUIRED, COMPANY_OPTIONAL)
        problems: list[ImportProblem] = []
        seen: dict[str, int] = {}
        values_list: list[dict] = []
        for line, rec in _records(rows, header, problems):
            enabled = _bool(rec.get("ksef_enabled", ""))
            if enabled is None:
                problems.append(ImportProblem(line, "ksef_enabled", _("use true or false")))
                enabled = False
            values, errors = clean_company(CompanyInput(
                name=rec["name"], nip=rec["nip"], regon=rec.get("regon"), address=rec.get("address"),
                ksef_enabled=enabled, notes=rec.get("notes"),
            ))
            for field, msg in errors.items():
                problems.append(ImportProblem(line, field, msg))
            nip = values["nip"]
            if nip and "nip" not in errors:
                if nip in seen:
                    problems.append(ImportProblem(line, "nip", _("NIP {nip} is also on line {other}").format(nip=nip, other=seen[nip])))
                seen.setdefault(nip, line)
            values_list.append(values | {"_line": line})
        if seen:
            with self.db.engine.connect() as conn:
                existing: set[str] = set()
                nips = list(seen)
                for i in range(0, len(nips), 5000):
                    existing.update(conn.execute(select(Company.nip).where(Company.nip.in_(nips[i:i + 5000]))).scalars())
            for nip in sorted(existing, key=lambda n: seen[n]):
                problems.append(ImportProblem(seen[nip], "nip", _("A company with NIP {nip} already exists.").format(nip=nip)))
        if problems:
            raise ImportFailed(sorted(problems, key=lambda p: p.line))
        now = utcnow()
        with self.db.session() as s:
            for i in range(0, len(values_list), 5000):
                batch = [{k: v for k, v in vals.items() if k != "_line"} | {"created_at": now, "updated_at": now, "version": 1}
                         for vals in values_list[i:i + 5000]]
                created = s.execute(insert(Company).returning(Company.id, Company.name, Company.nip, Company.ksef_enabled), batch).all()
                audit.record(s, (audit.audit_values(actor, "company.import", "company", cid, name, None,
                                                    {"nip": nip, "ksef_enabled": en}, at=now)
                                 for cid, name, nip, en in created))
        return ImportResult(created=len(values_list))

    def export_companies(self, actor: Actor, out: IO[str]) -> int:
        require_admin(actor)
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["name", "nip", "ksef_enabled", "regon", "address", "notes"])
        n = 0
        q = select(Company.name, Company.nip, Company.ksef_enabled, Company.regon, Company.address, Company.notes).order_by(Company.sort_key, Company.id)
        with self.db.engine.connect() as conn:
            for name, nip, en, regon, address, notes in conn.execution_options(yield_per=2000).execute(q):
                w.writerow([name, nip, "true" if en else "false", regon or "", address or "", notes or ""])
                n += 1
        return n

    # ---- users -----------------------------------------------------------------
    def import_users(self, actor: Actor, data: bytes) -> ImportResult:
        require_admin(actor)
        rows = _reader(_decode(data))
        header = _header(rows, USER_REQUIRED, USER_OPTIONAL)
        problems: list[ImportProblem] = []
        parsed: list[tuple[int, dict, list[str]]] = []
        seen: dict[str, int] = {}
        wanted_nips: set[str] = set()
        for line, rec in _records(rows, header, problems):
            flags = {}
            for col, default in (("active", True), ("may_configure_ksef", False)):
                b = _bool(rec.get(col, "")) if rec.get(col, "").strip() else default
                if b is None:
                    problems.append(ImportProblem(line, col, _("use true or false")))
                    b = default
                flags[col] = b
            values, errors = clean_user(UserInput(
                login=rec["login"], full_name=rec["full_name"], email=rec["email"], role=rec["role"], **flags,
            ))
            for field, msg in errors.items():
                problems.append(ImportProblem(line, field, msg))
            login = values["login"]
            if login and "login" not in errors:
                key = login.lower()
                if key in seen:
                    problems.append(ImportProblem(line, "login", _("login {login} is also on line {other}").format(login=login, other=seen[key])))
                seen.setdefault(key, line)
            nips: list[str] = []
            for raw in (rec["companies"] or "").split(";"):
                if not raw.strip():
                    continue
                try:
                    nips.append(normalize_nip(raw))
                except InvalidNip:
                    problems.append(ImportProblem(line, "companies", _("{value} is not a valid NIP").format(value=raw.strip())))
            wanted_nips.update(nips)
            parsed.append((line, values, nips))
        nip_ids: dict[str, int] = {}
        with self.db.engine.connect() as conn:
            nl = list(wanted_nips)
            for i in range(0, len(nl), 5000):
                nip_ids.update({n: i_ for i_, n in conn.execute(select(Company.id, Company.nip).where(Company.nip.in_(nl[i:i + 5000])))})
            logins = [v["login"] for _l, v, _n in parsed if v["login"]]
            existing = set()
            for i in range(0, len(logins), 5000):
                existing.update(conn.execute(select(User.login).where(User.login.in_(logins[i:i + 5000]))).scalars())
        for line, values, nips in parsed:
            for nip in nips:
                if nip not in nip_ids:
                    problems.append(ImportProblem(line, "companies", _("no company with NIP {nip}").format(nip=nip)))
            if values["login"] in existing:
                problems.append(ImportProblem(line, "login", _("A user with login {login} already exists.").format(login=values["login"])))
        if problems:
            raise ImportFailed(sorted(problems, key=lambda p: p.line))
        now = utcnow()
        with self.db.session() as s:
            for _line, values, nips in parsed:
                uid = s.execute(insert(User).returning(User.id), [values | {"created_at": now, "updated_at": now, "version": 1}]).scalar_one()
                cids = sorted({nip_ids[n] for n in nips})
                if cids:
                    s.execute(insert(Membership), [{"user_id": uid, "company_id": c} for c in cids])
                audit.record(s, [audit.audit_values(actor, "user.import", "user", uid, values["login"], None,
                                                    {"role": values["role"], "company_ids": cids}, at=now)])
        return ImportResult(created=len(parsed))

    def export_users(self, actor: Actor, out: IO[str]) -> int:
        require_admin(actor)
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["login", "full_name", "email", "role", "companies", "active", "may_configure_ksef"])
        n = 0
        with self.db.engine.connect() as conn:
            members: dict[int, list[str]] = {}
            for uid, nip in conn.execute(select(Membership.user_id, Company.nip).join(Company, Company.id == Membership.company_id).order_by(Company.nip)):
                members.setdefault(uid, []).append(nip)
            for uid, login, full_name, email, role, active, may in conn.execute(
                select(User.id, User.login, User.full_name, User.email, User.role, User.active, User.may_configure_ksef).order_by(User.sort_key, User.id)
            ):
                w.writerow([login, full_name, email or "", role, ";".join(members.get(uid, [])),
                            "true" if active else "false", "true" if may else "false"])
                n += 1
        return n
