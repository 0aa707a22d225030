"""``ksef check``: authorize every configured credential and say, per row, whether it works, until when,
and with which KSeF permissions (issue 15 item 6: the login in the company's context, as the bulk
permission check does, the office's view once per environment).

Each row is one (user, company, environment) and is built in ONE place (:func:`check_row`) from
what the store knows (:class:`StoredFacts`) and what KSeF answered (:class:`RowResult`): add a
fact to both and every consumer (the JSON, the plain report) gets it. A row never holds a token,
key or access token.

When a credential stops working:

* a certificate: its ``validTo``;
* a token: KSeF's own ``validTo`` when it gave one, else the office's token policy (the policy's
  last day for tokens issued before 2027): :meth:`TokenPolicy.end_of`.

A row is "expiring" when it stops working within ``within_days`` days (or has stopped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.clock import ksef_day
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.token_policy import TokenPolicy, issued_on_from_reference
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.bulk import DEFAULT_CONCURRENCY, RowResult, Target, run_bulk
from ksef_tui.services.ksef.credentials import CredentialService
from ksef_tui.services.ksef.diagnosis_texts import cause_text
from ksef_tui.services.ksef.permission_check import PermissionCheck, permission_facts
from ksef_tui.services.ksef.permission_views import STEP_FAIL, Diagnosis
from ksef_tui.services.ksef.permissions import PermissionService
from ksef_tui.services.ksef.token_policy import day_text, policy_json, policy_line, token_end_text
from ksef_tui.services.ksef.views import aware
from ksef_tui.store.models import Company, KsefCredential, User


@dataclass(frozen=True)
class StoredFacts:
    """What the store knows of one row (no secrets)."""

    login: str
    nip: str
    method: str
    cert_valid_to: dt.datetime | None = None
    token_reference: str | None = None
    token_valid_to: dt.datetime | None = None


@dataclass(frozen=True)
class Ending:
    """When a row's credential stops working: ``valid_to`` (a datetime for a certificate, a date
    for a token), what it rests on, the days left and whether it has already ended."""

    valid_to: dt.datetime | dt.date | None
    basis: str | None  # "certificate" | "ksef" | "policy" | "new-rules" | None (unknown)
    days_left: int | None
    ended: bool
    text: str = ""

    def within(self, days: int) -> bool:
        return self.ended or (self.days_left is not None and self.days_left <= days)


def ending(facts: StoredFacts, policy: TokenPolicy, now: dt.datetime) -> Ending:
    """When the row's credential (its login method's) stops working, at ``now``."""
    if facts.method == AuthMethod.TOKEN.value:
        end = policy.end_of(valid_to=facts.token_valid_to,
                            issued_on=issued_on_from_reference(facts.token_reference))
        today = ksef_day(now)
        return Ending(end.last_day, end.basis.value, end.days_left(today), end.ended(today),
                      token_end_text(end, today))
    valid_to = aware(facts.cert_valid_to)
    if valid_to is None:
        return Ending(None, None, None, False)
    left = valid_to - now
    ended = left <= dt.timedelta(0)
    text = (_("certificate expired on {day}") if ended else _("certificate valid until {day}")).format(
        day=day_text(ksef_day(valid_to)))
    # whole days before it stops working, rounded up: 0 only once it has stopped
    days = 0 if ended else -(-int(left.total_seconds()) // 86400)
    return Ending(valid_to, "certificate", days, ended, text)


def check_row(target: Target, result: RowResult, facts: StoredFacts | None, *, policy: TokenPolicy,
              now: dt.datetime, within_days: int, diagnosis: Diagnosis | None = None) -> dict[str, Any]:
    """One row of the report as plain JSON values: THE place a row is built. With the row's
    ``diagnosis``: its cause, permission state and permissions; a failing row's message and code are
    KSeF's answer at the step that failed."""
    facts = facts or StoredFacts("", "", "")
    end = ending(facts, policy, now)
    valid_to = end.valid_to.isoformat() if end.valid_to is not None else None
    row = {
        "environment": target.environment.value, "user_id": target.user_id, "login": facts.login,
        "company_id": target.company_id, "nip": facts.nip, "method": facts.method,
        "ok": result.ok, "status": result.status, "message": result.message, "hint": result.hint,
        "code": result.code, "reference": result.reference,
        "valid_to": valid_to, "valid_to_basis": end.basis, "days_left": end.days_left,
        "ended": end.ended, "ends": end.text,
        "expiring": end.within(within_days),
    }
    row.update(permission_facts(diagnosis))
    failed = next((s for s in diagnosis.steps if s.status == STEP_FAIL), None) if diagnosis is not None else None
    if diagnosis is not None and failed is not None and not row["ok"]:
        row["message"] = f"{cause_text(diagnosis.cause)}: {failed.evidence}" if failed.evidence else row["message"]
        row["code"] = failed.code
    return row


