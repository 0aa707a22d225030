"""Accounts: passwords, one-time codes, logging in with lockout, global settings.

Passwords and one-time codes are kept only as salted scrypt hashes (memory-hard; the
cost parameters and the salt are stored with the hash): ``scrypt$n$r$p$salt$hash``.

Logging in (:meth:`AccountService.login`) does the same work and gives the same answer for an
unknown login as for a wrong password: one scrypt either way (an unknown login is checked
against a dummy hash), the same writes, the same pause, "Wrong login or password.". Nothing
about the account (locked, switched off, administrator) is told before the right password.

Throttling is per source address (``local``, ``ssh:ADDRESS``, ``web:ADDRESS``: where the
attempt came from), kept in the database so that every process (each browser session is
one) shares it, in table ``login_throttle``:
- a login at a source: a wrong password costs a short, growing pause; the fifth wrong one in
  a row blocks that login from that source for 30 s, each further one doubles it (at most one
  hour). Unknown logins are counted exactly alike. Others elsewhere can still log in: an
  attacker cannot lock the administrator out.
- a source: more than 10 wrong attempts within 15 minutes (any logins) block the source
  for 30 s, doubling up to 15 minutes.
A right password clears its login's count at that source. Recovery: ``ksef-tui users password``
(any password set by an administrator) clears every count of that login. Clock and sleep are
injectable for tests.

The switch "may configure KSeF themselves" (decision): the EFFECTIVE permission is the
per-user flag ``user_account.may_configure_ksef`` and nothing else, so the services check
one column. The global setting ``clients_may_configure_ksef`` is the DEFAULT: a user created
without an explicit value (``UserInput.may_configure_ksef=None``) gets it. Changing the
global default does not change existing users; the serial operation "Allow/Block KSeF
self-service" does that for selected users.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets as pysecrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, Integer, String, Text, column, func, select, table, update

from ksef_tui.domain.secret import Secret
from ksef_tui.errors import NotFound, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import utcnow

# the columns migration 0004 added (lightweight table clauses: the ORM models stay as they are)
_user = table(
    "user_account",
    column("id", Integer),
    column("login", String),
    column("full_name", String),
    column("email", String),
    column("role", String),
    column("active", Boolean),
    column("password_hash", String),
    column("password_set_at", DateTime(timezone=True)),
    column("failed_logins", Integer),
    column("locked_until", DateTime(timezone=True)),
    column("one_time_code_hash", String),
    column("one_time_code_expires", DateTime(timezone=True)),
)
_throttle = table(
    "login_throttle",  # migration 0006
    column("key", String),
    column("failures", Integer),
    column("last_failure", DateTime(timezone=True)),
    column("blocked_until", DateTime(timezone=True)),
)
_setting = table("setting", column("key", String), column("value", Text), column("updated_at", DateTime(timezone=True)))

CLIENTS_MAY_CONFIGURE_KSEF = "clients_may_configure_ksef"

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
FREE_FAILURES = 4  # the fifth wrong password in a row for one login at one source blocks it there
LOCK_BASE_S = 30.0
LOCK_MAX_S = 3600.0
PAIR_MEMORY = dt.timedelta(hours=24)  # a login's count at a source is forgotten after a quiet day
SOURCE_FREE = 10  # wrong attempts from one source (any logins) within SOURCE_WINDOW before it is blocked
SOURCE_WINDOW = dt.timedelta(minutes=15)
SOURCE_BASE_S = 30.0
SOURCE_MAX_S = 900.0
LOCAL_SOURCE = "local"
CODE_VALID = dt.timedelta(hours=24)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], None]


class LoginFailed(ServiceError):
    """Wrong login, password or code (the message never says which)."""


class LoginThrottled(LoginFailed):
    """Too many wrong attempts from this source (for this login, or for any): wait.

    Said alike for unknown and real logins: it tells nothing about the account."""

    def __init__(self, until: dt.datetime, now: dt.datetime) -> None:
        self.until = until
        self.seconds = max(1, int((until - now).total_seconds() + 0.999))
        super().__init__(_("Too many wrong attempts: logging in from here is blocked; try again in {s} s.").format(
            s=self.seconds))


AccountLocked = LoginThrottled  # the name before per-source throttling


class AdministratorNotHere(LoginFailed):
    """The right password of an administrator where only clients may log in (the browser portal)."""


class AccountInactive(LoginFailed):
    pass


@dataclass(frozen=True)
class ScryptParams:
    n: int = 2**15
    r: int = 8
    p: int = 1


DEFAULT_PARAMS = ScryptParams()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def hash_secret(value: str | Secret, params: ScryptParams = DEFAULT_PARAMS) -> str:
    raw = value.reveal() if isinstance(value, Secret) else value
    salt = os.urandom(16)
    digest = _scrypt(raw.encode("utf-8"), salt, params.n, params.r, params.p)
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(value: str | Secret, stored: str | None) -> bool:
    if not stored:
        return False
    raw = value.reveal() if isinstance(value, Secret) else value
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = _scrypt(raw.encode("utf-8"), _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def lock_seconds(failures: int) -> float:
    """How long the account stays locked after ``failures`` wrong passwords in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - FREE_FAILURES - 1))


