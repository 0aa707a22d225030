"""Why can't user U log in to KSeF for company X (issue 15 item 4): the ordered checklist of
PROTOCOL.md §17, each step with its evidence, one stable ``cause``, and the fix in the user's terms.

The order: KSeF on for the company, a credential configured, the environment, the credential itself,
a blocked subject, a permission in X, the chain client → office → employee, the identity type, KSeF
available, the login in time. What can be told locally is told without a call; then the user's own
credential authorizes in X (a final answer from KSeF), and on a 415 the office's view says whether
the chain is broken or the grant is for another identity. The fix follows the company's working model
(A–D) and is offered as an action where the office's own credential may carry it out.

A check records KSeF's final answers: the authorization (like "Test authorization"), the credential's
permission cause and the user's permissions in the picture. KSeF unavailable or a request limit is no
answer: nothing is recorded then ("never half a result").
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import NotFound, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.access import apply_outcome, credential_label
from ksef_tui.services.ksef.diagnosis_texts import STEPS, cause_text, fix_text, step_title
from ksef_tui.services.ksef.office import identifier_of
from ksef_tui.services.ksef.permission_letter import request_letter
from ksef_tui.services.ksef.permission_records import SEEN_CLIENT
from ksef_tui.services.ksef.permission_views import (
    ACTIVE,
    DIRECT,
    ENTITY,
    INDIRECT,
    OWNER,
    STEP_FAIL,
    STEP_OK,
    STEP_SKIP,
    STEP_UNKNOWN,
    TOKEN,
    Action,
    Diagnosis,
    PermissionLine,
    Step,
)
from ksef_tui.services.ksef.permissions import OfficeGrants, PermissionService
from ksef_tui.services.ksef.views import AuthOutcome, aware
from ksef_tui.store.models import Company, KsefCredential, KsefPermission, User

if TYPE_CHECKING:
    from ksef_tui.ksef.diagnostics import Signal
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import AuthSession
    from ksef_tui.ksef.permissions import Identifier, PermissionGrant

_AUTH_STEP = {  # where a failed authorization's cause belongs in the checklist
    "environment-mismatch": "environment", "certificate-expired": "credential", "certificate-revoked": "credential",
    "certificate-not-for-login": "credential", "token-revoked": "credential", "token-inactive": "credential",
    "token-other-context": "credential", "token-invalid": "credential", "subject-blocked": "blocked",
    "no-permission": "permission", "ksef-unavailable": "availability", "rate-limited": "availability",
    "challenge-expired": "challenge",
}


@dataclass
class _Subject:
    """What one check needs from the database, read in one short transaction."""

    user_id: int
    login: str
    name: str
    company_id: int
    company: str
    nip: str
    ksef_enabled: bool
    model: str | None
    env: Environment
    configured: bool = False
    method: str | None = None
    version: int = 0
    material: Any = None
    token_reference: str | None = None
    token_permissions: tuple[str, ...] = ()
    cert_valid_to: dt.datetime | None = None
    identity: Identifier | None = None
    identifiers: list[Identifier] = field(default_factory=list)
    token_elsewhere: list[str] = field(default_factory=list)  # other environments where this token works
    stored_other: list[str] = field(default_factory=list)  # direct grants found for another identity of the user
    granted: str | None = None  # the identity a grant was found for, when it is not the one logging in
    office_nip: str | None = None
    office_name: str | None = None
    scopes: tuple[str, ...] = ()  # the permissions the fix is about (empty: InvoiceRead and InvoiceWrite)
    office_usable: bool = False  # the office has a credential of its own in this environment


class _Checklist:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.steps: dict[str, Step] = {}

    def set(self, key: str, status: str, evidence: str = "", code: str | None = None) -> None:
        self.steps[key] = Step(key, step_title(key, self.env), status, evidence, code)

    def done(self) -> tuple[Step, ...]:
        return tuple(self.steps.get(k) or Step(k, step_title(k, self.env), STEP_SKIP) for k in STEPS)


def _said(signal: Signal) -> str:
    """KSeF's answer as evidence (KSeF's text is untrusted: front ends show it as plain text)."""
    code = signal.code or "-"
    return _("KSeF answered {code}: {text}").format(code=code, text=signal.text or "-")


def _grant_text(g: PermissionGrant, state: str | None = None) -> str:
    target = "AllPartners" if g.target and g.target.type == "AllPartners" else str(g.target) if g.target else "-"
    return _("{scope} for {who}, client {target}, {state}").format(
        scope=g.scope, who=g.authorized or "?", target=target, state=state or g.state)


class DiagnosisService:
    def __init__(self, permissions: PermissionService) -> None:
        self.permissions = permissions
        self.credentials = permissions.credentials
        self.office = permissions.office
        self.db = permissions.db
        self.clock = permissions.clock

    # ---- the whole diagnosis ----------------------------------------------------------

    async def diagnose(self, actor: Actor, user_id: int, company_id: int, env: Environment, *,
                       base_url: str | None = None) -> Diagnosis:
        """One diagnosis with its own gateway; offers the office's actions where it holds the rights."""
        require_admin(actor)
        if base_url:
            from ksef_tui.ksef.errors import KsefInputError

            try:
                await asyncio.to_thread(self.credentials.connections.endpoint, env, base_url)
            except KsefInputError as exc:
                raise ValidationFailed({"base_url": str(exc)}) from None
        async with await asyncio.to_thread(self.credentials.connections.gateway, env, base_url) as gw:
            return await self.check(actor, gw, user_id, company_id, env, offer=True)

    async def check(self, actor: Actor, gw: KsefGateway, user_id: int, company_id: int, env: Environment, *,
                    office: OfficeGrants | None = None, offer: bool = False, record: bool = True,
                    flow_attempts: int = 1) -> Diagnosis:
        """The checklist for one (user, company, environment) through ``gw``. ``office``: the office's
        view already read (a bulk check reads it once per environment); else it is read as needed.
        ``flow_attempts``: whole logins tried when KSeF refused the challenge or a step failed for a
        temporary reason (a bulk run tries twice; one diagnosis reports what happened the first time)."""
        from ksef_tui.ksef.diagnostics import classify
        from ksef_tui.ksef.errors import KsefError

        require_admin(actor)
        # the database, the vault and the certificate's parsing run in threads: the caller's loop stays free
        subject = await asyncio.to_thread(self._load, user_id, company_id, env)
        steps = _Checklist(env)
        local = await asyncio.to_thread(self._local, subject, steps)
        if local is not None:
            return await asyncio.to_thread(self._finish, actor, subject, steps, local, record=record)
        session: AuthSession | None = None
        signal: Signal | None = None
        try:
            session = await self._authorize(gw, subject, flow_attempts)
        except KsefError as exc:
            signal = classify(exc)
        steps.set("availability", STEP_OK, _("KSeF answered the login."))
        if session is not None:
            return await self._authorized(actor, gw, subject, steps, session, record=record)
        assert signal is not None
        return await self._refused(actor, gw, subject, steps, signal, office, offer=offer, record=record)

    # ---- what the database says ---------------------------------------------------------

    def _load(self, user_id: int, company_id: int, env: Environment) -> _Subject:
        """What every check needs, in one short transaction (the rest only when KSeF says no)."""
        with self.db.session() as s:
            user, company = s.get(User, user_id), s.get(Company, company_id)
            if user is None or company is None:
                raise NotFound(_("The user or the company no longer exists."))
            sub = _Subject(user_id, user.login, user.full_name, company_id, company.name, company.nip,
                           company.ksef_enabled, company.ksef_model, env)
            sub.office_nip, sub.office_name = self.office.identity_in(s)
            row = s.scalars(select(KsefCredential).where(
                KsefCredential.user_id == user_id, KsefCredential.company_id == company_id,
                KsefCredential.environment == env.value)).first()
            if row is None:
                return sub
            sub.configured, sub.method, sub.version = True, row.method, row.version
            sub.token_reference = row.token_reference
            sub.token_permissions = tuple(p for p in (row.token_permissions or "").split(",") if p)
            sub.cert_valid_to = aware(row.cert_valid_to)
            if row.method == AuthMethod.CERTIFICATE.value:
                sub.identity = identifier_of(row.cert_identifier, row.cert_fingerprint)
            try:
                sub.material = self.credentials.open_material(row)
            except Exception:  # a material that cannot be opened is the credential's own problem
                sub.material = None
            return sub

    def _more(self, sub: _Subject) -> None:
        """What a refusal needs besides: the user's other identities, where the same token works, and
        direct grants the client's view found for another identity of the user."""
        with self.db.session() as s:
            sub.identifiers = self.permissions.identifiers_in(s, sub.env, [sub.user_id]).get(sub.user_id, [])
            if sub.method == AuthMethod.TOKEN.value and sub.token_reference:
                sub.token_elsewhere = [e for (e,) in s.execute(select(KsefCredential.environment).where(
                    KsefCredential.user_id == sub.user_id, KsefCredential.company_id == sub.company_id,
                    KsefCredential.environment != sub.env.value,
                    KsefCredential.token_reference == sub.token_reference, KsefCredential.last_auth_ok.is_(True)))]
            sub.stored_other = [
                f"{t} {v}" for t, v in s.execute(select(KsefPermission.identifier_type, KsefPermission.identifier_value)
                                                 .where(KsefPermission.company_id == sub.company_id,
                                                        KsefPermission.environment == sub.env.value,
                                                        KsefPermission.user_id == sub.user_id,
                                                        KsefPermission.seen_by == SEEN_CLIENT,
                                                        KsefPermission.state == ACTIVE).distinct())
                if t and v and not (sub.identity and sub.identity.same(_ident(t, v)))]

    def _local(self, sub: _Subject, steps: _Checklist) -> str | None:
        """The steps that need no call; the cause when one of them fails."""
        from ksef_tui.ksef.diagnostics import certificate_for_login

        if not sub.ksef_enabled:
            steps.set("company", STEP_FAIL, _("KSeF is switched off for {company} in the panel.").format(company=sub.company))
            return "ksef-off"
        steps.set("company", STEP_OK, _("KSeF is switched on for {company}").format(company=sub.company))
        if not sub.configured:
            steps.set("configured", STEP_FAIL, _("{login} has no token or certificate saved for {env}.").format(
                login=sub.login, env=sub.env.value))
            return "not-configured"
        method = _("a KSeF token") if sub.method == AuthMethod.TOKEN.value else _("a certificate")
        steps.set("configured", STEP_OK, _("{login} logs in with {method}.").format(login=sub.login, method=method))
        if sub.material is None:
            steps.set("credential", STEP_FAIL, _("The saved material cannot be opened; save it again."))
            return "not-configured"
        if sub.method == AuthMethod.CERTIFICATE.value:
            facts = sub.material.facts
            if facts.self_signed and sub.env is not Environment.TEST:
                steps.set("environment", STEP_FAIL, _("The certificate is self-signed ({subject}): KSeF accepts such certificates on TEST only.").format(
                    subject=facts.subject))
                return "environment-mismatch"
            steps.set("environment", STEP_OK, _("Issued by {issuer}.").format(issuer=facts.issuer))
            now = self.clock()
            if facts.valid_to <= now:
                steps.set("credential", STEP_FAIL, _("The certificate expired on {when}.").format(
                    when=facts.valid_to.strftime("%Y-%m-%d")))
                return "certificate-expired"
            if not certificate_for_login(sub.material.certificate_pem):
                steps.set("credential", STEP_FAIL, _("The certificate's key usage is Non-Repudiation only: a KSeF Offline certificate."))
                return "certificate-not-for-login"
        else:
            steps.set("environment", STEP_OK, _("The token is saved for {env}.").format(env=sub.env.value))
        return None

    async def _authorize(self, gw: KsefGateway, sub: _Subject, flow_attempts: int) -> AuthSession:
        from ksef_tui.ksef.errors import needs_new_flow
        from ksef_tui.ksef.models import Context

        for flow in range(1, max(1, flow_attempts) + 1):
            try:
                if sub.method == AuthMethod.TOKEN.value:
                    return await gw.authorize_with_token(Context.nip(sub.nip), sub.material)
                return await gw.authorize_with_certificate(Context.nip(sub.nip), sub.material)
            except Exception as exc:
                if flow < flow_attempts and needs_new_flow(exc):
                    await asyncio.sleep(0.2 * flow)
                    continue
                raise
        raise AssertionError("unreachable")

    # ---- KSeF said yes -------------------------------------------------------------------

    async def _authorized(self, actor: Actor, gw: KsefGateway, sub: _Subject, steps: _Checklist,
                          session: AuthSession, *, record: bool) -> Diagnosis:
        from ksef_tui.ksef.errors import KsefError

        steps.set("credential", STEP_OK, _("KSeF accepted the credential (reference {ref}).").format(
            ref=session.reference_number))
        steps.set("blocked", STEP_OK)
        steps.set("challenge", STEP_OK)
        lines: list[PermissionLine] = []
        if sub.method == AuthMethod.TOKEN.value:
            lines = [PermissionLine(p, TOKEN, ACTIVE) for p in sub.token_permissions or ("InvoiceRead",)]
            evidence = _("The token carries {scopes}.").format(scopes=", ".join(p.scope for p in lines))
        else:
            try:
                mine = await gw.permissions.personal(session)
                lines = _lines(mine.grants, mine.owner)
                evidence = "; ".join(_line_text(line) for line in lines) or _("KSeF lists no grant, yet it let the login in.")
            except KsefError as exc:
                evidence = _("Logged in; the list of permissions could not be read ({reason}).").format(reason=exc)
        steps.set("permission", STEP_OK, evidence)
        outcome = AuthOutcome(True, sub.env, sub.method or "", _("Authorized in KSeF {env}.").format(env=sub.env.value),
                              reference_number=session.reference_number, valid_until=session.refresh_valid_until)
        scopes = tuple(sorted({line.scope for line in lines if line.state == ACTIVE}))
        diag = self._diagnosis(sub, steps, "ok", fix_text("ok", **self._words(sub)), permissions=scopes)
        if record:
            await asyncio.to_thread(self._record, actor, sub, diag, lines, outcome)
        return diag

    # ---- KSeF said no (or could not answer) ---------------------------------------------------

    async def _refused(self, actor: Actor, gw: KsefGateway, sub: _Subject, steps: _Checklist, signal: Signal,
                       office: OfficeGrants | None, *, offer: bool, record: bool) -> Diagnosis:
        cause = signal.cause
        words = self._words(sub)
        step = _AUTH_STEP.get(cause, "availability")
        if cause in ("ksef-unavailable", "rate-limited"):
            steps.steps.pop("availability", None)
            steps.set("availability", STEP_FAIL, _said(signal), signal.code)
            when = ""
            if cause == "rate-limited":
                from ksef_tui.ksef.errors import human_retry

                when = human_retry(signal.retry_after)
            diag = self._diagnosis(sub, steps, cause, fix_text(cause, when=when, **words), final=False)
            return diag
        await asyncio.to_thread(self._more, sub)
        for earlier in ("environment", "credential", "blocked", "permission"):
            if earlier == step:
                break
            if earlier not in steps.steps:
                steps.set(earlier, STEP_OK)
        steps.set(step, STEP_FAIL, _said(signal), signal.code)
        fix, actions, request = cause, (), None
        if cause == "token-invalid" and sub.token_elsewhere:
            cause = fix = "environment-mismatch"
            steps.steps.pop("credential", None)
            steps.set("environment", STEP_FAIL, _("KSeF {env} does not know this token, which works in {other}.").format(
                env=sub.env.value, other=", ".join(sub.token_elsewhere)), signal.code)
        elif cause == "no-permission":
            if sub.method == AuthMethod.TOKEN.value:
                cause, fix = "token-invalid", "token-author"
                steps.steps.pop("permission", None)
                steps.set("credential", STEP_FAIL, _("A KSeF token always carries a permission, so a 415 means its author no longer holds them (token {ref}). {said}").format(
                    ref=sub.token_reference or "?", said=_said(signal)), signal.code)
            else:
                cause, fix, actions, request = await self._no_permission(gw, sub, steps, office, offer=offer)
        if cause != "challenge-expired" and "challenge" not in steps.steps:
            steps.set("challenge", STEP_OK)
        auth_final = cause not in ("ksef-unavailable", "rate-limited")
        diag = self._diagnosis(sub, steps, cause, fix_text(fix, **words, granted=sub.granted, scopes=sub.scopes),
                               actions=actions, request=request)
        if record and auth_final:
            outcome = AuthOutcome(False, sub.env, sub.method or "", _said(signal), code=signal.code)
            holds_nothing = cause in ("no-permission", "chain-broken", "wrong-identity-type")
            await asyncio.to_thread(self._record, actor, sub, diag, [] if holds_nothing else None, outcome)
        return diag

    async def _no_permission(self, gw: KsefGateway, sub: _Subject, steps: _Checklist, office: OfficeGrants | None,
                             *, offer: bool) -> tuple[str, str, tuple[Action, ...], str | None]:
        """415 after a certificate login: read the chain and the identities; the cause, the fix, actions."""
        office_nip = sub.office_nip
        model = sub.model
        sub.office_usable = await asyncio.to_thread(self.office.configured, sub.env)
        if office is None or (office.client not in (None, sub.nip)):
            office = await self.permissions.read_office(gw, sub.env, client_nip=sub.nip,
                                                        identifiers=sub.identifiers or ([sub.identity] if sub.identity else []))
            if office is not None and office.error is None:
                await asyncio.to_thread(partial(self.permissions.store_office, sub.env, office, user_ids=[sub.user_id]))
        as_office = sub.identity is not None and office_nip is not None and sub.identity.same(_ident("Nip", office_nip))
        used = sub.identity
        if office is None or office.error is not None:
            why = (_("The office has no KSeF credential for {env}: the chain cannot be read.").format(env=sub.env.value)
                   if office is None else _("The office's view could not be read: {reason}").format(reason=office.error))
            steps.set("chain", STEP_UNKNOWN, why)
            return self._plain_no_permission(sub, steps, model, as_office, offer=False)
        from_client = office.from_client(sub.nip)
        given = "; ".join(f"{g.scope}{' (' + _('may pass on') + ')' if g.can_delegate else ''}" for g in from_client)
        client_says = (_("{company} granted the office: {grants}.").format(company=sub.company, grants=given) if from_client
                       else _("KSeF lists no grant from {company} to the office (NIP {nip}).").format(
                           company=sub.company, nip=format_nip(office.nip)))
        if model == "A" or as_office:
            if not from_client:
                steps.set("chain", STEP_FAIL, client_says)
                return "chain-broken", "client-grant-office", (), self._letter(sub, delegate=False)
            steps.set("chain", STEP_OK, client_says)
            return self._plain_no_permission(sub, steps, model, as_office, offer=offer)
        known = sub.identifiers or ([used] if used else [])
        mine = [g for g in office.indirect if g.authorized is not None and any(g.authorized.same(i) for i in known)]
        here = [g for g in mine if office.for_client(g, sub.nip)]
        with_used = [g for g in here if used is not None and used.same(g.authorized)]
        if with_used:
            evidence = "; ".join(_grant_text(g, office.state_in(g, sub.nip)) for g in with_used) + ". " + client_says
            if not any(office.delegated(sub.nip, g.scope) for g in with_used):
                steps.set("chain", STEP_FAIL, evidence)
                scopes = tuple(sorted({g.scope for g in with_used}))
                sub.scopes = scopes
                return ("chain-broken", "client-grant-office-delegate", (),
                        self._letter(sub, delegate=True, scopes=scopes))
            steps.set("chain", STEP_OK, evidence)
            return self._plain_no_permission(sub, steps, model, as_office, offer=offer)
        if here:
            sub.granted = str(here[0].authorized)
            steps.set("chain", STEP_OK, "; ".join(_grant_text(g, office.state_in(g, sub.nip)) for g in here))
            steps.set("identity", STEP_FAIL, _("The office's grant is for {granted}; {login} logs in as {used}.").format(
                granted=here[0].authorized, login=sub.login, used=used or "?"))
            return "wrong-identity-type", "use-identity", (), None
        if mine:
            names = ", ".join(sorted({str(g.target) for g in mine}))
            steps.set("chain", STEP_FAIL, _("{login}'s indirect grant names another client ({targets}), not {company}.").format(
                login=sub.login, targets=names, company=sub.company) + " " + client_says)
            return "chain-broken", "grant-indirect", self._offer_indirect(sub, mine, offer), None
        if sub.stored_other:
            sub.granted = sub.stored_other[0]
            steps.set("chain", STEP_OK, client_says)
            steps.set("identity", STEP_FAIL, _("{company} granted {granted}; {login} logs in as {used}.").format(
                company=sub.company, granted=sub.stored_other[0], login=sub.login, used=used or "?"))
            return "wrong-identity-type", "use-identity", (), None
        steps.set("chain", STEP_OK if from_client else STEP_UNKNOWN,
                  client_says + " " + _("The office has no indirect grant for {login}.").format(login=sub.login))
        if model == "B":
            if not any(g.can_delegate for g in from_client):
                return ("no-permission", "client-grant-office-delegate", (), self._letter(sub, delegate=True))
            return "no-permission", "grant-indirect", self._offer_indirect(sub, [], offer), None
        return self._plain_no_permission(sub, steps, model, as_office, offer=offer)

    def _plain_no_permission(self, sub: _Subject, steps: _Checklist, model: str | None, as_office: bool,
                             *, offer: bool) -> tuple[str, str, tuple[Action, ...], str | None]:
        if "identity" not in steps.steps and sub.stored_other:
            sub.granted = sub.stored_other[0]
            steps.set("identity", STEP_FAIL, _("{company} granted {granted}; {login} logs in as {used}.").format(
                company=sub.company, granted=sub.stored_other[0], login=sub.login, used=sub.identity or "?"))
            return "wrong-identity-type", "use-identity", (), None
        if model == "A" or as_office:
            return "no-permission", "client-grant-office", (), self._letter(sub, delegate=False)
        if model == "D":
            return "no-permission", "model-d", (), None
        if model == "B":
            return "no-permission", "grant-indirect", self._offer_indirect(sub, [], offer), None
        return "no-permission", "client-grant-person", (), self._letter(sub, person=True)

    def _offer_indirect(self, sub: _Subject, grants: list[PermissionGrant], offer: bool) -> tuple[Action, ...]:
        if not offer or sub.identity is None or not sub.office_usable:
            return ()
        scopes = tuple(sorted({g.scope for g in grants})) or ("InvoiceRead", "InvoiceWrite")
        label = _("Grant {name} indirect {scopes} for {company}").format(
            name=sub.name, scopes=", ".join(scopes), company=sub.company)
        return (Action("grant-indirect", label, sub.user_id, sub.company_id, sub.env, str(sub.identity), scopes),)

    def _letter(self, sub: _Subject, *, delegate: bool = True, person: bool = False,
                scopes: tuple[str, ...] = ("InvoiceRead", "InvoiceWrite")) -> str:
        return request_letter(sub.env, sub.company, sub.nip, scopes, office_nip=sub.office_nip,
                              office_name=sub.office_name,
                              person=sub.name if person else None,
                              identifier=str(sub.identity) if person and sub.identity else None, delegate=delegate)

    # ---- the result --------------------------------------------------------------------

    def _words(self, sub: _Subject) -> dict[str, Any]:
        office = (sub.office_name or _("the office")) + (f", NIP {format_nip(sub.office_nip)}" if sub.office_nip else "")
        return {"login": sub.login, "name": sub.name, "company": sub.company, "nip": format_nip(sub.nip),
                "env": sub.env, "office": office, "identifier": str(sub.identity) if sub.identity else None}

    def _diagnosis(self, sub: _Subject, steps: _Checklist, cause: str, hint: str, *, actions: tuple[Action, ...] = (),
                   request: str | None = None, permissions: tuple[str, ...] = (), final: bool = True) -> Diagnosis:
        return Diagnosis(cause, sub.login, sub.user_id, sub.company_id, sub.company, sub.nip, sub.env, sub.model,
                         sub.method, steps.done(), hint, actions, request, permissions, self.clock(), final)

    def _finish(self, actor: Actor, sub: _Subject, steps: _Checklist, cause: str, *, record: bool) -> Diagnosis:
        fix = "not-configured" if cause == "not-configured" else cause
        diag = self._diagnosis(sub, steps, cause, fix_text(fix, **self._words(sub)))
        if record and sub.configured:
            self._record(actor, sub, diag, None)
        return diag

    def _record(self, actor: Actor, sub: _Subject, diag: Diagnosis, lines: list[PermissionLine] | None,
                outcome: AuthOutcome | None = None) -> None:
        """In one transaction: the authorization (like "Test authorization"), the check's cause and
        permissions on the credential (facts from KSeF: the version stays), an audit entry when the
        cause changed, and the user's own view in the picture."""
        with self.db.session() as s:
            row = s.scalars(select(KsefCredential).where(
                KsefCredential.user_id == sub.user_id, KsefCredential.company_id == sub.company_id,
                KsefCredential.environment == sub.env.value)).first()
            if row is None or row.version != sub.version:
                return  # changed meanwhile: the answer belongs to material no longer there
            if outcome is not None:
                apply_outcome(s, actor, row, sub.version, outcome, self.clock())
            before = row.permission_cause
            row.permission_cause = diag.cause
            row.permission_scopes = ",".join(diag.permissions)[:300] or None
            row.permission_checked_at = diag.checked_at
            if before != diag.cause:
                audit.record(s, [audit.audit_values(
                    actor, "credential.permission_check", "credential", row.id,
                    credential_label(s, sub.user_id, sub.company_id, sub.env), {"cause": before},
                    {"cause": diag.cause, "permissions": list(diag.permissions)}, at=diag.checked_at)])
            if lines is not None:
                self.permissions.store_user_view(sub.user_id, sub.company_id, sub.env, lines, sub.identity, session=s)


def _ident(kind: str, value: str) -> Identifier:
    from ksef_tui.ksef.permissions import Identifier

    return Identifier(kind, value)


def _lines(grants: Any, owner: Any) -> list[PermissionLine]:
    out = []
    for g in grants:
        if g.target is not None:
            source = INDIRECT
        elif g.authorized is not None:
            source = ENTITY
        else:
            source = DIRECT
        target = None if g.target is None else ("AllPartners" if g.target.type == "AllPartners" else str(g.target))
        out.append(PermissionLine(g.scope, source, g.state, g.can_delegate, target, g.id, g.description,
                                  str(g.authorized) if g.authorized else None))
    out += [PermissionLine(p, OWNER, ACTIVE) for p in owner]
    return out


def _line_text(line: PermissionLine) -> str:
    from ksef_tui.services.ksef.permission_views import source_label, state_label

    return f"{line.scope} ({source_label(line.source)}, {state_label(line.state)})"


def summary(diag: Diagnosis) -> str:
    """One line: the cause in words and the fix."""
    return f"{cause_text(diag.cause)}: {diag.hint}"


__all__ = ["DiagnosisService", "summary"]
