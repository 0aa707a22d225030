"""The bulk permission check (issue 15 item 6): selected (user, company, environment) rows checked as
a serial operation (:func:`~ksef_tui.services.ksef.bulk.run_bulk`: progress, Esc, a result per row);
and the serial grant of item 5 (:class:`SerialGrant`, told beforehand by :func:`plan_grant`).

Each environment's office view (which clients granted the office what, and the office's indirect
grants) is read once, before the first row of that environment needs it; each row is then the
diagnosis of :mod:`.diagnosis`: the user's own credential logs in to the company's context, and a
certificate's permissions are listed (``personal/grants``). Every request goes through one gateway
per environment, paced by the host's limiter, so the run stays within KSeF's limits. A row is
recorded only when KSeF gave a final answer; KSeF unavailable or its request limit leaves the row
as it was, and its result says so ("never half a result")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.bulk import (
    ERROR,
    FAILED,
    FLOW_ATTEMPTS,
    OK,
    SKIPPED,
    RowResult,
    Target,
)
from ksef_tui.services.ksef.connections import RunGateways
from ksef_tui.services.ksef.diagnosis import DiagnosisService
from ksef_tui.services.ksef.diagnosis_texts import cause_text
from ksef_tui.services.ksef.permission_views import ACTIVE, INACTIVE, MISSING, Diagnosis
from ksef_tui.services.ksef.permissions import GrantSubject, OfficeGrants, PermissionService
from ksef_tui.services.ksef.plans import GRANT, RUN, SKIP, OperationPlan, RowPlan
from ksef_tui.store.models import Company

if TYPE_CHECKING:
    from ksef_tui.ksef.gateway import KsefGateway

#: causes that mean "nothing to check here"
_SKIP = ("ksef-off", "not-configured")


def row_result(target: Target, diag: Diagnosis) -> RowResult:
    """A bulk row from a diagnosis: ``code`` is the stable cause."""
    if diag.ok:
        scopes = ", ".join(diag.permissions) or _("a permission")
        return RowResult(target, OK, _("Can log in; holds {scopes}.").format(scopes=scopes), code=diag.cause)
    status = SKIPPED if diag.cause in _SKIP else ERROR if not diag.final else FAILED
    message = f"{cause_text(diag.cause)}: {diag.hint}"
    if not diag.final:
        message += " " + _("Nothing was saved; re-run this row.")
    return RowResult(target, status, message, diag.hint, diag.cause)


class PermissionCheck:
    """``async with PermissionCheck(permissions, actor) as check: await run_bulk(..., check.check_row)``."""

    def __init__(self, permissions: PermissionService, actor: Actor, *, limiter: Any = None,
                 gateway_factory: Callable[[Environment], KsefGateway] | None = None,
                 flow_attempts: int = FLOW_ATTEMPTS) -> None:
        require_admin(actor)
        self.permissions = permissions
        self.diagnosis = DiagnosisService(permissions)
        self.actor = actor
        self._gateways = RunGateways(permissions.credentials.connections, limiter=limiter, factory=gateway_factory)
        self._offices: dict[Environment, OfficeGrants | None] = {}
        self._locks: dict[Environment, asyncio.Lock] = {}
        self.flow_attempts = flow_attempts
        #: the last diagnosis of each row (for ``ksef check`` and the panel's results)
        self.diagnoses: dict[tuple[int, int, Environment], Diagnosis] = {}

    async def __aenter__(self) -> PermissionCheck:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._gateways.aclose()

    def warnings(self) -> tuple[str, ...]:
        """KSeF's distinct ``X-System-Warning``s over every gateway of this run (plain texts)."""
        return self._gateways.warnings()

    def gateway(self, env: Environment) -> KsefGateway:
        return self._gateways.gateway(env)

    async def office(self, env: Environment) -> OfficeGrants | None:
        """The office's view of ``env``, read (and stored) once per run."""
        lock = self._locks.setdefault(env, asyncio.Lock())
        async with lock:
            if env not in self._offices:
                grants = await self.permissions.read_office(self.gateway(env), env)
                if grants is not None and grants.error is None:
                    await asyncio.to_thread(self.permissions.store_office, env, grants)
                self._offices[env] = grants
            return self._offices[env]

    async def check_row(self, target: Target) -> RowResult:
        env = target.environment
        office = await self.office(env)
        diag = await self.diagnosis.check(self.actor, self.gateway(env), target.user_id, target.company_id, env,
                                          office=office if office is not None and office.error is None else None,
                                          flow_attempts=self.flow_attempts)
        self.diagnoses[target.key] = diag
        return row_result(target, diag)


#: the working models in which the office grants its employees indirectly (§17 B; None: not chosen)
GRANTING_MODELS = (None, "B")


def grant_skip(model: str | None, has_identity: bool, office_configured: bool, env: Environment) -> str:
    """Why the office does not grant this row ("" when it does): the one rule of the serial grant's
    plan and of its run."""
    from ksef_tui.services.ksef.permission_views import model_label

    if model not in GRANTING_MODELS:
        return _("The company works with model {model}: the office does not grant its employees there.").format(
            model=model_label(model))
    if not office_configured:
        return _("The office has no KSeF credential for {env}; set it in the office's KSeF identity.").format(
            env=env.value)
    if not has_identity:
        return _("No KSeF identity is known for this user in {env}: grant from the company's KSeF tab, with their PESEL.").format(
            env=env.value)
    return ""


