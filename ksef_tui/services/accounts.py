"""Accounts: passwords, one-time codes, logging in with lockout, global settings.

Passwords and one-time codes are kept only as salted scrypt hashes (memory-hard; the
cost parameters and the salt are stored with the hash): ``scrypt$n$r$p$salt$hash``.

Logging in: a wrong password costs a short, growing delay; the fifth wrong password in a
row locks the account for 30 s, and each further one doubles the lock (at most one hour).
A right password resets the count. Clock and sleep are injectable for tests.

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
import hmac
import os
import secrets as pysecrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, Integer, String, Text, column, func, select, table, update

from ksef_tui.i18n import _
from ksef_tui.domain.secret import Secret
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.errors import NotFound, ServiceError, ValidationFailed
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
_setting = table("setting", column("key", String), column("value", Text), column("updated_at", DateTime(timezone=True)))

CLIENTS_MAY_CONFIGURE_KSEF = "clients_may_configure_ksef"

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
FREE_FAILURES = 4  # the fifth wrong password in a row locks
LOCK_BASE_S = 30.0
LOCK_MAX_S = 3600.0
CODE_VALID = dt.timedelta(hours=24)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], None]


class LoginFailed(ServiceError):
    """Wrong login, password or code (the message never says which)."""


class AccountLocked(LoginFailed):
    def __init__(self, until: dt.datetime, now: dt.datetime) -> None:
        self.until = until
        self.seconds = max(1, int((until - now).total_seconds() + 0.999))
        super().__init__(_("Too many wrong passwords: the account is locked; try again in {s} s.").format(s=self.seconds))


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
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def lock_seconds(failures: int) -> float:
    """How long the account stays locked after ``failures`` wrong passwords in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - FREE_FAILURES - 1))


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

    def _fail(self, user_id: int | None, failures: int, now: dt.datetime) -> None:
        """Count a wrong password, lock if it is one too many, pause, raise."""
        locked = None
        if user_id is not None:
            seconds = lock_seconds(failures)
            locked = now + dt.timedelta(seconds=seconds) if seconds else None
            with self.db.session() as s:
                s.execute(update(_user).where(_user.c.id == user_id)
                          .values(failed_logins=failures, locked_until=locked))
        self.sleep(failure_delay(failures))
        if locked is not None:
            raise AccountLocked(locked, now)
        raise LoginFailed(_("Wrong login or password."))

    def _load(self, login: str):
        with self.db.engine.connect() as conn:
            return conn.execute(select(_user).where(_user.c.login == (login or "").strip())).mappings().first()

    def _check_lock(self, r, now: dt.datetime) -> None:
        until = _aware(r["locked_until"])
        if until is not None and until > now:
            raise AccountLocked(until, now)

    def _success(self, r, now: dt.datetime, action: str, **values) -> Actor:
        if not r["active"]:
            raise AccountInactive(_("This account is switched off; ask an administrator."))
        actor = Actor(id=r["id"], login=r["login"], role=r["role"])
        with self.db.session() as s:
            s.execute(update(_user).where(_user.c.id == r["id"])
                      .values(failed_logins=0, locked_until=None, **values))
            audit.record(s, [audit.audit_values(actor, action, "user", r["id"], r["login"], None, None, at=now)])
        return actor

    def login(self, login: str, password: str | Secret) -> Actor:
        """The acting user for ``login`` and ``password``, or :class:`LoginFailed` (or a subclass)."""
        now = self.clock()
        r = self._load(login)
        if r is None:
            verify_secret(password, hash_secret("x" * MIN_PASSWORD, self.params))  # same cost either way
            self._fail(None, 1, now)
        self._check_lock(r, now)
        if not verify_secret(password, r["password_hash"]):
            self._fail(r["id"], int(r["failed_logins"] or 0) + 1, now)
        return self._success(r, now, "user.login")

    def login_with_code(self, login: str, code: str | Secret, new_password: str | Secret) -> Actor:
        """First login: the one-time code from an administrator, and the user's new password."""
        check_password_rules(new_password)
        now = self.clock()
        r = self._load(login)
        raw = (code.reveal() if isinstance(code, Secret) else code).strip().upper()
        if r is None:
            self._fail(None, 1, now)
        self._check_lock(r, now)
        expires = _aware(r["one_time_code_expires"])
        if expires is None or expires <= now or not verify_secret(raw, r["one_time_code_hash"]):
            self._fail(r["id"], int(r["failed_logins"] or 0) + 1, now)
        return self._success(r, now, "user.password_set_by_code",
                             password_hash=hash_secret(new_password, self.params), password_set_at=now,
                             one_time_code_hash=None, one_time_code_expires=None)

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
