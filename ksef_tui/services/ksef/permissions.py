"""The permission picture per company × environment (issue 15 item 3), the working model of each
company (item 7), and granting or withdrawing from the panel (item 5).

The picture is what KSeF said when it was last read, kept in ``ksef_permission`` with the time of
each reading, from three views:

* the **office's view** (the office's own credential in its own context): which clients granted the
  office what (``entities/grants``) and which employees the office authorized indirectly, for one
  client or all (``persons/grants``), with KSeF's state (Active/Inactive);
* the **client's view** (the office's credential in the client's context, where the client let it
  read grants): who holds what there directly;
* each **user's view** (their own credential in the client's context: ``personal/grants``, or the 415
  that says they hold nothing): written by the checks of :mod:`.diagnosis`.

A new reading replaces only what it covers. KSeF's request limits apply to all of it: every call goes
through the gateway of :class:`~.connections.Connections` (the host's limiter). Grants and withdrawals
are followed to their final status, audited, and the picture is updated from what KSeF then reports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import NotFound, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.access import operation_error
from ksef_tui.services.ksef.credentials import CredentialService
from ksef_tui.services.ksef.office import OfficeService
from ksef_tui.services.ksef.permission_letter import request_letter
from ksef_tui.services.ksef.permission_records import SEEN_OFFICE, PermissionRecords
from ksef_tui.services.ksef.permission_views import (
    ACTIVE,
    ENTITY,
    INACTIVE,
    INDIRECT,
    MODELS,
    OWNER,
    TOKEN,
    GrantOutcome,
    PermissionPicture,
)
from ksef_tui.store.models import (
    Company,
    KsefCredential,
    KsefPermission,
    Membership,
    User,
    utcnow,
)

if TYPE_CHECKING:
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import AuthSession
    from ksef_tui.ksef.permissions import EntityGrant, Identifier, PermissionGrant

DELEGABLE = ("InvoiceRead", "InvoiceWrite")


def parse_identifier(text: str) -> Identifier:
    """``"Pesel 44051401359"``, ``"Nip 5265877635"``, ``"Fingerprint …"``, or a bare PESEL (11 digits),
    NIP (10) or SHA-256 fingerprint (64 hex); :class:`ValidationFailed` otherwise."""
    import re

    from ksef_tui.ksef.permissions import Identifier

    raw = " ".join((text or "").split())
    kind, _sep, value = raw.partition(" ") if " " in raw else ("", "", raw)
    kind = {"pesel": "Pesel", "nip": "Nip", "fingerprint": "Fingerprint"}.get(kind.lower(), kind)
    value = value.replace("-", "") if kind != "Fingerprint" else value
    if not kind:
        kind = "Pesel" if re.fullmatch(r"\d{11}", value) else "Nip" if re.fullmatch(r"\d{10}", value) else (
            "Fingerprint" if re.fullmatch(r"[0-9A-Fa-f]{64}", value) else "")
    ok = {"Pesel": r"\d{11}", "Nip": r"\d{10}", "Fingerprint": r"[0-9A-Fa-f]{64}"}.get(kind)
    if ok is None or not re.fullmatch(ok, value):
        raise ValidationFailed({"identifier": _(
            "Give a PESEL (11 digits), a NIP (10 digits) or a certificate fingerprint (64 hex characters).")})
    return Identifier(kind, value.upper() if kind == "Fingerprint" else value)


@dataclass
class OfficeGrants:
    """The office's view in one environment, as read from KSeF (or why it could not be read)."""

    nip: str
    identity: Identifier | None
    entities: list[EntityGrant] = field(default_factory=list)
    indirect: list[PermissionGrant] = field(default_factory=list)
    read_at: dt.datetime | None = None
    client: str | None = None  # read for this client only (None: every client)
    error: Exception | None = None

    def delegated(self, client_nip: str, scope: str) -> bool:
        return any(g.context.value == client_nip and g.scope == scope and g.can_delegate for g in self.entities)

    def from_client(self, client_nip: str) -> list[EntityGrant]:
        return [g for g in self.entities if g.context.type == "Nip" and g.context.value == client_nip]

    def state_in(self, grant: PermissionGrant, client_nip: str) -> str:
        """An indirect grant's state in this client's context: KSeF's state for a grant naming this
        client; for a grant for all clients, whether this client delegated the scope to the office."""
        if grant.target is not None and grant.target.type == "Nip":
            return grant.state if grant.target.value == client_nip else INACTIVE
        return ACTIVE if self.delegated(client_nip, grant.scope) else INACTIVE

    def for_client(self, grant: PermissionGrant, client_nip: str) -> bool:
        t = grant.target
        return t is not None and (t.type == "AllPartners" or (t.type == "Nip" and t.value == client_nip)
                                  or (t.type == "InternalId" and (t.value or "").startswith(client_nip + "-")))