def plan_grant(permissions: PermissionService, actor: Actor, targets: Sequence[Target]) -> OperationPlan:
    """What the serial grant would do to each of ``targets`` (no KSeF call; run it in a thread)."""
    require_admin(actor)
    envs = sorted({t.environment for t in targets}, key=lambda e: e.value)
    configured = {env: permissions.office.configured(env) for env in envs}
    company_ids = sorted({t.company_id for t in targets})
    with permissions.db.session() as s:
        models: dict[int, str | None] = {}
        for start in range(0, len(company_ids), 500):
            models.update((cid, model) for cid, model in s.execute(select(Company.id, Company.ksef_model).where(
                Company.id.in_(company_ids[start:start + 500]))))
        known: dict[Environment, set[int]] = {}
        for env in envs:
            users = sorted({t.user_id for t in targets if t.environment is env})
            known[env] = {uid for start in range(0, len(users), 500)
                          for uid, idents in permissions.identifiers_in(s, env, users[start:start + 500]).items() if idents}
    rows = []
    for t in targets:
        if t.company_id not in models:
            rows.append(RowPlan(t, SKIP, _("The user or the company no longer exists.")))
            continue
        reason = grant_skip(models[t.company_id], t.user_id in known[t.environment], configured[t.environment],
                            t.environment)
        rows.append(RowPlan(t, SKIP if reason else RUN, reason))
    return OperationPlan(GRANT, tuple(rows))


class SerialGrant:
    """A serial grant (issue 15 item 5): for each selected (user, company, environment), the office grants
    the user ``scopes`` indirectly for that company, from its own context; each grant followed to KSeF's
    final status and audited. One office login per environment; every request paced by the host's
    limiter (the office's context is in the 10/30/120 group: 30 requests a minute and 120 an hour, and a
    grant takes at least two, so a long run waits; Esc stops it between rows). A row is skipped, with
    the reason, by the rule its plan told (:func:`grant_skip`: the company's working model, the office's
    credential, a known KSeF identity of the user). The office's view is read once at the end
    (:meth:`finish`), so the picture follows."""

    def __init__(self, permissions: PermissionService, actor: Actor, scopes: tuple[str, ...], *,
                 limiter: Any = None, gateway_factory: Callable[[Environment], KsefGateway] | None = None) -> None:
        require_admin(actor)
        self.permissions = permissions
        self.actor = actor
        self.scopes = tuple(PermissionService._delegable(scopes))
        self._check = PermissionCheck(permissions, actor, limiter=limiter, gateway_factory=gateway_factory)
        self._sessions: dict[Environment, Any] = {}
        self._locks: dict[Environment, asyncio.Lock] = {}
        self.granted: dict[Environment, bool] = {}

    async def __aenter__(self) -> SerialGrant:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._check.__aexit__(*exc)

    async def _session(self, env: Environment) -> Any:
        async with self._locks.setdefault(env, asyncio.Lock()):
            if env not in self._sessions:
                self._sessions[env] = await self.permissions.office.authorize(self._check.gateway(env), env)
            return self._sessions[env]

    async def grant_row(self, target: Target) -> RowResult:
        from ksef_tui.errors import ServiceError
        from ksef_tui.ksef.errors import KsefError, KsefUnauthorized
        from ksef_tui.services.ksef.bulk import NothingToDo, result_from_error

        env = target.environment
        perms = self.permissions
        def facts() -> tuple[list[Any], GrantSubject, bool]:
            return (perms.identifiers(target.user_id, env), perms.grant_subject(target.user_id, target.company_id),
                    perms.office.configured(env))

        idents, who, configured = await asyncio.to_thread(facts)
        reason = grant_skip(who.client_model, bool(idents), configured, env)
        if reason:
            raise NothingToDo(reason)
        ident = idents[0]
        label, facts = who.audit(ident, self.scopes)
        try:
            for attempt in (1, 2):
                session = await self._session(env)
                try:
                    outcome = await perms.follow(self._check.gateway(env), session,
                                                 perms.indirect_act(ident, self.scopes, who))
                    break
                except KsefUnauthorized:  # the office's access token lives ~15 minutes: log in again
                    self._sessions.pop(env, None)
                    if attempt == 2:
                        raise
        except ServiceError as exc:
            return RowResult(target, FAILED, str(exc), getattr(exc, "hint", ""))
        except KsefError as exc:  # KSeF never took it: nothing happened
            return result_from_error(target, exc)
        await asyncio.to_thread(perms.audit_operation, self.actor, env, "permission.grant_indirect", label, facts,
                                outcome)
        self.granted[env] = self.granted.get(env, False) or outcome.ok
        if outcome.ok:
            return RowResult(target, OK, _("Granted {scopes} to {who} for {client}.").format(
                scopes=", ".join(self.scopes), who=ident, client=who.client_name), reference=outcome.reference_number)
        return RowResult(target, FAILED, outcome.message, outcome.hint, outcome.code, outcome.reference_number)

    async def finish(self) -> None:
        """The office's view again, once per environment that got a grant (the picture follows)."""
        for env, any_ok in self.granted.items():
            if any_ok:
                self._check._offices.pop(env, None)
                await self._check.office(env)


#: a row's permission state after its check: what the login found in the company's context (None: the
#: check did not get as far as permissions: the credential itself, KSeF unavailable, ...)
PERMISSION_STATE = {"ok": ACTIVE, "chain-broken": INACTIVE, "no-permission": MISSING, "wrong-identity-type": MISSING}


def permission_facts(diag: Diagnosis | None) -> dict[str, Any]:
    """What ``ksef check --json`` adds to a row: the diagnosis cause, the permission state and the
    permissions the user holds there."""
    if diag is None:
        return {"cause": None, "permission_state": None, "permissions": []}
    return {"cause": diag.cause, "permission_state": PERMISSION_STATE.get(diag.cause),
            "permissions": list(diag.permissions)}