def source_block_seconds(failures: int) -> float:
    """How long a source is blocked after ``failures`` wrong attempts within the window."""
    if failures <= SOURCE_FREE:
        return 0.0
    return min(SOURCE_MAX_S, SOURCE_BASE_S * 2 ** (failures - SOURCE_FREE - 1))


def terminal_source(environ: dict[str, str]) -> str:
    """Where a login at this terminal comes from: ``ssh:ADDRESS`` over SSH, else ``local``."""
    for var in ("SSH_CONNECTION", "SSH_CLIENT"):
        parts = (environ.get(var) or "").split()
        if parts:
            return f"ssh:{parts[0][:60]}"
    return LOCAL_SOURCE


def login_key(login: str) -> str:
    """The login as the throttle knows it: hashed (a password typed into the login field is never
    stored), the same for a login that exists and one that does not."""
    return hashlib.sha256((login or "").strip().casefold().encode("utf-8")).hexdigest()[:32]


def dummy_hash(params: ScryptParams) -> str:
    """A hash no password matches, with ``params``: checking an unknown login against it costs
    exactly one scrypt, like a real one (it is built without running scrypt)."""
    salt, digest = _b64(b"\x00" * 16), _b64(hashlib.sha256(b"no password matches this").digest())
    return f"scrypt${params.n}${params.r}${params.p}${salt}${digest}"


def failure_delay(failures: int) -> float:
    """The pause after a wrong password (slows guessing; grows with the count)."""
    return min(2.0, 0.25 * failures)


def check_password_rules(password: str | Secret) -> None:
    raw = password.reveal() if isinstance(password, Secret) else password
    if len(raw) < MIN_PASSWORD:
        raise ValidationFailed({"password": _("The password must have at least {n} characters.").format(n=MIN_PASSWORD)})
    if len(raw) > MAX_PASSWORD:
        raise ValidationFailed({"password": _("The password is too long.")})


@dataclass(frozen=True)
class AccountStatus:
    user_id: int
    login: str
    has_password: bool
    password_set_at: dt.datetime | None
    failed_logins: int
    locked_until: dt.datetime | None
    code_expires: dt.datetime | None


@dataclass(frozen=True)
class Administrator:
    full_name: str
    email: str | None


