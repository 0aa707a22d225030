"""The append-only audit log: written inside the caller's transaction, never a secret."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from ksef_tui.domain.text import contains_pattern
from ksef_tui.domain.untrusted import csv_cell
from ksef_tui.errors import OperationCancelled
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import AuditEntry, KsefCredential, User, utcnow

_SECRET_WORDS = ("token", "password", "key", "secret", "pkcs12", "passphrase")


def _clean(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    for k in data:
        if any(w in k.lower() for w in _SECRET_WORDS) and not k.endswith(("_set", "_last4", "_fingerprint", "_reference", "_id")):
            raise ValueError(f"audit data must not carry the secret field {k!r}")
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor_login: str
    action: str
    object_type: str
    object_id: int | None
    object_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class CredentialOwner:
    """Whose KSeF setting an audit entry is about: the user, and the setting's company and environment
    while it is stored (``None`` once it was removed)."""

    user_id: int
    company_id: int | None = None
    environment: str | None = None


def audit_values(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    label: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    return {
        "at": at or utcnow(),
        "actor_id": actor.id,
        "actor_login": actor.login,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_label": label[:300],
        "before": _clean(before),
        "after": _clean(after),
    }


def record(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert audit rows (from :func:`audit_values`) in the caller's transaction."""
    batch = list(rows)
    if not batch:
        return 0
    # one driver-level executemany: a serial operation writes up to 100,000 of these, and
    # SQLAlchemy's per-row parameter compilation would cost seconds
    conn = session.connection()
    dialect = conn.dialect
    table = AuditEntry.__table__
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    processors = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in _COLUMNS]
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in _COLUMNS)}) "
           f"VALUES ({', '.join([mark] * len(_COLUMNS))})")
    converted: list[dict] = [{} for _ in _COLUMNS]  # a serial operation repeats the same values

    def bind(i: int, value: Any) -> Any:
        proc = processors[i]
        if proc is None or value is None:
            return value
        memo = converted[i]
        if value not in memo:
            memo[value] = proc(value)
        return memo[value]

    conn.exec_driver_sql(sql, [tuple(bind(i, row[c]) for i, c in enumerate(_COLUMNS)) for row in batch])
    return len(batch)


_COLUMNS = ("at", "actor_id", "actor_login", "action", "object_type", "object_id", "object_label", "before", "after")


def same_change(
    actor: Actor,
    action: str,
    object_type: str,
    objects: Iterable[tuple[int, str]],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: dt.datetime | None = None,
) -> Iterable[dict[str, Any]]:
    """Audit rows for one change made to many objects (a serial operation): checked and encoded once."""
    template = audit_values(actor, action, object_type, None, "", before, after, at)
    for object_id, label in objects:
        yield template | {"object_id": object_id, "object_label": label[:300]}


