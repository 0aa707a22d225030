"""The permission picture as the database keeps it (``ksef_permission``, ``ksef_permission_read``):
the users' KSeF identities, the picture of a company in an environment read back for the screens,
and the rows each reading replaces (the client's view, a user's own view, when the picture was
read). :class:`~.permissions.PermissionService` adds the readings from KSeF, grants and withdrawals
on top of this base; see :mod:`.permissions` for the three views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from ksef_tui.errors import NotFound
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.office import OfficeService, identifier_of
from ksef_tui.services.ksef.permission_views import (
    DIRECT,
    ENTITY,
    Holder,
    PermissionLine,
    PermissionPicture,
)
from ksef_tui.services.ksef.views import aware
from ksef_tui.store.models import (
    Company,
    KsefCredential,
    KsefPermission,
    KsefPermissionRead,
    Membership,
    User,
)

if TYPE_CHECKING:
    from ksef_tui.domain.environments import Environment
    from ksef_tui.ksef.permissions import Identifier, PermissionGrant
    from ksef_tui.store.engine import Database

#: which reading wrote a row (a new reading replaces only its own rows)
SEEN_OFFICE, SEEN_CLIENT, SEEN_USER = "office", "client", "user"


class PermissionRecords:
    """Reads and writes of the stored picture; the base of :class:`~.permissions.PermissionService`."""

    db: Database
    clock: Callable[[], dt.datetime]
    office: OfficeService

    # ---- identities ----------------------------------------------------------------------

    @staticmethod
    def identifiers_in(s: Any, env: Environment, user_ids: Iterable[int] | None = None) -> dict[int, list[Identifier]]:
        """Each user's KSeF identities in ``env``: their certificates' identities, and the identifiers
        grants were found for earlier (grants made from the panel record theirs)."""
        from ksef_tui.ksef.permissions import Identifier

        out: dict[int, list[Identifier]] = {}

        def add(uid: int, ident: Identifier | None) -> None:
            if ident is not None and not any(ident.same(i) for i in out.setdefault(uid, [])):
                out[uid].append(ident)

        c = KsefCredential
        stmt = select(c.user_id, c.cert_identifier, c.cert_fingerprint).where(
            c.environment == env.value, c.cert_blob.is_not(None))
        p = KsefPermission
        rows = select(p.user_id, p.identifier_type, p.identifier_value).where(
            p.environment == env.value, p.user_id.is_not(None), p.identifier_value.is_not(None)).distinct()
        if user_ids is not None:
            ids = list(user_ids)
            stmt, rows = stmt.where(c.user_id.in_(ids)), rows.where(p.user_id.in_(ids))
        for uid, ident, fp in s.execute(stmt):
            add(uid, identifier_of(ident, fp))
        for uid, kind, value in s.execute(rows):
            add(uid, Identifier(kind, value))
        return out

    def identifiers(self, user_id: int, env: Environment) -> list[Identifier]:
        with self.db.session() as s:
            return self.identifiers_in(s, env, [user_id]).get(user_id, [])

    # ---- the picture (from the database) -----------------------------------------------------

    def picture(self, actor: Actor, company_id: int, env: Environment) -> PermissionPicture:
        require_admin(actor)
        office_nip, office_name = self.office.identity()
        with self.db.session() as s:
            company = s.get(Company, company_id)
            if company is None:
                raise NotFound(_("The company no longer exists."))
            members = s.execute(select(User.id, User.login, User.full_name)
                                .join(Membership, Membership.user_id == User.id)
                                .where(Membership.company_id == company_id)
                                .order_by(User.sort_key, User.id)).all()
            creds = {r.user_id: r for r in s.scalars(select(KsefCredential).where(
                KsefCredential.company_id == company_id, KsefCredential.environment == env.value))}
            rows = list(s.scalars(select(KsefPermission).where(
                KsefPermission.company_id == company_id, KsefPermission.environment == env.value)
                .order_by(KsefPermission.id)))
            read = s.get(KsefPermissionRead, (company_id, env.value))
            idents = self.identifiers_in(s, env, [m.id for m in members])
            configured = self.office.opened_row_exists(s, env, office_nip)
        lines = _dedupe(rows)
        users = []
        for uid, login, full_name in members:
            cred = creds.get(uid)
            mine = tuple(line for r, line in lines if r.holder == "user" and r.user_id == uid)
            ids = idents.get(uid) or []
            users.append(Holder("user", full_name, mine, uid, login, str(ids[0]) if ids else None,
                                cred.method if cred else None, cred.permission_cause if cred else None,
                                aware(cred.permission_checked_at) if cred else None))
        office = None
        if office_nip:
            office = Holder("office", office_name or _("the office"),
                            tuple(line for r, line in lines if r.holder == "office"),
                            identifier=f"Nip {office_nip}")
        others: dict[str, list[PermissionLine]] = {}
        names: dict[str, str] = {}
        member_ids = {m.id for m in members}
        for r, line in lines:
            if r.holder == "other" or (r.holder == "user" and r.user_id not in member_ids):
                key = line.identifier or "?"
                others.setdefault(key, []).append(line)
                names.setdefault(key, r.subject_name or key)
        return PermissionPicture(
            company_id, company.name, company.nip, env, company.ksef_model, office, tuple(users),
            tuple(Holder("other", names[k], tuple(v), identifier=k) for k, v in others.items()),
            aware(read.read_at) if read else None, read.note if read else None, configured)
    def _company_nip(self, company_id: int) -> str:
        with self.db.session() as s:
            company = s.get(Company, company_id)
            if company is None:
                raise NotFound(_("The company no longer exists."))
            return company.nip

    def _store_client(self, env: Environment, company_id: int, grants: Sequence[PermissionGrant], office_nip: str,
                      known: dict[tuple[str, str], int] | None) -> None:
        """Replace the client's view of a company with ``grants`` (as read now)."""
        now = self.clock()
        with self.db.session() as s:
            idents = self.identifiers_in(s, env)
            owner_of = {(i.type, (i.value or "").upper()): uid for uid, ids in idents.items() for i in ids}
            owner_of.update({(t, v.upper()): uid for (t, v), uid in (known or {}).items()})
            p = KsefPermission
            s.execute(delete(p).where(p.company_id == company_id, p.environment == env.value, p.seen_by == SEEN_CLIENT))
            new = []
            for g in grants:
                if g.indirect or g.authorized is None:
                    continue
                who = g.authorized
                uid = owner_of.get((who.type, (who.value or "").upper()))
                office = who.type == "Nip" and who.value == office_nip
                new.append(dict(company_id=company_id, environment=env.value, user_id=None if office else uid,
                                holder="office" if office else "user" if uid else "other",
                                identifier_type=who.type, identifier_value=who.value, scope=g.scope,
                                source=ENTITY if office else DIRECT, state=g.state, can_delegate=g.can_delegate,
                                target=None, permission_id=g.id, description=g.description[:256],
                                subject_name=(g.subject_name or "")[:200] or None, seen_by=SEEN_CLIENT, read_at=now))
            if new:
                s.execute(p.__table__.insert(), new)
        return None

    def mark_picture_read(self, company_id: int, env: Environment, notes: Sequence[str]) -> None:
        now = self.clock()
        with self.db.session() as s:
            row = s.get(KsefPermissionRead, (company_id, env.value))
            note = "; ".join(n for n in notes if n)[:500] or None
            if row is None:
                s.add(KsefPermissionRead(company_id=company_id, environment=env.value, read_at=now, note=note))
            else:
                row.read_at, row.note = now, note

    # ---- a user's own view (written by the checks) --------------------------------------

    def store_user_view(self, user_id: int, company_id: int, env: Environment, lines: Sequence[PermissionLine],
                        identity: Identifier | None, *, session: Any = None) -> None:
        """Replace what the user's own reading covers (their permissions in the company), as read now
        (in ``session``'s transaction when given)."""
        if session is None:
            with self.db.session() as s:
                self.store_user_view(user_id, company_id, env, lines, identity, session=s)
            return
        now = self.clock()
        p = KsefPermission
        session.execute(delete(p).where(p.company_id == company_id, p.environment == env.value,
                                        p.user_id == user_id, p.seen_by == SEEN_USER))
        new = [dict(company_id=company_id, environment=env.value, user_id=user_id, holder="user",
                    identifier_type=identity.type if identity else None,
                    identifier_value=identity.value if identity else None, scope=line.scope, source=line.source,
                    state=line.state, can_delegate=line.can_delegate, target=line.target,
                    permission_id=line.permission_id, description=line.description[:256] or None,
                    subject_name=None, seen_by=SEEN_USER, read_at=now) for line in lines]
        if new:
            session.execute(p.__table__.insert(), new)


def _dedupe(rows: Sequence[KsefPermission]) -> list[tuple[KsefPermission, PermissionLine]]:
    """One line per grant: the same grant seen by several readings shows once, as read last (a user's
    own reading of an indirect grant says whether it works in this company: it wins over the office's)."""
    order = {SEEN_USER: 2, SEEN_CLIENT: 1, SEEN_OFFICE: 0}
    best: dict[tuple[Any, ...], KsefPermission] = {}
    for r in rows:
        key = (r.holder, r.user_id, r.permission_id or (r.source, r.scope, r.identifier_value))
        have = best.get(key)
        if have is None or (aware(r.read_at), order.get(r.seen_by, 0)) > (aware(have.read_at), order.get(have.seen_by, 0)):
            best[key] = r
    out = []
    for r in best.values():
        ident = f"{r.identifier_type} {r.identifier_value}" if r.identifier_type and r.identifier_value else None
        out.append((r, PermissionLine(r.scope, r.source, r.state, r.can_delegate, r.target, r.permission_id,
                                      r.description or "", ident, aware(r.read_at))))
    out.sort(key=lambda p: (p[0].holder, p[0].user_id or 0, p[1].scope, p[1].source))
    return out