class AccountService:
    def __init__(self, db: Database, *, clock: Clock = utcnow, sleep: Sleep = time.sleep,
                 params: ScryptParams = DEFAULT_PARAMS) -> None:
        self.db = db
        self.clock = clock
        self.sleep = sleep
        self.params = params

    # ---- what start-up asks ------------------------------------------------------

    def login_required(self) -> bool:
        """True when some user has a password: then ``ksef-tui`` asks who is logging in."""
        with self.db.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(_user).where(_user.c.password_hash.is_not(None))
            ).scalar_one() > 0

    def administrators(self) -> list[Administrator]:
        """Whom a blocked client may ask (active administrators; any actor may read this)."""
        q = (select(_user.c.full_name, _user.c.email)
             .where(_user.c.role == "admin", _user.c.active.is_(True)).order_by(_user.c.full_name))
        with self.db.engine.connect() as conn:
            return [Administrator(*r) for r in conn.execute(q)]

    def status(self, actor: Actor, user_id: int) -> AccountStatus:
        if not actor.is_admin and actor.id != user_id:
            require_admin(actor)
        with self.db.engine.connect() as conn:
            r = conn.execute(select(_user).where(_user.c.id == user_id)).mappings().first()
        if r is None:
            raise NotFound(_("The user no longer exists."))
        return AccountStatus(r["id"], r["login"], r["password_hash"] is not None, _aware(r["password_set_at"]),
                             int(r["failed_logins"] or 0), _aware(r["locked_until"]), _aware(r["one_time_code_expires"]))

    # ---- administrators set passwords and codes ------------------------------------

    def _target(self, conn, user_id: int):
        r = conn.execute(select(_user.c.id, _user.c.login).where(_user.c.id == user_id)).first()
        if r is None:
            raise NotFound(_("The user no longer exists."))
        return r

    def set_password(self, actor: Actor, user_id: int, password: str | Secret) -> None:
        """An administrator sets a user's password (or a user their own)."""
        if not actor.is_admin and actor.id != user_id:
            require_admin(actor)
        check_password_rules(password)
        hashed = hash_secret(password, self.params)
        now = self.clock()
        with self.db.session() as s:
            target = self._target(s, user_id)
            s.execute(update(_user).where(_user.c.id == user_id).values(
                password_hash=hashed, password_set_at=now, failed_logins=0, locked_until=None,
                one_time_code_hash=None, one_time_code_expires=None))
            s.execute(_throttle.delete().where(_throttle.c.key.like(f"pair:{login_key(target.login)}|%")))
            audit.record(s, [audit.audit_values(actor, "user.password_set", "user", user_id, target.login,
                                                None, {"password_set": True}, at=now)])

    def issue_code(self, actor: Actor, user_id: int, valid: dt.timedelta = CODE_VALID) -> Secret:
        """A one-time code with which the user sets their password on first login."""
        require_admin(actor)
        code = "".join(pysecrets.choice(CODE_ALPHABET) for _i in range(8))
        code = f"{code[:4]}-{code[4:]}"
        now = self.clock()
        with self.db.session() as s:
            target = self._target(s, user_id)
            s.execute(update(_user).where(_user.c.id == user_id).values(
                one_time_code_hash=hash_secret(code, self.params), one_time_code_expires=now + valid))
            audit.record(s, [audit.audit_values(actor, "user.code_issued", "user", user_id, target.login,
                                                None, {"code_valid_until": (now + valid).isoformat()}, at=now)])
        return Secret(code)

    # ---- logging in --------------------------------------------------------------------

    def _throttle_rows(self, conn, keys: list[str]) -> dict[str, dict]:
        rows = conn.execute(select(_throttle).where(_throttle.c.key.in_(keys))).mappings()
        return {r["key"]: dict(r) for r in rows}

    def _blocked(self, source: str, lkey: str, now: dt.datetime) -> None:
        """Refuse at once while the source, or this login at this source, is blocked (no scrypt)."""
        keys = [f"src:{source}", f"pair:{lkey}|{source}"]
        with self.db.engine.connect() as conn:
            rows = self._throttle_rows(conn, keys)
        untils = [u for u in (_aware(r["blocked_until"]) for r in rows.values()) if u is not None and u > now]
        if untils:
            raise LoginThrottled(max(untils), now)

    def _bump(self, s, key: str, failures: int, now: dt.datetime, blocked: dt.datetime | None) -> None:
        """Write one throttle row (update, or insert when there is none yet)."""
        values = {"failures": failures, "last_failure": now, "blocked_until": blocked}
        if s.execute(update(_throttle).where(_throttle.c.key == key).values(**values)).rowcount == 0:
            s.execute(_throttle.insert().values(key=key, **values))

    def _fail(self, login: str, source: str, now: dt.datetime) -> None:
        """Count a wrong attempt (for this login at this source, and for the source), pause, raise.

        The same statements run whether the login exists or not: the user's own count
        (``failed_logins``, shown to administrators) is an UPDATE by login that simply matches
        no row for an unknown one."""
        from sqlalchemy.exc import IntegrityError

        lkey = login_key(login)
        pair_key, src_key = f"pair:{lkey}|{source}", f"src:{source}"
        for attempt in (1, 2):  # two processes inserting the same new row: the loser counts again
            try:
                with self.db.session() as s:
                    rows = self._throttle_rows(s, [pair_key, src_key])
                    pair, src = rows.get(pair_key), rows.get(src_key)
                    pair_n = 1 if pair is None or now - _aware(pair["last_failure"]) > PAIR_MEMORY \
                        else pair["failures"] + 1
                    src_n = 1 if src is None or now - _aware(src["last_failure"]) > SOURCE_WINDOW \
                        else src["failures"] + 1
                    pair_s, src_s = lock_seconds(pair_n), source_block_seconds(src_n)
                    pair_until = now + dt.timedelta(seconds=pair_s) if pair_s else None
                    src_until = now + dt.timedelta(seconds=src_s) if src_s else None
                    self._bump(s, pair_key, pair_n, now, pair_until)
                    self._bump(s, src_key, src_n, now, src_until)
                    s.execute(update(_user).where(_user.c.login == (login or "").strip())
                              .values(failed_logins=_user.c.failed_logins + 1))
                    # forget what is long past (unknown logins leave rows too)
                    s.execute(_throttle.delete().where(_throttle.c.last_failure < now - PAIR_MEMORY))
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        self.sleep(failure_delay(pair_n))
        untils = [u for u in (pair_until, src_until) if u is not None]
        if untils:
            raise LoginThrottled(max(untils), now)
        raise LoginFailed(_("Wrong login or password."))

    def _load(self, login: str):
        with self.db.engine.connect() as conn:
            return conn.execute(select(_user).where(_user.c.login == (login or "").strip())).mappings().first()

    def _success(self, r, now: dt.datetime, action: str, source: str, admins: bool, **values) -> Actor:
        """The right secret: only now is anything about the account told."""
        if not r["active"]:
            raise AccountInactive(_("This account is switched off; ask an administrator."))
        if r["role"] == "admin" and not admins:
            raise AdministratorNotHere(_("Administrators do not log in here; use the panel in the office "
                                         "(ksef-tui over SSH)."))
        actor = Actor(id=r["id"], login=r["login"], role=r["role"])
        with self.db.session() as s:
            s.execute(update(_user).where(_user.c.id == r["id"])
                      .values(failed_logins=0, locked_until=None, **values))
            s.execute(_throttle.delete().where(_throttle.c.key == f"pair:{login_key(r['login'])}|{source}"))
            audit.record(s, [audit.audit_values(actor, action, "user", r["id"], r["login"], None,
                                                {"source": source}, at=now)])
        return actor

    def login(self, login: str, password: str | Secret, *, source: str = LOCAL_SOURCE,
              admins: bool = True) -> Actor:
        """The acting user for ``login`` and ``password``, or :class:`LoginFailed` (or a subclass).

        ``source`` says where the attempt comes from (throttling counts per source, and the
        audit entry of a login records it); ``admins=False`` refuses administrators (after
        their right password)."""
        now = self.clock()
        self._blocked(source, login_key(login), now)
        r = self._load(login)
        ok = verify_secret(password, r["password_hash"] if r is not None else dummy_hash(self.params))
        if r is None or not ok:
            self._fail(login, source, now)
        return self._success(r, now, "user.login", source, admins)

    def login_with_code(self, login: str, code: str | Secret, new_password: str | Secret, *,
                        source: str = LOCAL_SOURCE, admins: bool = True) -> Actor:
        """First login: the one-time code from an administrator, and the user's new password."""
        check_password_rules(new_password)
        now = self.clock()
        self._blocked(source, login_key(login), now)
        r = self._load(login)
        raw = (code.reveal() if isinstance(code, Secret) else code).strip().upper()
        stored = r["one_time_code_hash"] if r is not None and r["one_time_code_hash"] else dummy_hash(self.params)
        ok = verify_secret(raw, stored)
        expires = _aware(r["one_time_code_expires"]) if r is not None else None
        if r is None or not ok or expires is None or expires <= now or not r["one_time_code_hash"]:
            self._fail(login, source, now)
        return self._success(r, now, "user.password_set_by_code", source, admins,
                             password_hash=hash_secret(new_password, self.params), password_set_at=now,
                             one_time_code_hash=None, one_time_code_expires=None)

    def clear_throttle(self, login: str) -> None:
        """Forget every wrong attempt at ``login`` from anywhere (the recovery path)."""
        with self.db.session() as s:
            s.execute(_throttle.delete().where(_throttle.c.key.like(f"pair:{login_key(login)}|%")))

    # ---- global settings ------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.db.engine.connect() as conn:
            value = conn.execute(select(_setting.c.value).where(_setting.c.key == key)).scalar()
        return default if value is None else value

    def clients_may_configure_default(self) -> bool:
        return self.get_setting(CLIENTS_MAY_CONFIGURE_KSEF, "0") == "1"

    def set_clients_may_configure_default(self, actor: Actor, allowed: bool) -> None:
        """The global default for NEW users (existing users keep their own flag)."""
        require_admin(actor)
        before = self.clients_may_configure_default()
        value = "1" if allowed else "0"
        now = self.clock()
        with self.db.session() as s:
            res = s.execute(update(_setting).where(_setting.c.key == CLIENTS_MAY_CONFIGURE_KSEF)
                            .values(value=value, updated_at=now))
            if res.rowcount == 0:
                s.execute(_setting.insert().values(key=CLIENTS_MAY_CONFIGURE_KSEF, value=value, updated_at=now))
            if before != allowed:
                audit.record(s, [audit.audit_values(actor, "setting.update", "setting", None, CLIENTS_MAY_CONFIGURE_KSEF,
                                                    {"value": before}, {"value": allowed}, at=now)])


def clients_may_configure_default(session) -> bool:
    """The global default read inside a caller's transaction (UserService.create)."""
    value = session.execute(select(_setting.c.value).where(_setting.c.key == CLIENTS_MAY_CONFIGURE_KSEF)).scalar()
    return value == "1"