@dataclass
class CheckReport:
    checked_at: dt.datetime
    within_days: int
    environment: Environment | None
    policy: TokenPolicy
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: KSeF's non-blocking warnings (``X-System-Warning``) seen during the run
    warnings: tuple[str, ...] = ()

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r["ok"] or r["expiring"]]

    def as_json(self) -> dict[str, Any]:
        return {"checked_at": self.checked_at.isoformat(), "within_days": self.within_days,
                "environment": self.environment.value if self.environment else None,
                "token_policy": policy_json(self.policy), "ksef_warnings": list(self.warnings),
                "total": len(self.rows), "problems": len(self.problems), "rows": self.rows}

    def lines(self) -> list[str]:
        """The plain report: the policy, one line per row, the totals."""
        out = [policy_line(self.policy, ksef_day(self.checked_at), long=False)]
        for r in self.rows:
            mark = "OK  " if r["ok"] and not r["expiring"] else "FAIL"
            extra = f" ({r['ends']})" if r["expiring"] and r["ends"] else ""
            out.append(f"{mark} {r['environment']:<10} {r['login']:<20} {r['nip']} {r['method']:<11} "
                       f"{r.get('cause') or '-':<20} {r['message']}{extra}")
        out += [_("KSeF warns: {warning}").format(warning=w) for w in self.warnings]
        out.append(_("{n} checked, {bad} with problems.").format(n=len(self.rows), bad=len(self.problems)))
        return out


def stored_facts(credentials: CredentialService, targets: Sequence[Target]) -> dict[tuple, StoredFacts]:
    facts: dict[tuple, StoredFacts] = {}
    with credentials.db.session() as s:
        for t in targets:
            row = s.scalars(select(KsefCredential).where(
                KsefCredential.user_id == t.user_id, KsefCredential.company_id == t.company_id,
                KsefCredential.environment == t.environment.value)).first()
            user, company = s.get(User, t.user_id), s.get(Company, t.company_id)
            if row is None or user is None or company is None:
                continue
            facts[t.key] = StoredFacts(user.login, company.nip, row.method, cert_valid_to=row.cert_valid_to,
                                       token_reference=row.token_reference,
                                       token_valid_to=getattr(row, "token_valid_to", None))
    return facts


async def run_check(permissions: PermissionService, actor: Actor, targets: Sequence[Target], *,
                    within_days: int, policy: TokenPolicy, now: dt.datetime | None = None,
                    environment: Environment | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                    limiter: Any = None) -> CheckReport:
    """Log every target in (under KSeF's limits), read its permissions there, and describe each row."""
    import asyncio

    require_admin(actor)
    credentials = permissions.credentials
    now = now or credentials.clock()
    async with PermissionCheck(permissions, actor, limiter=limiter) as check:
        report = await run_bulk("check", targets, check.check_row, concurrency=concurrency)
        warnings = check.warnings()
    facts = await asyncio.to_thread(stored_facts, credentials, targets)
    rows = [check_row(r.target, r, facts.get(r.target.key), policy=policy, now=now, within_days=within_days,
                      diagnosis=check.diagnoses.get(r.target.key))
            for r in report.results]
    return CheckReport(now, within_days, environment, policy, rows, warnings)