def record_same_change(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    objects: Select,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: dt.datetime | None = None,
) -> None:
    """One change made to many objects, audited in SQL: ``objects`` selects (id, label) of each
    object, and one INSERT ... SELECT writes an entry for every row it returns."""
    template = audit_values(actor, action, object_type, None, "", before, after, at)
    table = AuditEntry.__table__
    rows = objects.subquery()
    object_id, label = list(rows.c)[:2]

    def value(column: str):
        return literal(template[column], type_=table.c[column].type)

    columns = [value("at"), value("actor_id"), value("actor_login"), value("action"), value("object_type"),
               object_id, func.substr(label, 1, 300), value("before"), value("after")]
    session.connection().execute(table.insert().from_select(list(_COLUMNS), select(*columns)))


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log screen filters by; empty fields do not filter.

    ``user``: part of the acting login, or of the label of a user the entry is about (a user's entries and
    their KSeF credentials', labelled ``login · Company (NIP …) · DEMO``);
    ``company``: part of the label of a company or a credential (the company's name, or its NIP);
    ``action``: an exact action (``user.update``) or a prefix ending in a dot (``credential.``);
    ``date_from`` / ``date_to``: days (UTC), both inclusive.
    """

    user: str = ""
    company: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _conditions(flt: AuditFilter, action: str | None, object_type: str | None, object_id: int | None) -> list:
    conds = []
    if action:
        conds.append(AuditEntry.action == action)
    if object_type:
        conds.append(AuditEntry.object_type == object_type)
    if object_id is not None:
        conds.append(AuditEntry.object_id == object_id)
    if flt.user.strip():
        pattern = contains_pattern(flt.user.strip().lower())
        conds.append(or_(
            func.lower(AuditEntry.actor_login).like(pattern, escape="\\"),
            # the user the entry is about: a user's own entries, and their KSeF credentials' ("login · company · env")
            and_(AuditEntry.object_type.in_(("user", "credential")),
                 func.lower(AuditEntry.object_label).like(pattern, escape="\\")),
        ))
    if flt.company.strip():
        text = flt.company.strip()
        digits = "".join(ch for ch in text if ch.isdigit())
        options = [and_(AuditEntry.object_type.in_(("company", "credential")),
                        func.lower(AuditEntry.object_label).like(contains_pattern(text.lower()), escape="\\"))]
        if len(digits) >= 3 and not text.strip("0123456789- "):
            options.append(AuditEntry.object_label.like(contains_pattern(digits), escape="\\"))
        conds.append(or_(*options))
    if flt.action.strip():
        a = flt.action.strip()
        conds.append(AuditEntry.action.like(a.replace("%", "") + "%") if a.endswith(".") else AuditEntry.action == a)
    if flt.date_from is not None:
        conds.append(AuditEntry.at >= dt.datetime.combine(flt.date_from, dt.time(), tzinfo=dt.UTC))
    if flt.date_to is not None:
        conds.append(AuditEntry.at < dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(),
                                                         tzinfo=dt.UTC))
    return conds


#: the columns an AuditRow is made of (the export reads these, not ORM objects: a million entries
#: as ORM instances cost the export's thread CPU and garbage-collection passes that hold every thread)
_ROW_COLUMNS = (AuditEntry.id, AuditEntry.at, AuditEntry.actor_login, AuditEntry.action, AuditEntry.object_type,
            AuditEntry.object_id, AuditEntry.object_label, AuditEntry.before, AuditEntry.after)


def _row(e: Any) -> AuditRow:
    """An :class:`AuditRow` of an ``AuditEntry`` or a row of :data:`_ROW_COLUMNS`."""
    at = e.at if e.at.tzinfo is not None else e.at.replace(tzinfo=dt.UTC)
    return AuditRow(
        id=e.id, at=at, actor_login=e.actor_login, action=e.action,
        object_type=e.object_type, object_id=e.object_id, object_label=e.object_label,
        before=json.loads(e.before) if e.before else None,
        after=json.loads(e.after) if e.after else None,
    )


CSV_HEADER = ("id", "at_utc", "actor", "action", "object_type", "object_id", "object", "before", "after")


_csv_cell = csv_cell  # the one guard of every CSV export (formulas, control characters)


class AuditService:
    """Read-only: the app never edits or deletes an entry (the database refuses it too)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self, actor: Actor, *, action: str | None = None, object_type: str | None = None,
              flt: AuditFilter = AuditFilter()) -> int:
        require_admin(actor)
        q = select(func.count()).select_from(AuditEntry).where(*_conditions(flt, action, object_type, None))
        with self.db.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def entries(
        self,
        actor: Actor,
        *,
        action: str | None = None,
        object_type: str | None = None,
        object_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
        flt: AuditFilter = AuditFilter(),
    ) -> list[AuditRow]:
        require_admin(actor)
        q = (select(AuditEntry).where(*_conditions(flt, action, object_type, object_id))
             .order_by(AuditEntry.id.desc()).offset(max(0, offset)).limit(max(0, limit)))
        with self.db.session() as s:
            return [_row(e) for e in s.scalars(q)]

    def credential_owner(self, actor: Actor, entry: AuditRow) -> CredentialOwner | None:
        """Whose KSeF setting the ``credential`` entry is about (Enter on it opens that user's KSeF
        screen): the stored setting it names, or, once that is removed (its id may since be another
        user's), the user whose login the entry names; ``None`` when neither is there any more."""
        require_admin(actor)
        if entry.object_type != "credential":
            return None
        login = entry.object_label.split(" · ", 1)[0].strip()
        with self.db.session() as s:
            row = s.get(KsefCredential, entry.object_id) if entry.object_id is not None else None
            if row is not None:
                owner = s.get(User, row.user_id)
                if owner is not None and owner.login == login:
                    return CredentialOwner(owner.id or 0, row.company_id, row.environment)
            user_id = s.scalar(select(User.id).where(User.login == login)) if login else None
        return CredentialOwner(user_id) if user_id is not None else None

    def actions(self, actor: Actor) -> list[str]:
        """The distinct actions in the log (for the action filter)."""
        require_admin(actor)
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars())

    def export_csv(self, actor: Actor, out: TextIO, flt: AuditFilter = AuditFilter(), *,
                   batch: int = 1000, progress: Callable[[int, int], None] | None = None,
                   should_cancel: Callable[[], bool] | None = None) -> int:
        """Write the filtered entries (oldest first) as CSV to ``out``; returns how many.

        Streamed in batches of ``batch`` (memory stays flat at any size); ``progress(done, total)``
        after each batch; :class:`OperationCancelled` when ``should_cancel()`` says so."""
        import csv

        require_admin(actor)
        total = self.count(actor, flt=flt) if progress is not None else 0
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(CSV_HEADER)
        n = 0
        last = 0
        conds = _conditions(flt, None, None, None)
        while True:
            if should_cancel is not None and should_cancel():
                raise OperationCancelled(_("Export cancelled; no file was written."))
            q = select(*_ROW_COLUMNS).where(*conds, AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
            got = 0
            # each row written as it is read: its objects die at once, not in a batch that outlives
            # young garbage collections (in the export's thread they hold the event loop too)
            with self.db.engine.connect() as conn:
                for e in conn.execute(q):
                    r = _row(e)
                    w.writerow([_csv_cell(v) for v in (
                        r.id, r.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), r.actor_login, r.action,
                        r.object_type, r.object_id, r.object_label,
                        json.dumps(r.before, ensure_ascii=False, sort_keys=True) if r.before is not None else "",
                        json.dumps(r.after, ensure_ascii=False, sort_keys=True) if r.after is not None else "",
                    )])
                    got += 1
                    last = r.id
            if not got:
                return n
            n += got
            if progress is not None:
                progress(n, max(total, n))

    def export_file(self, actor: Actor, path: Path, flt: AuditFilter = AuditFilter(), *,
                    progress: Callable[[int, int], None] | None = None,
                    should_cancel: Callable[[], bool] | None = None) -> int:
        """:meth:`export_csv` into a new file at ``path`` (0600): written beside it and renamed when
        whole, so a cancelled or failed export leaves no file behind."""
        from ksef_tui.files import atomic_open

        require_admin(actor)
        # the one safe writer (files.atomic_open): a full or unwritable folder is a sentence, not an OSError
        with atomic_open(path, "w", newline="") as out:
            return self.export_csv(actor, out, flt, progress=progress, should_cancel=should_cancel)
