"""The KSeF dashboard: per environment, how many credentials are in which state, and their rows.

Everything is counted and paged in SQL (one GROUP BY per question, LIMIT/OFFSET for rows), so the
dashboard costs the same for 50 and for 50,000 credentials. Rows never carry secrets.

A row is one (user, company, environment); its ``id`` packs the three (see :func:`row_id`), so a
selection is a plain ``set[int]`` that survives switching buckets and environments, and covers
rows that have no credential yet ("not configured").
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import and_, case, exists, func, literal, not_, or_, select

from ksef_tui.domain.clock import Clock, ksef_day, system_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.token_policy import DEFAULT_POLICY, NEW_RULE_MAX_DAYS, NEW_RULES_FROM, TokenPolicy
from ksef_tui.domain.untrusted import csv_cell
from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.ksef.offline import usable_offline
from ksef_tui.services.ksef.token_policy import token_end_text
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCertificate, KsefCredential, Membership, User

PANEL_ENVIRONMENTS = (Environment.DEMO, Environment.PRODUCTION)
_ENV_INDEX = {e: i for i, e in enumerate(Environment)}
_ENV_BY_INDEX = {i: e for e, i in _ENV_INDEX.items()}
INACTIVE_TOKEN_STATUSES = ("Revoked", "Revoking", "Failed")

# bucket keys, in the order the dashboard shows them
NOT_CONFIGURED = "not-configured"
TOKEN = "token"
TOKEN_INACTIVE = "token-inactive"
CERT_EXPIRED = "cert-expired"
CERT_30 = "cert-30"
CERT_60 = "cert-60"
FAILING = "failing"
NEVER_TESTED = "never-tested"
TOKEN_TO_REVOKE = "token-to-revoke"
CERTIFICATE = "certificate"
TOKEN_ENDED = "token-ended"
TOKEN_60 = "token-60"
OFFLINE = "offline"
# the last permission check (issue 15): the credential works, the permission does not
NO_PERMISSION = "no-permission"
CHAIN_BROKEN = "chain-broken"
BUCKETS = (NOT_CONFIGURED, TOKEN, TOKEN_ENDED, TOKEN_60, TOKEN_INACTIVE, CERT_EXPIRED, CERT_30, CERT_60, FAILING,
           NO_PERMISSION, CHAIN_BROKEN, NEVER_TESTED, TOKEN_TO_REVOKE, CERTIFICATE, OFFLINE)
#: buckets whose rows are (user, company) pairs rather than credentials
PAIR_BUCKETS = (NOT_CONFIGURED, OFFLINE)
#: a token ending within this many days is its own bucket
TOKEN_SOON_DAYS = 60


def token_end_conditions(policy: TokenPolicy, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """SQL conditions on a credential's token: "ended" and "soon" (ends within 60 days, not ended),
    by its own validTo from KSeF, else by the policy (tokens issued before 2027, as their reference
    number's date says), else at most 365 days after a new-rule token was issued (PROTOCOL.md §10)."""
    c = KsefCredential
    issued = func.substr(c.token_reference, 1, 8)
    new_rules = NEW_RULES_FROM.strftime("%Y%m%d")
    by_policy = and_(c.token_valid_to.is_(None), or_(c.token_reference.is_(None), issued < new_rules))
    by_rule = and_(c.token_valid_to.is_(None), c.token_reference.is_not(None), issued >= new_rules)

    def issued_before(day: dt.date) -> Any:  # a new-rule token issued before ``day`` - 364 days ends before ``day``
        return issued < (day - dt.timedelta(days=NEW_RULE_MAX_DAYS - 1)).strftime("%Y%m%d")

    soon_day = today + dt.timedelta(days=TOKEN_SOON_DAYS)
    ended = or_(and_(c.token_valid_to.is_not(None), c.token_valid_to <= now),
                and_(by_policy, literal(policy.ended(today))),
                and_(by_rule, issued_before(today)))
    soon = and_(not_(ended), or_(
        and_(c.token_valid_to.is_not(None), c.token_valid_to <= now + dt.timedelta(days=TOKEN_SOON_DAYS)),
        and_(by_policy, literal(policy.last_day < soon_day)),
        and_(by_rule, issued_before(soon_day))))
    return {"ended": ended, "soon": soon}


def bucket_label(bucket: str, today: dt.date, policy: TokenPolicy = DEFAULT_POLICY) -> str:
    return {
        NOT_CONFIGURED: _("Not configured"),
        TOKEN: _("Token: {end}").format(end=token_end_text(policy.end_of(), today)),
        TOKEN_ENDED: _("Token expired (by policy or by KSeF)"),
        TOKEN_60: _("Token ends within 60 days"),
        OFFLINE: _("Offline certificate held (offline-ready)"),
        TOKEN_INACTIVE: _("Token revoked or inactive in KSeF"),
        CERT_EXPIRED: _("Certificate expired"),
        CERT_30: _("Certificate expires within 30 days"),
        CERT_60: _("Certificate expires in 31-60 days"),
        FAILING: _("Last authorization failed"),
        NO_PERMISSION: _("Authorized but no permission"),
        CHAIN_BROKEN: _("Chain broken (client → office → employee)"),
        NEVER_TESTED: _("Never tested"),
        TOKEN_TO_REVOKE: _("Moved to a certificate, token still kept"),
        CERTIFICATE: _("Certificate (all)"),
    }[bucket]


def row_id(user_id: int, company_id: int, env: Environment) -> int:
    """One int for (user, company, environment): the selection key of a dashboard row."""
    return (user_id << 26) | (company_id << 2) | _ENV_INDEX[env]


def split_row_id(value: int) -> tuple[int, int, Environment]:
    return value >> 26, (value >> 2) & ((1 << 24) - 1), _ENV_BY_INDEX[value & 3]


@dataclass(frozen=True)
class Reason:
    text: str
    count: int


@dataclass(frozen=True)
class EnvironmentCounts:
    environment: Environment
    counts: dict[str, int]
    configured: int
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    policy: TokenPolicy
    environments: tuple[EnvironmentCounts, ...]

    def counts(self, env: Environment) -> EnvironmentCounts | None:
        return next((e for e in self.environments if e.environment is env), None)


@dataclass(frozen=True)
class DashboardRow:
    """One (user, company, environment) in a bucket (no secrets)."""

    id: int
    user_id: int
    company_id: int
    environment: Environment
    login: str
    full_name: str
    company_name: str
    nip: str
    credential_id: int | None = None
    method: str | None = None
    has_token: bool = False
    token_last4: str | None = None
    token_status: str | None = None
    has_certificate: bool = False
    cert_serial: str | None = None
    cert_valid_to: dt.datetime | None = None
    last_auth_at: dt.datetime | None = None
    last_auth_ok: bool | None = None
    last_auth_error: str | None = None

    @property
    def key(self) -> tuple[int, int, Environment]:
        return self.user_id, self.company_id, self.environment


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class DashboardService:
    def __init__(self, db: Database, *, clock: Clock = system_clock, policy: TokenPolicy = DEFAULT_POLICY) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy

    # ------------------------------------------------------------------ conditions

    def _conditions(self, now: dt.datetime) -> dict[str, object]:
        c = KsefCredential
        n = _utc(now)
        is_cert = c.method == "certificate"
        is_token = c.method == "token"
        token_end = token_end_conditions(self.policy, ksef_day(now), n)
        return {
            TOKEN: is_token,
            TOKEN_ENDED: and_(is_token, token_end["ended"]),
            TOKEN_60: and_(is_token, token_end["soon"]),
            TOKEN_INACTIVE: and_(c.token_blob.is_not(None), c.token_status.in_(INACTIVE_TOKEN_STATUSES)),
            CERT_EXPIRED: and_(is_cert, c.cert_valid_to.is_not(None), c.cert_valid_to <= n),
            CERT_30: and_(is_cert, c.cert_valid_to > n, c.cert_valid_to <= n + dt.timedelta(days=30)),
            CERT_60: and_(is_cert, c.cert_valid_to > n + dt.timedelta(days=30),
                          c.cert_valid_to <= n + dt.timedelta(days=60)),
            FAILING: c.last_auth_ok.is_(False),
            NO_PERMISSION: c.permission_cause.in_(("no-permission", "wrong-identity-type")),
            CHAIN_BROKEN: c.permission_cause == "chain-broken",
            NEVER_TESTED: c.last_auth_at.is_(None),
            TOKEN_TO_REVOKE: and_(is_cert, c.token_blob.is_not(None),
                                  or_(c.token_status.is_(None), not_(c.token_status.in_(INACTIVE_TOKEN_STATUSES)))),
            CERTIFICATE: is_cert,
        }

    @staticmethod
    def _environments(s) -> list[Environment]:
        present = {e for (e,) in s.execute(select(KsefCredential.environment).distinct())}
        return list(PANEL_ENVIRONMENTS) + [e for e in Environment if e.value in present and e not in PANEL_ENVIRONMENTS]

    # ------------------------------------------------------------------ counts

    def summary(self, actor: Actor, *, now: dt.datetime | None = None) -> Dashboard:
        require_admin(actor)
        now = now or self.clock()
        conds = self._conditions(now)
        c = KsefCredential
        with self.db.session() as s:
            envs = self._environments(s)
            cols = [func.sum(case((cond, 1), else_=0)).label(key) for key, cond in conds.items()]
            stmt = (select(c.environment, func.count().label("configured"), *cols)
                    .join(Company, Company.id == c.company_id)
                    .where(Company.ksef_enabled.is_(True))
                    .group_by(c.environment))
            per_env = {r.environment: r for r in s.execute(stmt)}
            reasons_stmt = (select(c.environment, c.last_auth_error, func.count().label("n"))
                            .join(Company, Company.id == c.company_id)
                            .where(Company.ksef_enabled.is_(True), c.last_auth_ok.is_(False))
                            .group_by(c.environment, c.last_auth_error)
                            .order_by(func.count().desc()))
            reasons: dict[str, list[Reason]] = {}
            for env_value, text, n in s.execute(reasons_stmt):
                reasons.setdefault(env_value, []).append(Reason(text or _("unknown"), int(n)))
            out = []
            for env in envs:
                row = per_env.get(env.value)
                counts = {key: int(getattr(row, key) or 0) if row is not None else 0 for key in conds}
                counts[NOT_CONFIGURED] = self._count(s, env, NOT_CONFIGURED, now)
                counts[OFFLINE] = self._count(s, env, OFFLINE, now)
                out.append(EnvironmentCounts(env, counts, int(row.configured) if row is not None else 0,
                                             tuple(reasons.get(env.value, [])[:5])))
        return Dashboard(ksef_day(now), self.policy, tuple(out))

    # ------------------------------------------------------------------ rows

    def _base(self, env: Environment, bucket: str, now: dt.datetime):
        """(columns, FROM/WHERE statement) of one bucket."""
        c = KsefCredential
        if bucket == NOT_CONFIGURED:
            has_cred = exists().where(c.user_id == Membership.user_id, c.company_id == Membership.company_id,
                                      c.environment == env.value)
            cols = (Membership.user_id, Membership.company_id, User.login, User.full_name, Company.name,
                    Company.nip, User.sort_key, Company.sort_key)
            stmt = (select(*cols).select_from(Membership)
                    .join(User, User.id == Membership.user_id)
                    .join(Company, Company.id == Membership.company_id)
                    .where(Company.ksef_enabled.is_(True), User.active.is_(True),
                           ~has_cred))
            return stmt
        if bucket == OFFLINE:
            k = KsefCertificate
            cols = (k.user_id, k.company_id, User.login, User.full_name, Company.name, Company.nip,
                    User.sort_key, Company.sort_key)
            return (select(*cols).select_from(k)
                    .join(User, User.id == k.user_id)
                    .join(Company, Company.id == k.company_id)
                    .join(Membership, and_(Membership.user_id == k.user_id, Membership.company_id == k.company_id))
                    .where(Company.ksef_enabled.is_(True), k.environment == env.value, usable_offline(now)))
        cond = self._conditions(now)[bucket]
        cols = (c.user_id, c.company_id, User.login, User.full_name, Company.name, Company.nip,
                c.id, c.method, c.token_blob.is_not(None).label("has_token"), c.token_last4, c.token_status,
                c.cert_blob.is_not(None).label("has_cert"), c.cert_serial, c.cert_valid_to,
                c.last_auth_at, c.last_auth_ok, c.last_auth_error)
        return (select(*cols).select_from(c)
                .join(User, User.id == c.user_id)
                .join(Company, Company.id == c.company_id)
                .where(Company.ksef_enabled.is_(True), c.environment == env.value, cond))

    def _count(self, s, env: Environment, bucket: str, now: dt.datetime) -> int:
        stmt = self._base(env, bucket, now)
        return int(s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())

    def count(self, actor: Actor, env: Environment, bucket: str, *, now: dt.datetime | None = None) -> int:
        require_admin(actor)
        with self.db.session() as s:
            return self._count(s, env, bucket, now or self.clock())

    def page(self, actor: Actor, env: Environment, bucket: str, offset: int, limit: int, *,
             now: dt.datetime | None = None) -> list[DashboardRow]:
        require_admin(actor)
        now = now or self.clock()
        stmt = self._base(env, bucket, now).order_by(User.sort_key, User.id, Company.sort_key, Company.id)
        stmt = stmt.offset(offset).limit(limit)
        with self.db.session() as s:
            return [self._row(env, bucket, r) for r in s.execute(stmt)]

    def keys(self, actor: Actor, env: Environment, bucket: str, *,
             now: dt.datetime | None = None) -> list[int]:
        """The row ids of a whole bucket ("select all")."""
        require_admin(actor)
        stmt = self._base(env, bucket, now or self.clock())
        with self.db.session() as s:
            return [row_id(r[0], r[1], env) for r in s.execute(stmt)]

    def rows_for(self, actor: Actor, ids: Iterable[int]) -> list[DashboardRow]:
        """The rows behind selected ids, in a stable order (any bucket, any environment)."""
        require_admin(actor)
        wanted = sorted(set(ids))
        out: list[DashboardRow] = []
        c = KsefCredential
        with self.db.session() as s:
            for i in range(0, len(wanted), 400):
                chunk = [split_row_id(v) for v in wanted[i:i + 400]]
                pairs = {(u, co) for u, co, _e in chunk}
                users = {u for u, _c in pairs}
                companies = {co for _u, co in pairs}
                people = {r.id: r for r in s.execute(select(User.id, User.login, User.full_name, User.sort_key)
                                                     .where(User.id.in_(users)))}
                firms = {r.id: r for r in s.execute(select(Company.id, Company.name, Company.nip, Company.sort_key)
                                                    .where(Company.id.in_(companies)))}
                creds = {(r.user_id, r.company_id, r.environment): r for r in s.scalars(
                    select(c).where(c.user_id.in_(users), c.company_id.in_(companies)))}
                for u, co, env in chunk:
                    if u not in people or co not in firms:
                        continue
                    p, f = people[u], firms[co]
                    cred = creds.get((u, co, env.value))
                    out.append(_make_row(env, u, co, p.login, p.full_name, f.name, f.nip, cred))
        return out

    # ------------------------------------------------------------------ CSV

    def export_csv(self, actor: Actor, env: Environment, bucket: str, out: IO[str], *,
                   now: dt.datetime | None = None, only: set[int] | None = None) -> int:
        """Write the bucket's rows (or only the selected ones) as CSV; returns the number written."""
        require_admin(actor)
        now = now or self.clock()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["environment", "login", "full_name", "company", "nip", "method", "token_last4", "token_status",
                    "certificate_serial", "certificate_valid_to", "last_auth_at", "last_auth_ok", "last_auth_error"])
        written, offset = 0, 0
        while True:
            rows = self.page(actor, env, bucket, offset, 500, now=now)
            for r in rows:
                if only is not None and r.id not in only:
                    continue
                w.writerow([_cell(v) for v in (
                    r.environment.value, r.login, r.full_name, r.company_name, r.nip, r.method or "",
                    r.token_last4 or "", r.token_status or "", r.cert_serial or "",
                    r.cert_valid_to.isoformat() if r.cert_valid_to else "",
                    r.last_auth_at.isoformat() if r.last_auth_at else "",
                    "" if r.last_auth_ok is None else str(r.last_auth_ok).lower(), r.last_auth_error or "")])
                written += 1
            if len(rows) < 500:
                return written
            offset += 500

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _row(env: Environment, bucket: str, r) -> DashboardRow:
        if bucket in PAIR_BUCKETS:
            return DashboardRow(row_id(r[0], r[1], env), r[0], r[1], env, r[2], r[3], r[4], r[5])
        return DashboardRow(
            id=row_id(r[0], r[1], env), user_id=r[0], company_id=r[1], environment=env, login=r[2],
            full_name=r[3], company_name=r[4], nip=r[5], credential_id=r[6], method=r[7], has_token=bool(r[8]),
            token_last4=r[9], token_status=r[10], has_certificate=bool(r[11]), cert_serial=r[12],
            cert_valid_to=_aware(r[13]), last_auth_at=_aware(r[14]), last_auth_ok=r[15], last_auth_error=r[16])


def _make_row(env: Environment, user_id: int, company_id: int, login: str, full_name: str, name: str, nip: str,
              cred: KsefCredential | None) -> DashboardRow:
    if cred is None:
        return DashboardRow(row_id(user_id, company_id, env), user_id, company_id, env, login, full_name, name, nip)
    return DashboardRow(
        id=row_id(user_id, company_id, env), user_id=user_id, company_id=company_id, environment=env, login=login,
        full_name=full_name, company_name=name, nip=nip, credential_id=cred.id, method=cred.method,
        has_token=cred.token_blob is not None, token_last4=cred.token_last4, token_status=cred.token_status,
        has_certificate=cred.cert_blob is not None, cert_serial=cred.cert_serial,
        cert_valid_to=_aware(cred.cert_valid_to), last_auth_at=_aware(cred.last_auth_at),
        last_auth_ok=cred.last_auth_ok, last_auth_error=cred.last_auth_error)


_cell = csv_cell  # the one guard of every CSV export (formulas, control characters)
