"""Serial KSeF operations on many (user, company, environment) rows at once.

* :func:`run_bulk` drives any per-row operation with bounded concurrency, progress and ETA,
  cancellation (a :class:`threading.Event`, set from the UI thread or on Ctrl+C), and a result per
  row; :meth:`BulkReport.rerun_targets` gives the rows to try again (failed, error, not run).
* :class:`KsefBulk` holds one gateway per environment, all paced by the process-wide
  :class:`~ksef_tui.ksef.limits.RateLimiter` of each KSeF host (PROTOCOL.md §8), and offers the row
  operations "test authorization" and "refresh from KSeF". Token-to-certificate moves are in
  :mod:`ksef_tui.services.ksef.certificate_move`.

Results are saved per row only when KSeF gave a final answer ("never half a result"): an
authorization that KSeF accepted or refused is recorded on the credential; a row stopped by a
temporary problem (network, timeout, HTTP 5xx, rate limit beyond its Retry-After budget) or by
Esc leaves the credential exactly as it was, and its result says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.access import credential_label, record_outcome
from ksef_tui.services.ksef.connections import RunGateways
from ksef_tui.services.ksef.credentials import CredentialService
from ksef_tui.services.ksef.views import AuthOutcome
from ksef_tui.store.models import Company, KsefCredential, User

if TYPE_CHECKING:
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import AuthSession

OK = "ok"
FAILED = "failed"  # KSeF gave a final "no" (recorded on the credential)
ERROR = "error"  # a temporary problem; nothing recorded; try again
SKIPPED = "skipped"  # nothing to do for this row (not configured, KSeF off, already done)
CANCELLED = "cancelled"  # not run, or stopped by Esc before KSeF answered; nothing recorded
STATUSES = (OK, FAILED, ERROR, SKIPPED, CANCELLED)
RERUN = (FAILED, ERROR, CANCELLED)

DEFAULT_CONCURRENCY = 48
#: whole authorization flows per row: a new flow (a fresh challenge) only where the HTTP layer
#: cannot repeat a step itself (:func:`ksef_tui.ksef.errors.needs_new_flow`)
FLOW_ATTEMPTS = 2


@dataclass(frozen=True)
class Target:
    user_id: int
    company_id: int
    environment: Environment
    label: str = ""

    @property
    def key(self) -> tuple[int, int, Environment]:
        return self.user_id, self.company_id, self.environment


@dataclass(frozen=True)
class RowResult:
    target: Target
    status: str
    message: str
    hint: str = ""
    code: str | None = None
    reference: str | None = None
    detail: str = ""  # e.g. the new certificate serial, the token status

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class BulkProgress:
    done: int
    total: int
    counts: dict[str, int]
    elapsed_s: float
    eta_s: float | None
    last: RowResult | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass
class BulkReport:
    operation: str
    results: list[RowResult]
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for r in self.results:
            out[r.status] += 1
        return out

    def rerun_targets(self) -> list[Target]:
        """The rows a re-run takes: failed, temporary errors and rows not run (never the ok ones)."""
        return [r.target for r in self.results if r.status in RERUN]

    def merged(self, rerun: BulkReport) -> BulkReport:
        """This report with the re-run's results in place of the rows it re-ran."""
        newer = {r.target.key: r for r in rerun.results}
        return BulkReport(self.operation, [newer.get(r.target.key, r) for r in self.results],
                          rerun.cancelled, self.elapsed_s + rerun.elapsed_s)


RowOperation = Callable[[Target], Awaitable[RowResult]]
ProgressCallback = Callable[[BulkProgress], None]


