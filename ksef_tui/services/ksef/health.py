"""The dashboard's picture of credential health: per environment, how many users are ready (a tested
certificate), on a token, failing, not configured; which companies are offline-ready; and, month by
month for the next 24 months, how many tokens and certificates reach their end. The title says what
is most urgent, computed from those facts (never a fixed sentence).

Everything is counted in SQL (a handful of GROUP BY queries), so the picture costs the same for 50 and
for 50,000 credentials.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select

from ksef_tui.domain.clock import Clock, ksef_day, system_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.token_policy import DEFAULT_POLICY, NEW_RULE_MAX_DAYS, NEW_RULES_FROM, TokenPolicy
from ksef_tui.i18n import _, ngettext
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.dashboard import PANEL_ENVIRONMENTS, token_end_conditions
from ksef_tui.services.ksef.offline import usable_offline
from ksef_tui.services.ksef.token_policy import day_text, month_text, source_text
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCertificate, KsefCredential, Membership, User

TIMELINE_MONTHS = 24
CERT_SOON_DAYS = 30

# urgency of the title, most urgent first
ERROR, WARNING, NOTE, OK = "error", "warning", "note", "ok"


@dataclass(frozen=True)
class EnvHealth:
    """One environment: every (user, company) of the companies with KSeF on, in exactly one state."""

    environment: Environment
    ready: int  # logs in with a certificate whose last test passed
    token: int  # logs in with a token that still works (and did not fail)
    untested: int  # logs in with a certificate never tested
    failing: int  # last authorization failed, or its certificate or token has ended
    not_configured: int
    token_ended: int = 0  # of ``failing``: tokens ended by the policy or by KSeF
    cert_expired: int = 0  # of ``failing``: certificates past their validTo
    cert_soon: int = 0  # certificates in use that end within 30 days
    token_soon: int = 0  # tokens that end within 60 days
    companies: int = 0  # companies with KSeF on
    offline_ready: int = 0  # of those, offline-ready here

    @property
    def total(self) -> int:
        return self.ready + self.token + self.untested + self.failing + self.not_configured

    def share(self, part: int) -> float:
        return part / self.total if self.total else 0.0


@dataclass(frozen=True)
class MonthEnds:
    """How many tokens and certificates reach their end in the month starting ``month``."""

    month: dt.date
    tokens: int
    certificates: int


@dataclass(frozen=True)
class Health:
    today: dt.date
    policy: TokenPolicy
    environments: tuple[EnvHealth, ...]
    timeline: tuple[MonthEnds, ...]
    title: str
    urgency: str  # ERROR | WARNING | NOTE | OK

    def env(self, environment: Environment) -> EnvHealth | None:
        return next((e for e in self.environments if e.environment is environment), None)


def _months(today: dt.date, n: int = TIMELINE_MONTHS) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for i in range(n):
        y, m = divmod(first.month - 1 + i, 12)
        out.append(dt.date(first.year + y, m + 1, 1))
    return out


def _month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class HealthService:
    def __init__(self, db: Database, *, clock: Clock = system_clock, policy: TokenPolicy = DEFAULT_POLICY) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy

    def _month_of(self, column: Any) -> Any:
        if self.db.dialect == "postgresql":
            return func.to_char(column, "YYYY-MM")
        return func.strftime("%Y-%m", column)

    def health(self, actor: Actor, *, now: dt.datetime | None = None) -> Health:
        require_admin(actor)
        now = now or self.clock()
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        today = ksef_day(now)
        c = KsefCredential
        is_cert, is_token = c.method == "certificate", c.method == "token"
        ends = token_end_conditions(self.policy, today, now)
        cert_expired = and_(is_cert, c.cert_valid_to.is_not(None), c.cert_valid_to <= now)
        token_ended = and_(is_token, ends["ended"])
        failing = or_(c.last_auth_ok.is_(False), cert_expired, token_ended)
        states = {
            "failing": failing,
            "ready": and_(not_(failing), is_cert, c.last_auth_ok.is_(True)),
            "untested": and_(not_(failing), is_cert, c.last_auth_ok.is_(None)),
            "token": and_(not_(failing), is_token),
            "token_ended": token_ended,
            "cert_expired": cert_expired,
            "cert_soon": and_(is_cert, c.cert_valid_to > now, c.cert_valid_to <= now + dt.timedelta(days=CERT_SOON_DAYS)),
            "token_soon": and_(is_token, ends["soon"]),
        }
        with self.db.session() as s:
            present = {e for (e,) in s.execute(select(c.environment).distinct())}
            envs = list(PANEL_ENVIRONMENTS) + [e for e in Environment if e.value in present and e not in PANEL_ENVIRONMENTS]
            counted = (select(c.environment, *[func.sum(case((cond, 1), else_=0)).label(k) for k, cond in states.items()])
                       .join(Membership, and_(Membership.user_id == c.user_id, Membership.company_id == c.company_id))
                       .join(User, User.id == c.user_id).join(Company, Company.id == c.company_id)
                       .where(Company.ksef_enabled.is_(True), User.active.is_(True))
                       .group_by(c.environment))
            per_env = {r.environment: r for r in s.execute(counted)}
            pairs = int(s.execute(select(func.count()).select_from(Membership)
                                  .join(User, User.id == Membership.user_id)
                                  .join(Company, Company.id == Membership.company_id)
                                  .where(Company.ksef_enabled.is_(True), User.active.is_(True))).scalar_one())
            configured: dict[str, int] = dict(s.execute(
                select(c.environment, func.count()).select_from(c)
                .join(Membership, and_(Membership.user_id == c.user_id, Membership.company_id == c.company_id))
                .join(User, User.id == c.user_id).join(Company, Company.id == c.company_id)
                .where(Company.ksef_enabled.is_(True), User.active.is_(True)).group_by(c.environment)).all())
            companies = int(s.execute(select(func.count()).select_from(Company)
                                      .where(Company.ksef_enabled.is_(True))).scalar_one())
            k = KsefCertificate
            ready_companies: dict[str, int] = dict(s.execute(
                select(k.environment, func.count(func.distinct(k.company_id))).select_from(k)
                .join(Membership, and_(Membership.user_id == k.user_id, Membership.company_id == k.company_id))
                .join(Company, Company.id == k.company_id)
                .where(Company.ksef_enabled.is_(True), usable_offline(now)).group_by(k.environment)).all())
            timeline = self._timeline(s, today, now, ends)
        out = []
        for env in envs:
            r = per_env.get(env.value)
            n = {key: int(getattr(r, key) or 0) if r is not None else 0 for key in states}
            out.append(EnvHealth(env, n["ready"], n["token"], n["untested"], n["failing"],
                                 max(0, pairs - int(configured.get(env.value, 0))), n["token_ended"],
                                 n["cert_expired"], n["cert_soon"], n["token_soon"], companies,
                                 int(ready_companies.get(env.value, 0))))
        title, urgency = self._title(out, today)
        return Health(today, self.policy, tuple(out), tuple(timeline), title, urgency)

    # ---------------------------------------------------------------- the timeline

    def _timeline(self, s: Any, today: dt.date, now: dt.datetime, ends: dict[str, Any]) -> list[MonthEnds]:
        months = _months(today)
        keys = {_month_key(m): i for i, m in enumerate(months)}
        tokens = [0] * len(months)
        certs = [0] * len(months)
        c = KsefCredential
        base = (select().select_from(c).join(Company, Company.id == c.company_id)
                .where(Company.ksef_enabled.is_(True)))
        horizon = dt.datetime.combine(months[-1].replace(day=28) + dt.timedelta(days=4), dt.time(), dt.UTC)
        alive = and_(c.method == "token", not_(ends["ended"]))
        # tokens with KSeF's own end
        own = self._month_of(c.token_valid_to)
        for month, n in s.execute(base.add_columns(own, func.count()).where(
                alive, c.token_valid_to.is_not(None), c.token_valid_to <= horizon).group_by(own)):
            if month in keys:
                tokens[keys[month]] += int(n)
        # tokens issued before 2027: the policy's last day
        issued = func.substr(c.token_reference, 1, 8)
        new_rules = NEW_RULES_FROM.strftime("%Y%m%d")
        by_policy = int(s.execute(base.add_columns(func.count()).where(
            alive, c.token_valid_to.is_(None), or_(c.token_reference.is_(None), issued < new_rules))).scalar_one())
        if by_policy and _month_key(self.policy.last_day) in keys:
            tokens[keys[_month_key(self.policy.last_day)]] += by_policy
        # new-rule tokens without a date from KSeF: at most 365 days from their issue day
        for day, n in s.execute(base.add_columns(issued, func.count()).where(
                alive, c.token_valid_to.is_(None), c.token_reference.is_not(None), issued >= new_rules).group_by(issued)):
            try:
                end = dt.datetime.strptime(day, "%Y%m%d").date() + dt.timedelta(days=NEW_RULE_MAX_DAYS - 1)
            except (TypeError, ValueError):
                continue
            if _month_key(end) in keys:
                tokens[keys[_month_key(end)]] += int(n)
        # certificates in use for logging in, and Offline certificates
        cert_month = self._month_of(c.cert_valid_to)
        for month, n in s.execute(base.add_columns(cert_month, func.count()).where(
                c.method == "certificate", c.cert_valid_to > now, c.cert_valid_to <= horizon).group_by(cert_month)):
            if month in keys:
                certs[keys[month]] += int(n)
        k = KsefCertificate
        offline_month = self._month_of(k.valid_to)
        for month, n in s.execute(select(offline_month, func.count()).select_from(k)
                                  .join(Company, Company.id == k.company_id)
                                  .where(Company.ksef_enabled.is_(True), usable_offline(now), k.valid_to <= horizon)
                                  .group_by(offline_month)):
            if month in keys:
                certs[keys[month]] += int(n)
        return [MonthEnds(m, t, ce) for m, t, ce in zip(months, tokens, certs, strict=True)]

    # ---------------------------------------------------------------- the title

    def _title(self, envs: list[EnvHealth], today: dt.date) -> tuple[str, str]:
        """What is most urgent, production first: failing, then what ends soon, then what is left to do."""
        ordered = sorted(envs, key=lambda e: (e.environment is not Environment.PRODUCTION,
                                              e.environment is not Environment.DEMO))
        policy = self.policy
        for e in ordered:
            if e.token_ended and e.token_ended == e.failing:
                return ngettext(
                    "{env}: {n} user still logs in with a token that expired by policy on {day} ({source}); "
                    "move it to a KSeF certificate",
                    "{env}: {n} users still log in with tokens that expired by policy on {day} ({source}); "
                    "move them to KSeF certificates", e.token_ended).format(
                    env=e.environment.value, n=e.token_ended, day=day_text(policy.last_day),
                    source=source_text(policy, long=False)), ERROR
            if e.failing and e.token_ended:
                return ngettext(
                    "{env}: {n} credential fails, {t} of them tokens that expired by policy on {day} ({source})",
                    "{env}: {n} credentials fail, {t} of them tokens that expired by policy on {day} ({source})",
                    e.failing).format(env=e.environment.value, n=e.failing, t=e.token_ended,
                                      day=day_text(policy.last_day), source=source_text(policy, long=False)), ERROR
            if e.failing:
                return ngettext("{env}: {n} credential fails; fix it first", "{env}: {n} credentials fail; fix them first",
                                e.failing).format(env=e.environment.value, n=e.failing), ERROR
        for e in ordered:
            if e.cert_soon:
                return ngettext("{env}: {n} certificate expires within 30 days; request a new one",
                                "{env}: {n} certificates expire within 30 days; request new ones",
                                e.cert_soon).format(env=e.environment.value, n=e.cert_soon), WARNING
            if e.token_soon:
                return ngettext(
                    "{env}: {n} token stops working by {day} ({source}); move it to a KSeF certificate",
                    "{env}: {n} tokens stop working by {day} ({source}); move them to KSeF certificates",
                    e.token_soon).format(env=e.environment.value, n=e.token_soon, day=day_text(policy.last_day),
                                         source=source_text(policy, long=False)), WARNING
        for e in ordered:
            if e.not_configured:
                return ngettext("{env}: {n} user of a company with KSeF on is not configured",
                                "{env}: {n} users of companies with KSeF on are not configured",
                                e.not_configured).format(env=e.environment.value, n=e.not_configured), NOTE
            if e.untested:
                return ngettext("{env}: {n} certificate was never tested", "{env}: {n} certificates were never tested",
                                e.untested).format(env=e.environment.value, n=e.untested), NOTE
            if e.token:
                return ngettext(
                    "{env}: {n} user logs in with a token (until {day}, {source}); a certificate does not depend on that date",
                    "{env}: {n} users log in with tokens (until {day}, {source}); a certificate does not depend on that date",
                    e.token).format(env=e.environment.value, n=e.token, day=day_text(policy.last_day),
                                    source=source_text(policy, long=False)), NOTE
        ready = sum(e.ready for e in envs)
        if ready:
            return ngettext("All is well: {n} user logs in with a tested certificate",
                            "All is well: {n} users log in with tested certificates", ready).format(n=ready), OK
        return _("No company has KSeF on yet: switch it on in Users and Companies → Companies"), NOTE


def next_end_text(timeline: tuple[MonthEnds, ...]) -> str:
    """One line under the timeline: the busiest month of each series."""
    parts = []
    tokens = [m for m in timeline if m.tokens]
    certs = [m for m in timeline if m.certificates]
    if tokens:
        top = max(tokens, key=lambda m: m.tokens)
        parts.append(ngettext("{n} token ends in {month}", "{n} tokens end in {month}", top.tokens).format(
            n=top.tokens, month=month_text(top.month)))
    if certs:
        first = certs[0]
        total = sum(m.certificates for m in certs)
        parts.append(ngettext("{n} certificate ends within 24 months, the first in {month}",
                              "{n} certificates end within 24 months, the first in {month}", total).format(
            n=total, month=month_text(first.month)))
    return " · ".join(parts) or _("Nothing ends within 24 months.")
