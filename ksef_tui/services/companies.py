"""Companies: list and filter in SQL, create and edit, switch KSeF on/off one by one
or by serial operation (one transaction, one audit entry per changed company)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter

from sqlalchemy import (
    Index,
    Integer,
    and_,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.nip import InvalidNip, format_nip, normalize_nip
from ksef_tui.domain.regon import InvalidRegon, normalize_regon
from ksef_tui.domain.text import contains_pattern, search_key, sort_key
from ksef_tui.domain.untrusted import visible
from ksef_tui.errors import ConflictError, NotFound, OperationCancelled, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.company_list import CompanyFilter, CompanyRow
from ksef_tui.services.fields import control_problem, key
from ksef_tui.services.id_sets import (
    chosen_table,
    dense_runs,
    fill_chosen,
    fill_seen,
    run_pieces,
    seen_table,
    single_chunks,
    sorted_ids,
)
from ksef_tui.services.results import SerialPreview, SerialResult, preview_flag
from ksef_tui.store.engine import Database, cancellable
from ksef_tui.store.models import Company

CHUNK = 20_000  # companies per step of a serial operation (progress, cancel)
#: a serial operation over this many companies, and over a third of them or more, builds the
#: KSeF index again instead of moving its entries (SQLite)
REBUILD_INDEX_AT = 20_000
NAME_MAX = 250

SEARCH_KEY_LEN = 300  # the company.search_key column


@dataclass(frozen=True)
class CompanyDetail:
    id: int
    name: str
    nip: str
    regon: str | None
    address: str | None
    ksef_enabled: bool
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


@dataclass(frozen=True)
class CompanyInput:
    name: str
    nip: str
    regon: str | None = None
    address: str | None = None
    ksef_enabled: bool = False
    notes: str | None = None


def nip_message(exc: InvalidNip) -> str:
    v = exc.value
    return {
        "empty": _("NIP is required."),
        "letters": _("NIP {value} may hold only digits (and dashes or spaces).").format(value=v),
        "length": _("NIP {value} must have 10 digits.").format(value=v),
        "pattern": _("NIP {value} is not a valid NIP (wrong leading digits).").format(value=v),
        "checksum": _("NIP {value} has a wrong check digit.").format(value=v),
    }[exc.reason]


def regon_message(exc: InvalidRegon) -> str:
    v = exc.value
    return {
        "letters": _("REGON {value} may hold only digits.").format(value=v),
        "length": _("REGON {value} must have 9 or 14 digits.").format(value=v),
        "checksum": _("REGON {value} has a wrong check digit.").format(value=v),
    }[exc.reason]


def _blank_to_none(v: str | None) -> str | None:
    v = (v or "").strip()
    return v or None


def clean_company(data: CompanyInput) -> tuple[dict, dict[str, str]]:
    """Normalized column values and field errors (empty when valid)."""
    errors: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = _("Name is required.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Name is too long (at most {n} characters).").format(n=NAME_MAX)
    nip = ""
    try:
        nip = normalize_nip(data.nip)
    except InvalidNip as exc:
        errors["nip"] = nip_message(exc)
    regon = _blank_to_none(data.regon)
    if regon:
        try:
            regon = normalize_regon(regon)
        except InvalidRegon as exc:
            errors["regon"] = regon_message(exc)
    address = _blank_to_none(data.address)
    if address and len(address) > 500:
        errors["address"] = _("Address is too long (at most 500 characters).")
    notes = _blank_to_none(data.notes)
    for field, value, multiline in (("name", name, False), ("address", address, False), ("notes", notes, True)):
        problem = control_problem(value, multiline=multiline)
        if problem and field not in errors:
            errors[field] = problem
    values = {
        "name": name,
        "nip": nip,
        "regon": regon,
        "address": address,
        "ksef_enabled": bool(data.ksef_enabled),
        "notes": notes,
        "search_key": key(search_key(name), SEARCH_KEY_LEN),
        "sort_key": key(sort_key(name), 500),
    }
    return values, errors


_SEPARATORS = re.compile(r"[\s\-]")
#: the trigram index of names and NIPs (SQLite, migrations 0009 and 0010); a text of three characters
#: or more is looked up in it instead of scanning every company. Its rowid is ``stretch * 2**32 + id``
#: (0010: stretches of the list in its order, see that migration), the company's id in its low bits
SEARCH_TABLE = table("company_search", column("rowid"))
STRETCH_TABLE = "company_search_stretch"
TRIGRAM = 3
ID_MASK = (1 << 32) - 1
#: the SQL of a match's company id
MATCH_ID = literal_column(f"{SEARCH_TABLE.name}.rowid & {ID_MASK}", Integer)


def _terms(flt: CompanyFilter) -> tuple[str, str | None] | None:
    """The filter's text as the stored keys are made (the name's key; the digits, when it reads as a NIP)."""
    text = (flt.text or "").strip()
    if not text:
        return None
    # cut like the stored keys: a name's key longer than its column is kept to the column's length
    name = key(search_key(text), SEARCH_KEY_LEN)
    digits = _SEPARATORS.sub("", text)
    if digits[:2].upper() == "PL":
        digits = digits[2:]
    return name, digits if digits.isdigit() else None


def search_match(flt: CompanyFilter) -> str | None:
    """The filter's text as a query of the trigram index (FTS5: each part a quoted phrase, i.e. "contains
    this"), or None where the index cannot answer (no text, or a part shorter than three characters)."""
    terms = _terms(flt)
    if terms is None:
        return None
    name, digits = terms
    if len(name) < TRIGRAM or (digits is not None and len(digits) < TRIGRAM):
        return None

    def phrase(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    query = f"search_key : {phrase(name)}"
    return f"nip : {phrase(digits)} OR {query}" if digits is not None else query


def filter_clause(flt: CompanyFilter, *, trigram: bool = False):
    """The filter as one SQL condition; ``trigram``: the database has the trigram index (see
    :meth:`CompanyService.has_trigram_index`)."""
    conds = []
    terms = _terms(flt)
    match = search_match(flt) if trigram else None
    if match is not None:
        conds.append(Company.id.in_(
            select(MATCH_ID).select_from(SEARCH_TABLE).where(literal_column(SEARCH_TABLE.name).op("MATCH")(match))))
    elif terms is not None:
        name, digits = terms
        name_cond = Company.search_key.like(contains_pattern(name), escape="\\")
        if digits is not None:
            conds.append(or_(Company.nip.like(contains_pattern(digits), escape="\\"), name_cond))
        else:
            conds.append(name_cond)
    if flt.ksef is not None:
        conds.append(Company.ksef_enabled == flt.ksef)
    return and_(true(), *conds)


def _detail(c: Company) -> CompanyDetail:
    return CompanyDetail(
        id=c.id, name=c.name, nip=c.nip, regon=c.regon, address=c.address,
        ksef_enabled=c.ksef_enabled, notes=c.notes, created_at=c.created_at,
        updated_at=c.updated_at, version=c.version,
    )


_AUDITED = ("name", "nip", "regon", "address", "ksef_enabled", "notes")


class CompanyService:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        self._trigram: bool | None = None
        #: the index keys its matches by stretches of the list (migration 0010), not only by id
        self._stretches = False

    # ---- reading -------------------------------------------------------------
    def has_trigram_index(self) -> bool:
        """The database has the trigram index of names and NIPs (SQLite with FTS5, migration 0009)."""
        if self._trigram is None:
            found = False
            if self.db.dialect == "sqlite":
                with self.db.engine.connect() as conn:
                    tables = {name for (name,) in conn.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                        (SEARCH_TABLE.name, STRETCH_TABLE))}
                found = SEARCH_TABLE.name in tables
                self._stretches = found and STRETCH_TABLE in tables
            self._trigram = found
        return self._trigram

    def _where(self, flt: CompanyFilter):
        return filter_clause(flt, trigram=self.has_trigram_index())

    def count(self, actor: Actor, flt: CompanyFilter = CompanyFilter(), *,
              should_cancel: Callable[[], bool] | None = None) -> int:
        require_admin(actor)
        match = search_match(flt) if flt.ksef is None and self.has_trigram_index() else None
        if match is not None:  # the index alone counts the matches
            q = select(func.count()).select_from(SEARCH_TABLE).where(
                literal_column(SEARCH_TABLE.name).op("MATCH")(match))
        elif _terms(flt) is None and flt.ksef is None:
            # all of them, with no WHERE: SQLite counts the entries of its smallest index without
            # stepping through them (7 ms at 1,000,000, never stopping to ask ``should_cancel``)
            q = select(func.count()).select_from(Company)
        else:
            q = select(func.count()).select_from(Company).where(self._where(flt))
        with self.db.engine.connect() as conn, cancellable(conn, should_cancel):
            return int(conn.execute(q).scalar_one())

    def _in_order(self, flt: CompanyFilter, offset: int = 0, limit: int | None = None):
        """The ids of the filtered list in its order (from ``offset``, at most ``limit``). A filter the
        trigram index answers (without the KSeF filter) puts its matches in order through the narrow
        ``ix_company_id_sort`` instead of reading each match's row (SQLite's planner would take the
        primary key: named here)."""
        match = search_match(flt) if flt.ksef is None and self.has_trigram_index() else None
        if match is None:
            q = select(Company.id).where(self._where(flt)).order_by(Company.sort_key, Company.id)
            return q.offset(max(0, offset)).limit(max(0, limit)) if limit is not None else q
        sql = (f"SELECT company.id FROM {SEARCH_TABLE.name} JOIN company INDEXED BY ix_company_id_sort "
               f"ON company.id = {MATCH_ID} WHERE {SEARCH_TABLE.name} MATCH :match{{bound}} "
               "ORDER BY company.sort_key, company.id")
        if limit is None:
            return text(sql.format(bound="")).bindparams(match=match)
        if not self._stretches:
            return text(sql.format(bound="") + " LIMIT :limit OFFSET :offset").bindparams(
                match=match, limit=max(0, limit), offset=max(0, offset))
        # The index returns its matches stretch by stretch in the list's order: the stretch of the
        # (offset + limit)-th holds the page's end, so only matches up to that stretch are put in order.
        last = (f"SELECT max(r) FROM (SELECT rowid AS r FROM {SEARCH_TABLE.name} WHERE {SEARCH_TABLE.name} "
                "MATCH :match ORDER BY rowid LIMIT :wanted)")
        bound = f" AND {SEARCH_TABLE.name}.rowid < ((({last}) >> 32) + 1) << 32"
        return text(sql.format(bound=bound) + " LIMIT :limit OFFSET :offset").bindparams(
            match=match, wanted=max(0, offset) + max(0, limit), limit=max(0, limit), offset=max(0, offset))

    def page(self, actor: Actor, flt: CompanyFilter, offset: int, limit: int, *,
             should_cancel: Callable[[], bool] | None = None) -> list[CompanyRow]:
        require_admin(actor)
        from ksef_tui.services.ksef.offline import offline_ready

        with self.db.engine.connect() as conn:
            with cancellable(conn, should_cancel):
                order = list(conn.execute(self._in_order(flt, offset, limit)).scalars())
                found = {r[0]: CompanyRow(*r) for r in conn.execute(
                    select(Company.id, Company.name, Company.nip, Company.ksef_enabled, Company.version)
                    .where(Company.id.in_(order)))} if order else {}
            rows = [found[i] for i in order if i in found]
            ready = offline_ready(conn, [r.id for r in rows], self.clock())
        return [replace(r, offline_ready=ready[r.id]) if r.id in ready else r for r in rows]

    def ids(self, actor: Actor, flt: CompanyFilter = CompanyFilter()) -> list[int]:
        require_admin(actor)
        with self.db.engine.connect() as conn:
            # the driver's rows, one at a time: no result objects, and none outliving the loop (a million
            # kept until the end would wake the garbage collector's full passes), ~0.5 s -> ~0.3 s at 1,000,000
            result = conn.execute(self._in_order(flt))
            try:
                return list(map(itemgetter(0), result.cursor))
            finally:
                result.close()

    def get(self, actor: Actor, company_id: int) -> CompanyDetail:
        require_admin(actor)
        with self.db.session() as s:
            c = s.get(Company, company_id)
            if c is None:
                raise NotFound(_("The company no longer exists."))
            return _detail(c)

    def find_by_nip(self, actor: Actor, nip: str) -> CompanyDetail | None:
        require_admin(actor)
        with self.db.session() as s:
            c = s.scalars(select(Company).where(Company.nip == nip)).first()
            return _detail(c) if c else None

    def ids_by_nips(self, actor: Actor, nips: Iterable[str]) -> dict[str, int]:
        """Map canonical NIPs to ids; NIPs not in the database are absent from the result."""
        require_admin(actor)
        wanted = list(dict.fromkeys(nips))
        found: dict[str, int] = {}
        with self.db.engine.connect() as conn:
            for i in range(0, len(wanted), CHUNK):
                part = wanted[i : i + CHUNK]
                for cid, nip in conn.execute(select(Company.id, Company.nip).where(Company.nip.in_(part))):
                    found[nip] = cid
        return found

    # ---- writing -------------------------------------------------------------
    def validate(self, data: CompanyInput) -> dict[str, str]:
        return clean_company(data)[1]

    def create(self, actor: Actor, data: CompanyInput) -> CompanyDetail:
        require_admin(actor)
        values, errors = clean_company(data)
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        try:
            with self.db.session() as s:
                c = Company(**values, created_at=now, updated_at=now, version=1)
                s.add(c)
                s.flush()
                audit.record(s, [audit.audit_values(
                    actor, "company.create", "company", c.id, c.name, None,
                    {k: values[k] for k in _AUDITED}, at=now,
                )])
                return _detail(c)
        except IntegrityError:
            raise ValidationFailed({"nip": _duplicate(values["nip"])}) from None

    def update(self, actor: Actor, company_id: int, expected_version: int, data: CompanyInput) -> CompanyDetail:
        require_admin(actor)
        values, errors = clean_company(data)
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        try:
            with self.db.session() as s:
                c = s.get(Company, company_id)
                if c is None:
                    raise NotFound(_("The company no longer exists."))
                before = {k: getattr(c, k) for k in _AUDITED}
                res = s.execute(
                    update(Company)
                    .where(Company.id == company_id, Company.version == expected_version)
                    .values(**values, updated_at=now, version=Company.version + 1)
                )
                if res.rowcount != 1:
                    raise ConflictError(_conflict())
                after = {k: values[k] for k in _AUDITED}
                changed = {k for k in _AUDITED if before[k] != after[k]}
                if changed:
                    audit.record(s, [audit.audit_values(
                        actor, "company.update", "company", company_id, values["name"],
                        {k: before[k] for k in sorted(changed)}, {k: after[k] for k in sorted(changed)}, at=now,
                    )])
                s.expire(c)
                return _detail(s.get(Company, company_id))
        except IntegrityError:
            raise ValidationFailed({"nip": _duplicate(values["nip"])}) from None

    def set_ksef(self, actor: Actor, company_id: int, enabled: bool, expected_version: int | None = None) -> CompanyDetail:
        """Switch KSeF for one company (its additional data)."""
        require_admin(actor)
        now = self.clock()
        with self.db.session() as s:
            c = s.get(Company, company_id)
            if c is None:
                raise NotFound(_("The company no longer exists."))
            if expected_version is not None and c.version != expected_version:
                raise ConflictError(_conflict())
            if c.ksef_enabled != enabled:
                res = s.execute(
                    update(Company)
                    .where(Company.id == company_id, Company.version == c.version)
                    .values(ksef_enabled=enabled, updated_at=now, version=Company.version + 1)
                )
                if res.rowcount != 1:
                    raise ConflictError(_conflict())
                audit.record(s, [audit.audit_values(
                    actor, "company.ksef_enable" if enabled else "company.ksef_disable", "company",
                    company_id, c.name, {"ksef_enabled": not enabled}, {"ksef_enabled": enabled}, at=now,
                )])
                s.expire(c)
            return _detail(s.get(Company, company_id))

    def serial_set_ksef(
        self,
        actor: Actor,
        ids: Iterable[int],
        enabled: bool,
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        *,
        expected_versions: Mapping[int, int] | None = None,
    ) -> SerialResult:
        """Serial operation "enable KSeF" / "disable KSeF" over ``ids`` in ONE transaction.

        Either every company ends in the requested state, or (on any error, cancellation
        or a killed process) nothing changes at all.

        ``expected_versions`` maps ids to the versions the user saw when choosing them: a
        company another administrator has changed since then (its version moved on) is not
        touched and comes back in ``SerialResult.skipped`` (unless it is already in the
        requested state: then it is ``unchanged``). Ids without an entry are changed
        whatever their version. Rows are locked while the operation runs (PostgreSQL:
        SELECT ... FOR UPDATE in id order, so two serial operations never deadlock; SQLite:
        the database's single writer lock), so an edit made meanwhile by someone else waits
        for it and then meets a version conflict instead of being lost.
        """
        require_admin(actor)
        wanted: Sequence[int] = sorted_ids(ids)
        total = len(wanted)
        action = "company.ksef_enable" if enabled else "company.ksef_disable"
        changed: list[int] = []
        missing: list[int] = []
        now = self.clock()
        company = Company.__table__
        c = company.c
        runs = dense_runs(wanted)  # None: a scattered selection, told id by id
        pieces, chunks = run_pieces(runs, CHUNK) if runs is not None else ([], single_chunks(total, CHUNK))
        with self.db.session() as s:
            # Set-based: the chosen ids go into a temporary table as runs of consecutive ids (select all
            # is a few runs, whatever its size), the versions the user saw into another; each chunk is
            # then one INSERT ... SELECT for its audit entries, one UPDATE and one SELECT of the runs with
            # gone companies, whatever its size. No per-company round trip or Python loop.
            conn = s.connection()
            if total >= REBUILD_INDEX_AT:
                self.db.defer_checkpoint(s)
            chosen, seen = chosen_table(conn), seen_table(conn)
            fill_chosen(conn, chosen, pieces, None if runs is not None else wanted)
            seen_rows = fill_seen(conn, seen, wanted, expected_versions or {})
            r = chosen.c
            rebuilt = self._drop_ksef_index(conn, total)
            for first, last, done in chunks:
                if should_cancel is not None and should_cancel():
                    raise OperationCancelled(_("Cancelled; nothing was changed."))
                in_chunk = r.seq.between(first, last)
                rows = chosen.join(company, c.id.between(r.lo, r.hi))
                if self.db.dialect == "postgresql":  # lock the rows in id order: serial operations never deadlock
                    conn.execute(select(c.id).select_from(rows).where(in_chunk).order_by(c.id)
                                 .with_for_update(of=company))
                to_change = (
                    select(c.id, c.name)
                    .select_from(rows.outerjoin(seen, seen.c.id == c.id))
                    .where(in_chunk, c.ksef_enabled != enabled,
                           or_(seen.c.expected.is_(None), seen.c.expected == c.version))
                )
                self._apply_chunk(s, actor, action, enabled, to_change, now)
                result = conn.execute(
                    update(company)
                    .where(c.id.in_(to_change.with_only_columns(c.id)))
                    .values(ksef_enabled=enabled, updated_at=now, version=c.version + 1)
                    .returning(c.id)
                )
                changed.extend(map(itemgetter(0), result.cursor))  # plain ints, one row at a time
                result.close()
                # gone: the runs of this chunk with fewer companies than ids, then which of their ids
                for lo, hi in conn.execute(
                    select(r.lo, r.hi).select_from(chosen.outerjoin(company, c.id.between(r.lo, r.hi)))
                    .where(in_chunk).group_by(r.seq, r.lo, r.hi).having(func.count(c.id) <= r.hi - r.lo)
                ).all():
                    present = set(conn.execute(select(c.id).where(c.id.between(lo, hi))).scalars())
                    missing.extend(cid for cid in range(lo, hi + 1) if cid not in present)
                if progress is not None:
                    progress(done, total)
            if should_cancel is not None and should_cancel():
                raise OperationCancelled(_("Cancelled; nothing was changed."))
            # a version the user saw that moved on, left in the other state by someone else
            skipped = sorted(conn.execute(select(seen.c.id).where(
                exists().where(c.id == seen.c.id, c.ksef_enabled != enabled))).scalars()) if seen_rows else []
            if rebuilt is not None:
                rebuilt.create(conn)
            chosen.drop(conn)
            seen.drop(conn)
        changed.sort()  # SQLite returns them in order already: then a single pass
        missing.sort()
        if len(changed) + len(missing) + len(skipped) == total:
            unchanged: list[int] = []
        else:
            left = set(changed)
            left.update(missing, skipped)
            unchanged = [cid for cid in wanted if cid not in left]
        return SerialResult(changed=changed, unchanged=unchanged, missing=missing, skipped=skipped)

    def _drop_ksef_index(self, conn, total: int) -> Index | None:
        """A serial operation over a large part of the companies (SQLite): ``ix_company_ksef`` is
        dropped inside its transaction and built again before it commits, because switching the flag
        in place moves every row's entry to another place of that index (at 1,000,000 companies 7 s;
        dropped and built again: under 3 s). Readers keep seeing the committed index meanwhile (WAL)."""
        if self.db.dialect != "sqlite" or total < REBUILD_INDEX_AT:
            return None
        rows = conn.execute(select(func.max(Company.id))).scalar() or 0  # the table's size, without counting it
        if total * 3 < rows:
            return None
        index = next(i for i in Company.__table__.indexes if i.name == "ix_company_ksef")
        index.drop(conn)
        return index

    def serial_preview(self, actor: Actor, ids: Iterable[int], enabled: bool,
                       hidden: Iterable[int] = ()) -> SerialPreview:
        """What :meth:`serial_set_ksef` would do now: how many change, are already so or are gone;
        ``hidden`` (selected, not in the list as filtered) counted and the first few named."""
        require_admin(actor)
        return preview_flag(
            self.db, ids, hidden, enabled, Company.id, Company.ksef_enabled,
            lambda part: select(Company.name, Company.nip).where(Company.id.in_(part)).order_by(Company.sort_key, Company.id),
            lambda name, nip: f"{visible(name)} (NIP {format_nip(nip)})")

    @staticmethod
    def _apply_chunk(s, actor: Actor, action: str, enabled: bool, to_change, now) -> None:
        """Audit one chunk of a serial operation: one entry per company about to change."""
        audit.record_same_change(s, actor, action, "company", to_change,
                                 {"ksef_enabled": not enabled}, {"ksef_enabled": enabled}, at=now)


def _duplicate(nip: str) -> str:
    return _("A company with NIP {nip} already exists.").format(nip=nip)


def _conflict() -> str:
    return _("Someone else changed this company since you opened it; reload it and try again.")