async def run_bulk(operation: str, targets: Sequence[Target], row_op: RowOperation, *,
                   concurrency: int = DEFAULT_CONCURRENCY, cancel: threading.Event | None = None,
                   on_progress: ProgressCallback | None = None,
                   clock: Callable[[], float] = time.monotonic) -> BulkReport:
    """Run ``row_op`` on every target, at most ``concurrency`` at a time; one result per target."""
    cancel = cancel or threading.Event()
    started = clock()
    results: list[RowResult | None] = [None] * len(targets)
    counts = {s: 0 for s in STATUSES}
    next_index = 0
    done = 0

    def report(index: int, result: RowResult) -> None:
        nonlocal done
        results[index] = result
        counts[result.status] += 1
        done += 1
        if on_progress is not None:
            elapsed = clock() - started
            eta = elapsed / done * (len(targets) - done) if done else None
            on_progress(BulkProgress(done, len(targets), dict(counts), elapsed, eta, result))

    async def worker() -> None:
        nonlocal next_index
        while not cancel.is_set() and next_index < len(targets):
            index = next_index
            next_index += 1
            target = targets[index]
            try:
                result = await row_op(target)
            except asyncio.CancelledError:
                report(index, RowResult(target, CANCELLED, _("Stopped before KSeF answered; nothing was saved.")))
                raise
            except ServiceError as exc:
                result = RowResult(target, SKIPPED if _is_skip(exc) else FAILED, str(exc))
            except Exception as exc:  # a bug must not stop the other rows; the row says what happened
                result = RowResult(target, ERROR, _("Unexpected error: {name}: {text}").format(
                    name=type(exc).__name__, text=str(exc)[:200]))
            report(index, result)

    async def watch_cancel(tasks: list[asyncio.Task]) -> None:
        while not cancel.is_set():
            if all(t.done() for t in tasks):
                return
            await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(targets) or 1)))]
    watcher = asyncio.create_task(watch_cancel(tasks))
    await asyncio.gather(*tasks, return_exceptions=True)
    watcher.cancel()
    final = [r if r is not None else RowResult(targets[i], CANCELLED, _("Not run (cancelled)."))
             for i, r in enumerate(results)]
    return BulkReport(operation, final, cancel.is_set(), clock() - started)


def _is_skip(exc: ServiceError) -> bool:
    return isinstance(exc, NothingToDo)


class NothingToDo(ServiceError):
    """The row needs nothing (not configured, KSeF off, already done): a SKIPPED result."""


# ---------------------------------------------------------------------------- KSeF errors


def is_transient(exc: BaseException) -> bool:
    """A problem that says nothing about the credential: network, timeout, 5xx, malformed answer."""
    from ksef_tui.ksef.errors import is_transient as transient

    return transient(exc)


def result_from_error(target: Target, exc: Exception, *, prefix: str = "") -> RowResult:
    from ksef_tui.ksef.errors import KsefRateLimited

    code = getattr(exc, "code", None)
    hint = getattr(exc, "hint", "") or ""
    message = f"{prefix}{exc}"
    if isinstance(exc, KsefRateLimited):
        return RowResult(target, ERROR, message + " " + _("Nothing was saved."), hint, str(code))
    if is_transient(exc):
        return RowResult(target, ERROR, message + " " + _("Temporary; nothing was saved, re-run this row."),
                         hint, None if code is None else str(code))
    return RowResult(target, FAILED, message, hint, None if code is None else str(code),
                     reference=getattr(exc, "reference_number", None))


# ---------------------------------------------------------------------------- the service


@dataclass
class _Loaded:
    """What a row operation needs from the database, read in one short transaction."""

    nip: str
    login: str
    credential_id: int
    version: int
    method: str
    material: Any  # Secret[str] | Credential
    token: Any = None  # Secret[str] | None
    token_reference: str | None = None
    certificate: Any = None  # Credential | None
    cert_serial: str | None = None
    cert_valid_to: dt.datetime | None = None


