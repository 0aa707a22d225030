"""Users of the client companies: list, filter, create, edit, memberships."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.text import contains_pattern, search_key, sort_key
from ksef_tui.domain.untrusted import visible
from ksef_tui.errors import ConflictError, NotFound, OperationCancelled, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import ROLES, Actor, require_admin
from ksef_tui.services.fields import control_problem, key
from ksef_tui.services.results import SerialPreview, SerialResult, preview_flag
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCredential, Membership, User

LOGIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,99}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

SEARCH_KEY_LEN = 600  # the user_account.search_key column
COMPANY_KEY_LEN = 300  # the company.search_key column (services.companies.SEARCH_KEY_LEN)


@dataclass(frozen=True)
class UserFilter:
    text: str = ""
    role: str | None = None


@dataclass(frozen=True)
class UserRow:
    id: int
    login: str
    full_name: str
    email: str | None
    role: str
    active: bool
    may_configure_ksef: bool
    company_count: int
    version: int


@dataclass(frozen=True)
class UserDetail:
    id: int
    login: str
    full_name: str
    email: str | None
    role: str
    active: bool
    may_configure_ksef: bool
    company_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


@dataclass(frozen=True)
class UserInput:
    login: str
    full_name: str
    email: str | None = None
    role: str = "client"
    active: bool = True
    # None: the global default for new users (AccountService, setting
    # clients_may_configure_ksef; off unless set); on update, None keeps the user's flag
    may_configure_ksef: bool | None = None


CHUNK = 500


def clean_user(data: UserInput) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    login = (data.login or "").strip()
    if not LOGIN_RE.fullmatch(login):
        errors["login"] = _(
            "Login {value} is not valid: 2-100 letters, digits, dots, dashes, @ or underscores."
        ).format(value=login or "''")
    full_name = " ".join((data.full_name or "").split())
    if not full_name:
        errors["full_name"] = _("Full name is required.")
    elif len(full_name) > 200:
        errors["full_name"] = _("Full name is too long (at most 200 characters).")
    email = (data.email or "").strip() or None
    if email and not EMAIL_RE.fullmatch(email):
        errors["email"] = _("E-mail {value} is not a valid address.").format(value=email)
    role = (data.role or "").strip().lower()
    role = {"administrator": "admin", "klient": "client", "administrator ": "admin"}.get(role, role)
    if role not in ROLES:
        errors["role"] = _("Role {value} is unknown: use admin or client.").format(value=data.role)
    for field, value in (("full_name", full_name), ("email", email)):
        problem = control_problem(value)
        if problem and field not in errors:
            errors[field] = problem
    values = {
        "login": login,
        "full_name": full_name,
        "email": email,
        "role": role,
        "active": bool(data.active),
        "may_configure_ksef": bool(data.may_configure_ksef),
        "search_key": key(search_key(f"{login} {full_name} {email or ''}"), SEARCH_KEY_LEN),
        "sort_key": key(sort_key(full_name), 400),
    }
    return values, errors


def _where(flt: UserFilter):
    conds = []
    if flt.text.strip():
        text = flt.text.strip()
        # cut like the stored keys (a key longer than its column is kept to the column's length)
        pattern = contains_pattern(key(search_key(text), SEARCH_KEY_LEN))
        # or a company the user belongs to, by its name or its NIP (from a company to its users)
        company = Company.search_key.like(contains_pattern(key(search_key(text), COMPANY_KEY_LEN)), escape="\\")
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 3 and not text.strip("0123456789- "):
            company = or_(company, Company.nip.like(contains_pattern(digits), escape="\\"))
        members = select(Membership.user_id).join(Company, Company.id == Membership.company_id).where(company)
        conds.append(or_(User.search_key.like(pattern, escape="\\"), User.id.in_(members)))
    if flt.role:
        conds.append(User.role == flt.role)
    return and_(true(), *conds)


_AUDITED = ("login", "full_name", "email", "role", "active", "may_configure_ksef")


class UserService:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def count(self, actor: Actor, flt: UserFilter = UserFilter()) -> int:
        require_admin(actor)
        with self.db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(User).where(_where(flt))).scalar_one())

    def page(self, actor: Actor, flt: UserFilter, offset: int, limit: int) -> list[UserRow]:
        require_admin(actor)
        members = (
            select(func.count()).select_from(Membership).where(Membership.user_id == User.id).scalar_subquery()
        )
        q = (
            select(User.id, User.login, User.full_name, User.email, User.role, User.active,
                   User.may_configure_ksef, members, User.version)
            .where(_where(flt))
            .order_by(User.sort_key, User.id)
            .offset(max(0, offset))
            .limit(max(0, limit))
        )
        with self.db.engine.connect() as conn:
            return [UserRow(*r) for r in conn.execute(q)]

    def ids(self, actor: Actor, flt: UserFilter = UserFilter()) -> list[int]:
        require_admin(actor)
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(User.id).where(_where(flt)).order_by(User.sort_key, User.id)).scalars())

    def get(self, actor: Actor, user_id: int) -> UserDetail:
        if not actor.is_admin and actor.id != user_id:
            require_admin(actor)
        with self.db.session() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(_("The user no longer exists."))
            company_ids = list(s.scalars(select(Membership.company_id).where(Membership.user_id == user_id)))
            return UserDetail(
                id=u.id, login=u.login, full_name=u.full_name, email=u.email, role=u.role,
                active=u.active, may_configure_ksef=u.may_configure_ksef, company_ids=sorted(company_ids),
                created_at=u.created_at, updated_at=u.updated_at, version=u.version,
            )

    def find_by_login(self, actor: Actor, login: str) -> UserDetail | None:
        with self.db.engine.connect() as conn:
            uid = conn.execute(select(User.id).where(User.login == login)).scalar()
        return self.get(actor, uid) if uid is not None else None

    def validate(self, data: UserInput) -> dict[str, str]:
        return clean_user(data)[1]

    def create(self, actor: Actor, data: UserInput, company_ids: Iterable[int] = ()) -> UserDetail:
        require_admin(actor)
        values, errors = clean_user(data)
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        try:
            with self.db.session() as s:
                if data.may_configure_ksef is None:
                    from ksef_tui.services.accounts import clients_may_configure_default

                    values["may_configure_ksef"] = clients_may_configure_default(s)
                u = User(**values, created_at=now, updated_at=now, version=1)
                s.add(u)
                s.flush()
                cids = sorted(set(company_ids))
                if cids:
                    found = set(s.scalars(select(Company.id).where(Company.id.in_(cids))))
                    if found != set(cids):
                        raise NotFound(_("A company given for the user no longer exists."))
                    s.execute(insert(Membership), [{"user_id": u.id, "company_id": c} for c in cids])
                after = {k: values[k] for k in _AUDITED} | {"company_ids": cids}
                audit.record(s, [audit.audit_values(actor, "user.create", "user", u.id, u.login, None, after, at=now)])
                uid = u.id
        except IntegrityError:
            raise ValidationFailed({"login": _("A user with login {login} already exists.").format(login=values["login"])}) from None
        return self.get(actor, uid)

    def update(self, actor: Actor, user_id: int, expected_version: int, data: UserInput) -> UserDetail:
        require_admin(actor)
        values, errors = clean_user(data)
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        try:
            with self.db.session() as s:
                u = s.get(User, user_id)
                if u is None:
                    raise NotFound(_("The user no longer exists."))
                before = {k: getattr(u, k) for k in _AUDITED}
                if data.may_configure_ksef is None:
                    values["may_configure_ksef"] = bool(u.may_configure_ksef)
                res = s.execute(
                    update(User).where(User.id == user_id, User.version == expected_version)
                    .values(**values, updated_at=now, version=User.version + 1)
                )
                if res.rowcount != 1:
                    raise ConflictError(_("Someone else changed this user since you opened it; reload it and try again."))
                changed = sorted(k for k in _AUDITED if before[k] != values[k])
                if changed:
                    audit.record(s, [audit.audit_values(
                        actor, "user.update", "user", user_id, values["login"],
                        {k: before[k] for k in changed}, {k: values[k] for k in changed}, at=now)])
        except IntegrityError:
            raise ValidationFailed({"login": _("A user with login {login} already exists.").format(login=values["login"])}) from None
        return self.get(actor, user_id)

    def set_memberships(self, actor: Actor, user_id: int, company_ids: Iterable[int], *,
                        expected_version: int | None = None) -> UserDetail:
        """Replace the user's companies. ``expected_version`` (the version the administrator saw):
        if the user changed since, :class:`ConflictError` and nothing is written."""
        require_admin(actor)
        cids = sorted(set(company_ids))
        with self.db.session() as s:
            # the user's row first, locked on PostgreSQL: concurrent saves queue here and each
            # then reads the memberships the one before wrote (never a duplicate-key error)
            locked = select(User).where(User.id == user_id).execution_options(populate_existing=True)
            if self.db.dialect == "postgresql":
                locked = locked.with_for_update()
            u = s.scalars(locked).first()
            if u is None:
                raise NotFound(_("The user no longer exists."))
            if expected_version is not None and u.version != expected_version:
                raise ConflictError(_("Someone else changed this user since you opened it; reload it and try again."))
            before = sorted(s.scalars(select(Membership.company_id).where(Membership.user_id == user_id)))
            _remove_credentials_of_companies_left(s, actor, u, set(before) - set(cids))
            if before != cids:
                s.execute(delete(Membership).where(Membership.user_id == user_id))
                if cids:
                    s.execute(insert(Membership), [{"user_id": user_id, "company_id": c} for c in cids])
                s.execute(update(User).where(User.id == user_id).values(version=User.version + 1, updated_at=self.clock()))
                audit.record(s, [audit.audit_values(actor, "user.memberships", "user", user_id, u.login,
                                                    {"company_ids": before}, {"company_ids": cids})])
        return self.get(actor, user_id)

    def companies_of(self, actor: Actor, user_id: int) -> list[tuple[int, str, str, bool]]:
        """(id, name, nip, ksef_enabled) of the user's companies, by name."""
        if not actor.is_admin and actor.id != user_id:
            require_admin(actor)
        q = (
            select(Company.id, Company.name, Company.nip, Company.ksef_enabled)
            .join(Membership, Membership.company_id == Company.id)
            .where(Membership.user_id == user_id)
            .order_by(Company.sort_key, Company.id)
        )
        with self.db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def set_may_configure(self, actor: Actor, user_id: int, expected_version: int, allowed: bool) -> UserDetail:
        """The user's detail: allow or block "may configure KSeF themselves" (administrators).

        Optimistic locking: ``expected_version`` is the version the administrator saw; if the
        user changed since, :class:`ConflictError` and nothing is written. A real change is
        audited like the serial operation (``user.ksef_allow`` / ``user.ksef_block``).
        """
        require_admin(actor)
        allowed = bool(allowed)
        now = self.clock()
        with self.db.session() as s:
            u = s.get(User, user_id)
            if u is None:
                raise NotFound(_("The user no longer exists."))
            if u.version != expected_version:
                raise ConflictError(_("Someone else changed this user since you opened it; reload it and try again."))
            if bool(u.may_configure_ksef) != allowed:
                res = s.execute(
                    update(User).where(User.id == user_id, User.version == expected_version)
                    .values(may_configure_ksef=allowed, updated_at=now, version=User.version + 1)
                )
                if res.rowcount != 1:
                    raise ConflictError(
                        _("Someone else changed this user since you opened it; reload it and try again."))
                audit.record(s, [audit.audit_values(
                    actor, "user.ksef_allow" if allowed else "user.ksef_block", "user", user_id, u.login,
                    {"may_configure_ksef": not allowed}, {"may_configure_ksef": allowed}, at=now)])
        return self.get(actor, user_id)

    def serial_preview(self, actor: Actor, ids: Iterable[int], allowed: bool,
                       hidden: Iterable[int] = ()) -> SerialPreview:
        """What :meth:`serial_set_may_configure` would do now (see ``CompanyService.serial_preview``)."""
        require_admin(actor)
        return preview_flag(
            self.db, ids, hidden, allowed, User.id, User.may_configure_ksef,
            lambda part: select(User.login, User.full_name).where(User.id.in_(part)).order_by(User.sort_key, User.id),
            lambda login, full_name: f"{visible(login)} ({visible(full_name)})")

    def serial_set_may_configure(
        self,
        actor: Actor,
        ids: Iterable[int],
        allowed: bool,
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> SerialResult:
        """Serial operation "Allow / Block KSeF self-service" over ``ids`` in ONE transaction.

        Every user ends in the requested state, or (on an error or cancellation) nothing changes.
        Each change is audited (``user.ksef_allow`` / ``user.ksef_block``).
        """
        require_admin(actor)
        wanted = sorted(set(int(i) for i in ids))
        total = len(wanted)
        action = "user.ksef_allow" if allowed else "user.ksef_block"
        changed: list[int] = []
        present: set[int] = set()
        now = self.clock()
        with self.db.session() as s:
            for start in range(0, total, CHUNK):
                if should_cancel is not None and should_cancel():
                    raise OperationCancelled(_("Cancelled; nothing was changed."))
                part = wanted[start : start + CHUNK]
                present.update(s.scalars(select(User.id).where(User.id.in_(part))))
                rows = s.execute(
                    update(User)
                    .where(User.id.in_(part), User.may_configure_ksef != allowed)
                    .values(may_configure_ksef=allowed, updated_at=now, version=User.version + 1)
                    .returning(User.id, User.login)
                ).all()
                audit.record(s, [
                    audit.audit_values(actor, action, "user", uid, login, {"may_configure_ksef": not allowed},
                                       {"may_configure_ksef": allowed}, at=now)
                    for uid, login in rows
                ])
                changed.extend(r[0] for r in rows)
                if progress is not None:
                    progress(min(start + CHUNK, total), total)
            if should_cancel is not None and should_cancel():
                raise OperationCancelled(_("Cancelled; nothing was changed."))
        done = set(changed)
        return SerialResult(
            changed=sorted(done),
            unchanged=[i for i in wanted if i in present and i not in done],
            missing=[i for i in wanted if i not in present],
        )



def _remove_credentials_of_companies_left(s, actor: Actor, user: User, leaving: set[int]) -> None:
    """A user who leaves a company loses the KSeF settings saved for it, each removal audited (they would
    otherwise stay behind sealed, where no screen shows them and nobody can remove them). The token
    stays valid in KSeF until it is revoked there; the audit entry names it by its last four signs."""
    if not leaving:
        return
    from ksef_tui.services.ksef.access import audit_facts, credential_label

    rows = list(s.scalars(select(KsefCredential).where(KsefCredential.user_id == user.id,
                                                       KsefCredential.company_id.in_(sorted(leaving)))))
    if not rows:
        return
    audit.record(s, [audit.audit_values(actor, "credential.remove", "credential", row.id,
                                        credential_label(s, user.id, row.company_id, row.environment),
                                        audit_facts(row), {"reason": "left the company"}) for row in rows])
    s.execute(delete(KsefCredential).where(KsefCredential.id.in_([row.id for row in rows])))
