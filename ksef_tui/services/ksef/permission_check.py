"""The bulk permission check (issue 15 item 6): selected (user, company, environment) rows checked as
a serial operation (:func:`~ksef_tui.services.ksef.bulk.run_bulk`: progress, Esc, a result per row).

Each environment's office view (which clients granted the office what, and the office's indirect
grants) is read once, before the first row of that environment needs it; each row is then the
diagnosis of :mod:`.diagnosis`: the user's own credential logs in to the company's context, and a
certificate's permissions are listed (``personal/grants``). Every request goes through one gateway
per environment, paced by the host's limiter, so the run stays within KSeF's limits. A row is
recorded only when KSeF gave a final answer; KSeF unavailable or its request limit leaves the row
as it was, and its result says so ("never half a result")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.bulk import ERROR, FAILED, FLOW_ATTEMPTS, OK, SKIPPED, RowResult, Target
from ksef_tui.services.ksef.diagnosis import DiagnosisService
from ksef_tui.services.ksef.diagnosis_texts import cause_text
from ksef_tui.services.ksef.permission_views import Diagnosis
from ksef_tui.services.ksef.permissions import OfficeGrants, PermissionService

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
        self._limiter = limiter
        self._factory = gateway_factory
        self._gateways: dict[Environment, KsefGateway] = {}
        self._offices: dict[Environment, OfficeGrants | None] = {}
        self._locks: dict[Environment, asyncio.Lock] = {}
        self.flow_attempts = flow_attempts
        #: the last diagnosis of each row (for ``ksef check`` and the panel's results)
        self.diagnoses: dict[tuple[int, int, Environment], Diagnosis] = {}

    async def __aenter__(self) -> PermissionCheck:
        return self

    async def __aexit__(self, *exc: object) -> None:
        gateways, self._gateways = list(self._gateways.values()), {}
        for gw in gateways:
            await gw.aclose()

    def gateway(self, env: Environment) -> KsefGateway:
        gw = self._gateways.get(env)
        if gw is None:
            gw = (self._factory(env) if self._factory is not None
                  else self.permissions.credentials.connections.gateway(env, limiter=self._limiter))
            self._gateways[env] = gw
        return gw

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