class KsefBulk:
    """Row operations over KSeF with shared, rate-limited gateways. ``async with KsefBulk(...) as bulk:``."""

    def __init__(self, credentials: CredentialService, actor: Actor, *, limiter: Any = None,
                 gateway_factory: Callable[[Environment], KsefGateway] | None = None,
                 flow_attempts: int = FLOW_ATTEMPTS) -> None:
        require_admin(actor)
        self.credentials = credentials
        self.db = credentials.db
        self.actor = actor
        self._gateways = RunGateways(credentials.connections, limiter=limiter, factory=gateway_factory)
        self.flow_attempts = max(1, flow_attempts)

    async def __aenter__(self) -> KsefBulk:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._gateways.aclose()

    def warnings(self) -> tuple[str, ...]:
        """KSeF's distinct ``X-System-Warning``s over every gateway of this run (plain texts)."""
        return self._gateways.warnings()

    def gateway(self, env: Environment) -> KsefGateway:
        return self._gateways.gateway(env)

    # ---- reading one row -------------------------------------------------------------

    def load(self, target: Target) -> _Loaded:
        """The row's facts and opened material; :class:`NothingToDo` when there is nothing to use."""
        with self.db.session() as s:
            company = s.get(Company, target.company_id)
            user = s.get(User, target.user_id)
            if company is None or user is None:
                raise NothingToDo(_("The user or the company no longer exists."))
            if not company.ksef_enabled:
                raise NothingToDo(_("KSeF is switched off for the company."))
            row = s.scalars(select(KsefCredential).where(
                KsefCredential.user_id == target.user_id, KsefCredential.company_id == target.company_id,
                KsefCredential.environment == target.environment.value)).first()
            if row is None:
                raise NothingToDo(_("Nothing is configured for {env}.").format(env=target.environment.value))
            loaded = _Loaded(company.nip, user.login, row.id, row.version, row.method, None,
                             token_reference=row.token_reference, cert_serial=row.cert_serial,
                             cert_valid_to=row.cert_valid_to)
            opener = self.credentials
            if row.token_blob is not None:
                loaded.token = opener.open_material(row, AuthMethod.TOKEN.value)
            if row.cert_blob is not None and row.key_blob is not None:
                loaded.certificate = opener.open_material(row, AuthMethod.CERTIFICATE.value)
            loaded.material = loaded.token if row.method == AuthMethod.TOKEN.value else loaded.certificate
            if loaded.material is None:
                raise NothingToDo(_("The saved credential has no material for its method."))
            return loaded

    async def authorize(self, target: Target, loaded: _Loaded, *, with_: str | None = None) -> AuthSession:
        """Authorize (token or certificate). Requests are repeated by the HTTP layer alone (its one
        retry policy, paced by the host's limiter); here only a whole new flow is started, with a
        fresh challenge, when the old one cannot go on (:func:`~ksef_tui.ksef.errors.needs_new_flow`)."""
        from ksef_tui.ksef.errors import needs_new_flow
        from ksef_tui.ksef.models import Context

        method = with_ or loaded.method
        gw = self.gateway(target.environment)
        context = Context.nip(loaded.nip)
        for flow in range(1, self.flow_attempts + 1):
            try:
                if method == AuthMethod.TOKEN.value:
                    return await gw.authorize_with_token(context, loaded.token)
                return await gw.authorize_with_certificate(context, loaded.certificate)
            except Exception as exc:
                if flow < self.flow_attempts and needs_new_flow(exc):
                    await asyncio.sleep(0.2 * flow)
                    continue
                raise
        raise AssertionError("unreachable")

    def record(self, target: Target, loaded: _Loaded, outcome: AuthOutcome) -> None:
        record_outcome(self.db, self.actor, target.user_id, target.company_id, target.environment,
                       loaded.version, outcome, self.credentials.clock())

    def _record_authorized(self, target: Target, loaded: _Loaded, session: AuthSession) -> None:
        """The credential in use authorized: its last authorization is this session."""
        self.record(target, loaded, AuthOutcome(True, target.environment, loaded.method,
                                                _("Authorized in KSeF {env}.").format(env=target.environment.value),
                                                reference_number=session.reference_number,
                                                valid_until=session.refresh_valid_until))

    # ---- operation: test authorization -------------------------------------------------

    async def test_authorization(self, target: Target) -> RowResult:
        from ksef_tui.ksef.errors import KsefError

        loaded = self.load(target)
        try:
            session = await self.authorize(target, loaded)
        except KsefError as exc:
            result = result_from_error(target, exc)
            if result.status == FAILED and loaded.method == AuthMethod.TOKEN.value and _says_revoked(exc):
                self._set_token_status(target, "Revoked")
            if result.status == FAILED:  # KSeF's final word on this credential: recorded
                self.record(target, loaded, AuthOutcome(False, target.environment, loaded.method, str(exc),
                                                        hint=result.hint, code=result.code,
                                                        reference_number=result.reference))
            return result
        self._record_authorized(target, loaded, session)
        return RowResult(target, OK, _("Authorized by {method}.").format(method=_method_text(loaded.method)),
                         reference=session.reference_number)

    # ---- operation: refresh from KSeF ---------------------------------------------------

    async def refresh_from_ksef(self, target: Target) -> RowResult:
        """Ask KSeF about the row's token (``/tokens``) and certificate (``/certificates/query``)
        and mark what is revoked, expired or blocked."""
        from ksef_tui.ksef.errors import KsefAuthFailed, KsefError

        loaded = self.load(target)
        notes: list[str] = []
        worst: RowResult | None = None
        if loaded.token is not None:
            try:
                session = await self.authorize(target, loaded, with_=AuthMethod.TOKEN.value)
                if loaded.method == AuthMethod.TOKEN.value:
                    self._record_authorized(target, loaded, session)
                status = loaded.token_reference and (await self.gateway(target.environment).token_status(
                    session, loaded.token_reference)).status
                status = status or "Active"
                self._set_token_status(target, status)
                notes.append(_("token {status}").format(status=status))
                if status != "Active":
                    worst = RowResult(target, FAILED, _("KSeF says the token is {status}.").format(status=status))
            except KsefAuthFailed as exc:
                worst = result_from_error(target, exc)
                if loaded.method == AuthMethod.TOKEN.value:
                    self.record(target, loaded, AuthOutcome(False, target.environment, loaded.method, str(exc),
                                                            hint=worst.hint, code=worst.code))
                if _says_revoked(exc):
                    self._set_token_status(target, "Revoked")
                    notes.append(_("token Revoked"))
            except KsefError as exc:
                worst = result_from_error(target, exc)
        if loaded.certificate is not None and (worst is None or worst.status != ERROR):
            try:
                session = await self.authorize(target, loaded, with_=AuthMethod.CERTIFICATE.value)
                if loaded.method == AuthMethod.CERTIFICATE.value:
                    self._record_authorized(target, loaded, session)
                status = "Active"
                if loaded.cert_serial:
                    found, _more = await self.gateway(target.environment).query_certificates(
                        session, serial_number=ksef_serial(loaded.cert_serial))
                    status = found[0].status if found else _("not a KSeF certificate")
                notes.append(_("certificate {status}").format(status=status))
                if status in ("Blocked", "Revoked", "Expired"):
                    outcome = AuthOutcome(False, target.environment, AuthMethod.CERTIFICATE.value,
                                          _("KSeF says the certificate is {status}.").format(status=status))
                    self.record(target, loaded, outcome)
                    worst = RowResult(target, FAILED, outcome.message)
            except KsefError as exc:
                r = result_from_error(target, exc)
                if r.status == FAILED and loaded.method == AuthMethod.CERTIFICATE.value:
                    self.record(target, loaded, AuthOutcome(False, target.environment, loaded.method, str(exc),
                                                            hint=r.hint, code=r.code))
                worst = worst if worst is not None and worst.status == FAILED else r
        if worst is not None:
            return worst if not notes else RowResult(target, worst.status, worst.message + " (" + ", ".join(notes) + ")",
                                                     worst.hint, worst.code)
        return RowResult(target, OK, ", ".join(notes) or _("nothing to check"))

    def _set_token_status(self, target: Target, status: str) -> None:
        with self.db.session() as s:
            row = s.scalars(select(KsefCredential).where(
                KsefCredential.user_id == target.user_id, KsefCredential.company_id == target.company_id,
                KsefCredential.environment == target.environment.value)).first()
            if row is None or row.token_status == status:
                return
            before = row.token_status
            row.token_status = status  # a fact from KSeF, like the last authorization: the version stays
            row.updated_at = self.credentials.clock()
            audit.record(s, [audit.audit_values(
                self.actor, "credential.token_status", "credential", row.id,
                credential_label(s, row.user_id, row.company_id, row.environment),
                {"status_in_ksef": before}, {"status_in_ksef": status, "token_reference": row.token_reference})])