@dataclass(frozen=True)
class GrantSubject:
    """Who an indirect grant is for, and for which client (None: every client of the office)."""

    user_id: int
    login: str
    name: str
    client_nip: str | None
    client_name: str | None
    client_model: str | None = None  # the client's working model (PROTOCOL.md §17 A–D; None: not chosen)

    def audit(self, ident: Identifier, scopes: Sequence[str]) -> tuple[str, dict[str, Any]]:
        label = f"{self.login} · {ident} · " + (format_nip(self.client_nip) if self.client_nip else _("all clients"))
        return label, {"user": self.login, "identifier": str(ident), "scopes": list(scopes),
                       "client": self.client_nip or "AllPartners"}


def _target_text(target: Identifier | None) -> str | None:
    if target is None:
        return None
    return "AllPartners" if target.type == "AllPartners" else str(target)


class PermissionService(PermissionRecords):
    def __init__(self, credentials: CredentialService, *, office: OfficeService | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.credentials = credentials
        self.db = credentials.db
        self.clock = clock
        self.office = office or OfficeService(credentials, clock=clock)

    # ---- the working model -------------------------------------------------------------

    def set_model(self, actor: Actor, company_id: int, model: str | None) -> str | None:
        require_admin(actor)
        model = (model or "").strip().upper() or None
        if model is not None and model not in MODELS:
            raise ValidationFailed({"model": _("Choose the working model A, B, C or D (or none).")})
        with self.db.session() as s:
            company = s.get(Company, company_id)
            if company is None:
                raise NotFound(_("The company no longer exists."))
            if company.ksef_model != model:
                audit.record(s, [audit.audit_values(actor, "company.ksef_model", "company", company_id, company.name,
                                                    {"ksef_model": company.ksef_model}, {"ksef_model": model})])
                company.ksef_model = model
        return model

    # ---- the office's view (from KSeF) ----------------------------------------------------

    async def read_office(self, gw: KsefGateway, env: Environment, *, client_nip: str | None = None,
                          identifiers: Sequence[Identifier] | None = None) -> OfficeGrants | None:
        """The office's view in ``env`` (every client, or only ``client_nip`` and these identifiers);
        None when the office has no credential there. KSeF's refusal is kept in ``error``."""
        from ksef_tui.ksef.errors import KsefError

        opened = await asyncio.to_thread(self.office.opened, env)
        if opened is None:
            return None
        nip, _method, _material, identity = opened
        grants = OfficeGrants(nip, identity, client=client_nip)
        try:
            session = await self.office.authorize(gw, env, opened=opened)
            from ksef_tui.ksef.permissions import Identifier

            perms = gw.permissions
            grants.entities = await perms.entities(session, client=Identifier("Nip", client_nip) if client_nip else None)
            if identifiers is None:
                grants.indirect = [g for g in await perms.persons(session) if g.indirect]
            else:
                for ident in identifiers:
                    if ident.type in ("Nip", "Pesel", "Fingerprint"):
                        grants.indirect += [g for g in await perms.persons(session, authorized=ident) if g.indirect]
            grants.read_at = self.clock()
        except KsefError as exc:
            grants.error = exc
        return grants

    def store_office(self, env: Environment, grants: OfficeGrants, *, user_ids: Sequence[int] | None = None,
                     known: dict[tuple[str, str], int] | None = None) -> None:
        """Replace what the office's view covers: every company (a full reading) or one client's
        office rows and these users' indirect rows there. ``known``: identifiers of users that no
        certificate names yet (a grant just made from the panel for them)."""
        if grants.error is not None or grants.read_at is None:
            return
        now = grants.read_at
        with self.db.session() as s:
            companies = {nip: cid for cid, nip in s.execute(select(Company.id, Company.nip).where(
                Company.nip == grants.client) if grants.client else select(Company.id, Company.nip))}
            idents = self.identifiers_in(s, env)
            owner_of = {(i.type, (i.value or "").upper()): uid for uid, ids in idents.items() for i in ids}
            owner_of.update({(t, v.upper()): uid for (t, v), uid in (known or {}).items()})
            members: dict[int, set[int]] = {}
            for uid, cid in s.execute(select(Membership.user_id, Membership.company_id)):
                members.setdefault(uid, set()).add(cid)
            p = KsefPermission
            stmt = delete(p).where(p.environment == env.value, p.seen_by == SEEN_OFFICE)
            if grants.client:
                cid = companies.get(grants.client)
                stmt = stmt.where(p.company_id == cid)
                if user_ids is not None:
                    stmt = stmt.where(or_(p.holder == "office", p.user_id.in_(list(user_ids))))
            s.execute(stmt)
            new: list[dict[str, Any]] = []
            for g in grants.entities:
                cid = companies.get(g.context.value or "")
                if cid is not None:
                    new.append(dict(company_id=cid, environment=env.value, user_id=None, holder="office",
                                    identifier_type="Nip", identifier_value=grants.nip, scope=g.scope, source=ENTITY,
                                    state=ACTIVE, can_delegate=g.can_delegate, target=None, permission_id=g.id,
                                    description=g.description[:256], subject_name=None, seen_by=SEEN_OFFICE,
                                    read_at=now))
            for g in grants.indirect:
                who = g.authorized
                uid = owner_of.get((who.type, (who.value or "").upper())) if who else None
                if user_ids is not None and grants.client and uid not in user_ids:
                    continue
                if g.target is not None and g.target.type == "Nip":
                    where = [companies[g.target.value]] if g.target.value in companies else []
                else:  # for all clients: shown in the companies the user belongs to
                    where = sorted(members.get(uid, set()) & set(companies.values())) if uid else []
                for cid in where:
                    client_nip = next(n for n, c in companies.items() if c == cid)
                    new.append(dict(company_id=cid, environment=env.value, user_id=uid,
                                    holder="user" if uid else "other",
                                    identifier_type=who.type if who else None, identifier_value=who.value if who else None,
                                    scope=g.scope, source=INDIRECT, state=grants.state_in(g, client_nip),
                                    can_delegate=g.can_delegate, target=_target_text(g.target), permission_id=g.id,
                                    description=g.description[:256], subject_name=(g.subject_name or "")[:200] or None,
                                    seen_by=SEEN_OFFICE, read_at=now))
            if new:
                s.execute(p.__table__.insert(), new)
        if grants.client is None:
            self.office.mark_read(env, now)

    # ---- the client's view ------------------------------------------------------------------

    async def read_client(self, gw: KsefGateway, env: Environment, company_id: int, *,
                          known: dict[tuple[str, str], int] | None = None) -> str | None:
        """Who holds what in the client's context, read with the office's credential there; stored.
        Returns what could not be read (None: read)."""
        from ksef_tui.ksef.errors import KsefError

        opened = await asyncio.to_thread(self.office.opened, env)
        if opened is None:
            return _("The office has no KSeF credential for {env}.").format(env=env.value)
        if opened[1] == AuthMethod.TOKEN.value:
            return _("The office's credential is a token of the office's own context; it cannot read the client's grants.")
        nip = await asyncio.to_thread(self._company_nip, company_id)
        try:
            session = await self.office.authorize(gw, env, nip, opened=opened)
            grants = await gw.permissions.persons(session)
        except KsefError as exc:
            from ksef_tui.ksef.diagnostics import classify

            signal = classify(exc)
            return _("The office cannot read the client's grants ({code}: {text}).").format(
                code=signal.code or signal.cause, text=signal.text)
        await asyncio.to_thread(self._store_client, env, company_id, grants, opened[0], known)
        return None

    # ---- reading a whole company ---------------------------------------------------------

    async def read_picture(self, actor: Actor, company_id: int, env: Environment, *,
                           base_url: str | None = None) -> PermissionPicture:
        """Read the company's picture from KSeF: the office's view of this client, the client's view
        (where the office may read it) and every configured user's own check; then the picture."""
        require_admin(actor)
        from ksef_tui.services.ksef.diagnosis import DiagnosisService

        def configured() -> tuple[str, list[int]]:
            with self.db.session() as s:
                return self._company_nip(company_id), [uid for (uid,) in s.execute(select(KsefCredential.user_id).where(
                    KsefCredential.company_id == company_id, KsefCredential.environment == env.value))]

        nip, users = await asyncio.to_thread(configured)
        notes: list[str] = []
        diagnosis = DiagnosisService(self)
        async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
            office = await self.read_office(gw, env, client_nip=nip)
            if office is None:
                notes.append(_("The office has no KSeF credential for {env}: its view was not read.").format(env=env.value))
            elif office.error is not None:
                notes.append(_("The office's view could not be read: {reason}").format(reason=office.error))
            else:
                await asyncio.to_thread(self.store_office, env, office)
            note = await self.read_client(gw, env, company_id)
            if note:
                notes.append(note)
            for uid in users:
                await diagnosis.check(actor, gw, uid, company_id, env, office=office)
        await asyncio.to_thread(self.mark_picture_read, company_id, env, notes)
        return await asyncio.to_thread(self.picture, actor, company_id, env)

    # ---- granting and withdrawing ------------------------------------------------------------

    async def grant_indirect(self, actor: Actor, env: Environment, user_id: int, identifier: str,
                             scopes: Sequence[str], company_id: int | None, *,
                             base_url: str | None = None) -> GrantOutcome:
        """From the office's context: ``scopes`` (InvoiceRead/InvoiceWrite) for the user, for one client
        (``company_id``) or for every client (None); followed to its final status and audited."""
        require_admin(actor)
        ident = parse_identifier(identifier)
        scopes = self._delegable(scopes)
        who = await asyncio.to_thread(self.grant_subject, user_id, company_id)
        label, facts = who.audit(ident, scopes)
        outcome = await self._operate(actor, env, base_url, None, self.indirect_act(ident, scopes, who),
                                      "permission.grant_indirect", label, facts)
        if outcome.ok:
            await self._refresh_office(env, base_url, who.client_nip, [ident], [user_id])
        return outcome

    def grant_subject(self, user_id: int, company_id: int | None) -> GrantSubject:
        """The user and the client (None: every client) of an indirect grant, as the grant names them."""
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(_("The user no longer exists."))
            client = s.get(Company, company_id) if company_id is not None else None
            if company_id is not None and client is None:
                raise NotFound(_("The company no longer exists."))
            return GrantSubject(user_id, user.login, user.full_name, client.nip if client else None,
                                client.name if client else None, client.ksef_model if client else None)

    @staticmethod
    def indirect_act(ident: Identifier, scopes: Sequence[str],
                     who: GrantSubject) -> Callable[[KsefGateway, AuthSession], Any]:
        from ksef_tui.ksef.permissions import PersonName

        description = _("Office employee {name}: invoices of {client}").format(
            name=who.name, client=who.client_name or _("all clients"))

        async def act(gw: KsefGateway, session: AuthSession) -> str:
            return await gw.permissions.grant_indirect(session, ident, scopes, description[:256],
                                                       PersonName.split(who.name), client_nip=who.client_nip)

        return act

    async def grant_person(self, actor: Actor, env: Environment, company_id: int, user_id: int, identifier: str,
                           scopes: Sequence[str], *, base_url: str | None = None) -> GrantOutcome:
        """In the client's context, with the office's credential there (it needs CredentialsManage)."""
        require_admin(actor)
        from ksef_tui.ksef.permissions import PERSON_PERMISSIONS, PersonName

        ident = parse_identifier(identifier)
        scopes = [p for p in dict.fromkeys(scopes) if p]
        if not scopes or any(p not in PERSON_PERMISSIONS for p in scopes):
            raise ValidationFailed({"scopes": _("Choose the permissions to grant.")})
        def read() -> tuple[str, str, str, str]:
            with self.db.session() as s:
                user, company = s.get(User, user_id), s.get(Company, company_id)
                if user is None or company is None:
                    raise NotFound(_("The user or the company no longer exists."))
                return user.full_name, user.login, company.nip, company.name

        name, login, nip, cname = await asyncio.to_thread(read)
        description = _("Granted by the office for {name}").format(name=name)

        async def act(gw: KsefGateway, session: AuthSession) -> str:
            return await gw.permissions.grant_person(session, ident, scopes, description[:256],
                                                     PersonName.split(name))

        outcome = await self._operate(actor, env, base_url, nip, act, "permission.grant_person",
                                      f"{login} · {ident} · {format_nip(nip)}",
                                      {"user": login, "identifier": str(ident), "scopes": list(scopes),
                                       "company": cname, "nip": nip})
        if outcome.ok:
            await self._refresh_client(env, base_url, company_id, {(ident.type, ident.value or ""): user_id})
        return outcome

    async def withdraw(self, actor: Actor, env: Environment, company_id: int, permission_id: str, *,
                       base_url: str | None = None) -> GrantOutcome:
        """Withdraw a grant of the picture: an indirect grant from the office's context, a direct one in
        the client's context (the office's credential needs CredentialsManage there)."""
        require_admin(actor)

        def read() -> tuple[bool, dict[str, Any], str, int | None, str | None, str | None]:
            with self.db.session() as s:
                row = s.scalars(select(KsefPermission).where(
                    KsefPermission.company_id == company_id, KsefPermission.environment == env.value,
                    KsefPermission.permission_id == permission_id)).first()
                company = s.get(Company, company_id)
                if row is None or company is None:
                    raise NotFound(_("This permission is no longer in the picture; read it from KSeF again."))
                if row.source in (OWNER, TOKEN):
                    raise ServiceError(_("An owner's permissions and a token's cannot be withdrawn here."))
                if row.source == ENTITY:
                    raise ServiceError(_("Only the client can withdraw its grant to the office."))
                facts = {"permission_id": permission_id, "scope": row.scope, "source": row.source,
                         "identifier": f"{row.identifier_type} {row.identifier_value}", "company": company.name,
                         "target": row.target}
                return (row.source == INDIRECT, facts, company.nip, row.user_id, row.identifier_type,
                        row.identifier_value)

        indirect, facts, nip, uid, ident_type, ident_value = await asyncio.to_thread(read)

        async def act(gw: KsefGateway, session: AuthSession) -> str:
            return await gw.permissions.revoke(session, permission_id)

        outcome = await self._operate(actor, env, base_url, None if indirect else nip, act,
                                      "permission.withdraw", f"{facts['identifier']} · {format_nip(nip)}", facts)
        if outcome.ok:
            if indirect:
                from ksef_tui.ksef.permissions import Identifier

                ident = Identifier(ident_type, ident_value) if ident_type and ident_value else None

                def forget() -> None:
                    with self.db.session() as s:
                        s.execute(delete(KsefPermission).where(KsefPermission.permission_id == permission_id,
                                                               KsefPermission.environment == env.value))

                await asyncio.to_thread(forget)
                await self._refresh_office(env, base_url, nip, [ident] if ident else [], [uid] if uid else [])
            else:
                await self._refresh_client(env, base_url, company_id)
        return outcome

    @staticmethod
    def _delegable(scopes: Sequence[str]) -> list[str]:
        chosen = [p for p in dict.fromkeys(scopes) if p]
        if not chosen or any(p not in DELEGABLE for p in chosen):
            raise ValidationFailed({"scopes": _("Choose InvoiceRead, InvoiceWrite or both: only these can be granted through the office.")})
        return chosen

    async def _operate(self, actor: Actor, env: Environment, base_url: str | None, context_nip: str | None,
                       act: Callable[[KsefGateway, AuthSession], Any], action: str, label: str,
                       facts: dict[str, Any]) -> GrantOutcome:
        """Authorize the office (in its context or ``context_nip``), start the operation, follow it to its
        final status, and audit what KSeF decided."""
        from ksef_tui.ksef.errors import KsefError

        opened = await asyncio.to_thread(self.office.opened, env)
        if opened is None:
            raise ServiceError(_("The office has no KSeF credential for {env}; set it in the office's KSeF identity.").format(
                env=env.value))
        try:
            async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
                session = await self.office.authorize(gw, env, context_nip, opened=opened)
                outcome = await self.follow(gw, session, act)
        except KsefError as exc:  # the office could not log in: KSeF never took the operation
            raise operation_error(exc) from None
        await asyncio.to_thread(self.audit_operation, actor, env, action, label, facts, outcome)
        return outcome

    @staticmethod
    async def follow(gw: KsefGateway, session: AuthSession,
                     act: Callable[[KsefGateway, AuthSession], Any]) -> GrantOutcome:
        """Start an operation and follow it to KSeF's final status. KSeF's refusal to take it at all
        raises (nothing happened); after it took it, the outcome says what KSeF decided."""
        from ksef_tui.ksef.errors import KsefError, KsefOperationFailed

        ref = await act(gw, session)
        try:
            await gw.permissions.wait_operation(session, ref)
        except KsefOperationFailed as exc:
            return GrantOutcome(False, str(exc), exc.reference_number or ref,
                                None if exc.code is None else str(exc.code), exc.hint, exc.details)
        except KsefError as exc:
            err = operation_error(exc)
            return GrantOutcome(False, _("KSeF took the operation ({ref}) but its final status could not be read: {reason}").format(
                ref=ref, reason=exc), ref, err.code, err.hint)
        return GrantOutcome(True, _("KSeF carried out the operation."), ref)

    def audit_operation(self, actor: Actor, env: Environment, action: str, label: str, facts: dict[str, Any],
                        outcome: GrantOutcome) -> None:
        with self.db.session() as s:
            audit.record(s, [audit.audit_values(
                actor, action if outcome.ok else action + "_failed", "permission", None, label, None,
                {**facts, "environment": env.value, "reference": outcome.reference_number,
                 "status": "done" if outcome.ok else outcome.code}, at=self.clock())])

    async def _refresh_office(self, env: Environment, base_url: str | None, client_nip: str | None,
                              identifiers: Sequence[Identifier], user_ids: Sequence[int]) -> None:
        async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
            grants = await self.read_office(gw, env, client_nip=client_nip, identifiers=None if client_nip is None
                                            else identifiers)
        if grants is not None:
            known = {(i.type, i.value or ""): uid for i, uid in zip(identifiers, user_ids, strict=False)}
            await asyncio.to_thread(partial(self.store_office, env, grants,
                                            user_ids=None if client_nip is None else user_ids, known=known))

    async def _refresh_client(self, env: Environment, base_url: str | None, company_id: int,
                              known: dict[tuple[str, str], int] | None = None) -> None:
        async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
            await self.read_client(gw, env, company_id, known=known)

    # ---- what only the client can do -------------------------------------------------------

    def request_text(self, actor: Actor, company_id: int, env: Environment, *, user_id: int | None = None,
                     scopes: Sequence[str] = DELEGABLE, delegate: bool = True) -> str:
        """The words to send the client: a grant to the office (``user_id`` None), or to one person."""
        require_admin(actor)
        office_nip, office_name = self.office.identity()
        with self.db.session() as s:
            company = s.get(Company, company_id)
            if company is None:
                raise NotFound(_("The company no longer exists."))
            cname, nip = company.name, company.nip
            person = s.get(User, user_id) if user_id is not None else None
            idents = self.identifiers_in(s, env, [user_id]).get(user_id, []) if user_id is not None else []
        return request_letter(env, cname, nip, scopes, office_nip=office_nip, office_name=office_name,
                              person=person.full_name if person else None,
                              identifier=str(idents[0]) if idents else None, delegate=delegate)


    def save_request(self, actor: Actor, text: str, folder: Path, company_id: int, env: Environment) -> Path:
        """Write a request to the client into ``folder`` (to print or send): a new file, mode 0600,
        written whole or not at all (:mod:`ksef_tui.files`)."""
        require_admin(actor)
        from ksef_tui.files import private_folder, write_atomic

        with self.db.session() as s:
            company = s.get(Company, company_id)
            nip = company.nip if company else "firma"
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        where = private_folder(folder, tighten=False)
        return write_atomic(where / f"wniosek-ksef-{nip}-{env.value.lower()}-{stamp}.txt", text, exclusive=True)