def _says_revoked(exc: Exception) -> bool:
    """KSeF status 450 with "Token unieważniony" (token revoked)."""
    details = " ".join(getattr(exc, "details", ()) or ()).lower()
    return getattr(exc, "code", None) == 450 and ("unieważniony" in details or "revoked" in details)


def ksef_serial(serial: str) -> str:
    """A certificate serial as KSeF writes it: 16 upper-case hex digits, leading zeros included
    (a serial read from the certificate itself may lack them)."""
    serial = serial.upper()
    return serial.zfill(16) if len(serial) < 16 else serial


def _method_text(method: str) -> str:
    return _("KSeF token") if method == AuthMethod.TOKEN.value else _("certificate")


def targets_from_rows(rows: Sequence[Any]) -> list[Target]:
    """Targets from dashboard rows (anything with user_id, company_id, environment, login, nip)."""
    return [Target(r.user_id, r.company_id, r.environment,
                   f"{getattr(r, 'login', '')} · {getattr(r, 'company_name', '')} ({getattr(r, 'nip', '')})")
            for r in rows]


def configured_targets(credentials: CredentialService, actor: Actor, env: Environment | None = None) -> list[Target]:
    """Every configured credential of companies with KSeF on (the ``ksef check`` set)."""
    require_admin(actor)
    c = KsefCredential
    stmt = (select(c.user_id, c.company_id, c.environment, User.login, Company.name, Company.nip)
            .join(User, User.id == c.user_id).join(Company, Company.id == c.company_id)
            .where(Company.ksef_enabled.is_(True)).order_by(c.environment, User.sort_key, User.id, Company.sort_key))
    if env is not None:
        stmt = stmt.where(c.environment == env.value)
    with credentials.db.session() as s:
        return [Target(u, co, Environment(e), f"{login} · {name} ({nip})") for u, co, e, login, name, nip in s.execute(stmt)]


__all__ = [
    "CANCELLED",
    "ERROR",
    "FAILED",
    "OK",
    "SKIPPED",
    "BulkProgress",
    "BulkReport",
    "KsefBulk",
    "RowResult",
    "Target",
    "configured_targets",
    "run_bulk",
    "targets_from_rows",
]

