"""Per-user KSeF authorization: for each of the user's companies and each environment,
how that user logs in to KSeF (token or certificate), the secret material sealed by
the vault, and the last authorization.

Rules enforced here (the UI only hides what the actor may not do):
- an administrator may configure anyone; a client only themself, for their own
  companies, and only while "may configure KSeF themselves" is on;
- credentials exist only for companies with KSeF switched on and users who belong to them;
- new material is validated before it is saved (token format and NIP, certificate
  parses, matches its key, is valid now; PKCS#12 opens); a failed change or
  re-authorization leaves the previous credential untouched;
- sealed material is bound to (user, company, environment): a DEMO credential
  cannot be used for PRODUCTION;
- every change is audited, never with a secret.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.auth import ApiVersion, AuthMethod, RuleViolation, check_method_and_version
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.domain.token import InvalidToken, clean_token, parse_token
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.services.errors import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationFailed
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, KsefCredential, KsefEndpoint, Membership, User, VaultCheck, utcnow

if TYPE_CHECKING:  # imported lazily at run time: start-up never loads KSeF code
    from ksef_tui.ksef.certificates import Credential, CredentialFacts
    from ksef_tui.ksef.models import AuthSession, UnsignedRequest
    from ksef_tui.domain.secret import Secret
    from ksef_tui.vault.envelope import Vault

DEFAULT_PERMISSIONS = ("InvoiceRead", "InvoiceWrite")
# the permissions a KSeF token may carry (as in ksef.gateway.TOKEN_PERMISSIONS; kept here so the UI
# can offer them without importing KSeF code at start)
TOKEN_PERMISSIONS = (
    "InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage",
    "SubunitManage", "EnforcementOperations", "Introspection",
)
PANEL_ENVIRONMENTS = (Environment.DEMO, Environment.PRODUCTION)
EXPIRY_WARNING_DAYS = 30

Progress = Callable[[str], None]


# ------------------------------------------------------------------ views


@dataclass(frozen=True)
class CredentialView:
    """One row of the user's KSeF table: a company × an environment (no secrets)."""

    user_id: int
    company_id: int
    company_name: str
    nip: str
    company_ksef_enabled: bool
    environment: Environment
    configured: bool
    method: AuthMethod | None = None
    api_version: ApiVersion | None = None
    has_token: bool = False
    token_last4: str | None = None
    token_reference: str | None = None
    token_status: str | None = None
    token_permissions: tuple[str, ...] = ()
    has_certificate: bool = False
    cert_subject: str | None = None
    cert_identifier: str | None = None
    cert_serial: str | None = None
    cert_valid_from: dt.datetime | None = None
    cert_valid_to: dt.datetime | None = None
    cert_fingerprint: str | None = None
    last_auth_at: dt.datetime | None = None
    last_auth_ok: bool | None = None
    last_auth_method: str | None = None
    last_auth_reference: str | None = None
    last_auth_valid_until: dt.datetime | None = None
    last_auth_error: str | None = None
    version: int = 0

    @property
    def token_masked(self) -> str:
        return f"••••••••{self.token_last4}" if self.token_last4 else ""


@dataclass(frozen=True)
class CredentialState:
    kind: str  # ksef-off | not-configured | token | certificate | authorized | failing | expiring | expired
    text: str


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _when(value: dt.datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def describe(view: CredentialView, now: dt.datetime | None = None) -> CredentialState:
    """The status of a row in the user's terms."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not view.company_ksef_enabled:
        return CredentialState("ksef-off", _("KSeF off for the company"))
    if not view.configured:
        return CredentialState("not-configured", _("not configured"))
    valid_to = _aware(view.cert_valid_to)
    if view.method is AuthMethod.CERTIFICATE and valid_to is not None:
        if valid_to <= now:
            return CredentialState("expired", _("certificate expired {when}").format(when=_when(valid_to)))
    if view.last_auth_ok is False:
        return CredentialState("failing", _("failing: {reason}").format(reason=view.last_auth_error or _("unknown")))
    if view.method is AuthMethod.CERTIFICATE and valid_to is not None:
        days = (valid_to - now).days
        if days < EXPIRY_WARNING_DAYS:
            return CredentialState("expiring", _("certificate expires in {n} days").format(n=days))
    until = _aware(view.last_auth_valid_until)
    if view.last_auth_ok and until is not None and until > now:
        return CredentialState("authorized", _("authorized until {when}").format(when=_when(until)))
    if view.method is AuthMethod.TOKEN:
        return CredentialState("token", _("token {masked}").format(masked=view.token_masked))
    return CredentialState("certificate", _("certificate"))


@dataclass(frozen=True)
class AuthOutcome:
    ok: bool
    environment: Environment
    method: str
    message: str
    hint: str = ""
    code: str | None = None
    reference_number: str | None = None
    valid_until: dt.datetime | None = None


@dataclass(frozen=True)
class PreparedFile:
    path: Path
    challenge: str
    expires_at: dt.datetime
    nip: str
    environment: Environment
    # the challenge as the gateway knows it, for the local check of the signed file
    request: Any = None


@dataclass(frozen=True)
class SignedFileCheck:
    """What the local check of a signed Profil Zaufany file found (no secrets)."""

    challenge: str
    context: str
    signatures: int


class KsefOperationError(ServiceError):
    """A KSeF step failed; ``hint`` says what to do, ``code`` is KSeF's code."""

    def __init__(self, message: str, hint: str = "", code: str | None = None) -> None:
        self.hint = hint
        self.code = code
        super().__init__(message)


# ------------------------------------------------------------------ vault access


class VaultAccess:
    """Loads the master key once, checks it against the database, seals and opens."""

    def __init__(self, db: Database, key_path: Path | None = None) -> None:
        self.db = db
        self.key_path = key_path
        self._vault: Vault | None = None

    def check(self) -> None:
        """At start: if the database holds secrets, the key must be there and right."""
        with self.db.engine.connect() as conn:
            row = conn.execute(select(VaultCheck.key_id, VaultCheck.check).where(VaultCheck.id == 1)).first()
        if row is not None:
            self._load(row[1], create=False)

    def vault(self) -> "Vault":
        if self._vault is None:
            with self.db.engine.connect() as conn:
                row = conn.execute(select(VaultCheck.check).where(VaultCheck.id == 1)).first()
            if row is not None:
                self._load(row[0], create=False)
            else:
                self._create()
        assert self._vault is not None
        return self._vault

    def _load(self, check_blob: bytes, *, create: bool) -> None:
        from ksef_tui.vault.envelope import MASTER_KEY_ENV, Vault, VaultError, key_file_path, load_master_key

        vault = Vault(load_master_key(create=create, path=self.key_path))
        try:
            vault.verify_check(check_blob)
        except VaultError:
            import os

            from ksef_tui.services.key_rotation import finish_interrupted_rotation

            path = self.key_path or key_file_path()
            if os.environ.get(MASTER_KEY_ENV) or not finish_interrupted_rotation(path, check_blob):
                raise
            vault = Vault(load_master_key(create=False, path=path))
            vault.verify_check(check_blob)
        self._vault = vault

    def _create(self) -> None:
        from ksef_tui.vault.envelope import Vault, load_master_key

        vault = Vault(load_master_key(create=True, path=self.key_path))
        with self.db.session() as s:
            if s.get(VaultCheck, 1) is None:
                s.add(VaultCheck(id=1, key_id=vault.key.key_id_hex, check=vault.make_check()))
        with self.db.engine.connect() as conn:
            check_blob = conn.execute(select(VaultCheck.check).where(VaultCheck.id == 1)).scalar_one()
        vault.verify_check(check_blob)  # another process may have created it first
        self._vault = vault

    def reset(self, vault: "Vault") -> None:
        self._vault = vault


def _ctx(user_id: int, company_id: int, env: str, field: str) -> str:
    return f"ksef-credential:{user_id}:{company_id}:{env}:{field}"


# ------------------------------------------------------------------ the service


class CredentialService:
    def __init__(self, db: Database, vault: VaultAccess | None = None) -> None:
        self.db = db
        self.vaults = vault or VaultAccess(db)
        # access/refresh tokens of sessions opened here live only in memory
        self._sessions: dict[tuple[int, int, str], AuthSession] = {}

    # ---- permission and rule checks ------------------------------------------

    def _subject(self, s, actor: Actor, user_id: int, company_id: int, *, write: bool) -> tuple[User, Company]:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound(_("The user no longer exists."))
        company = s.get(Company, company_id)
        if company is None:
            raise NotFound(_("The company no longer exists."))
        if not actor.is_admin:
            if actor.id != user_id:
                raise PermissionDenied(_("You may see and change only your own KSeF settings."))
            if write and not user.may_configure_ksef:
                raise PermissionDenied(
                    _("Your administrator has not allowed you to configure KSeF yourself; ask them to do it or to allow it.")
                )
        member = s.get(Membership, (user_id, company_id))
        if member is None:
            raise (ServiceError if actor.is_admin else PermissionDenied)(
                _("{login} does not belong to the company {name} (NIP {nip}).").format(
                    login=user.login, name=company.name, nip=format_nip(company.nip))
            )
        if write and not company.ksef_enabled:
            raise (ServiceError if actor.is_admin else PermissionDenied)(
                _("KSeF is switched off for {name} (NIP {nip}); switch it on in the company's Additional data first.").format(
                    name=company.name, nip=format_nip(company.nip))
            )
        return user, company

    @staticmethod
    def _version_rule(method: AuthMethod, version: ApiVersion) -> None:
        try:
            check_method_and_version(method, version)
        except RuleViolation:
            raise ValidationFailed({"api_version": _(
                "KSeF API 1.0 was switched off on 26 Jan 2026; only API 2.0 can be used.")}) from None

    # ---- reading ---------------------------------------------------------------

    def overview(self, actor: Actor, user_id: int,
                 environments: tuple[Environment, ...] = PANEL_ENVIRONMENTS) -> list[CredentialView]:
        """The user's companies × environments (plus any other environment configured)."""
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(_("The user no longer exists."))
            if not actor.is_admin and actor.id != user_id:
                raise PermissionDenied(_("You may see and change only your own KSeF settings."))
            companies = s.execute(
                select(Company.id, Company.name, Company.nip, Company.ksef_enabled)
                .join(Membership, Membership.company_id == Company.id)
                .where(Membership.user_id == user_id)
                .order_by(Company.sort_key, Company.id)
            ).all()
            creds = {
                (c.company_id, c.environment): c
                for c in s.scalars(select(KsefCredential).where(KsefCredential.user_id == user_id))
            }
            if not actor.is_admin:
                companies = [c for c in companies if c[3]]  # clients see only companies with KSeF on
            envs = list(environments) + [
                e for e in Environment if e not in environments and any(k[1] == e.value for k in creds)
            ]
            order = {e: i for i, e in enumerate(Environment.__members__.values())}
            rows = []
            for cid, name, nip, enabled in companies:
                for env in sorted(envs, key=lambda e: (e is not Environment.DEMO, e is not Environment.PRODUCTION, order[e])):
                    rows.append(_view(user_id, cid, name, nip, enabled, env, creds.get((cid, env.value))))
            return rows

    def get(self, actor: Actor, user_id: int, company_id: int, env: Environment) -> CredentialView:
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=False)
            cred = self._row(s, user_id, company_id, env)
            return _view(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, cred)

    @staticmethod
    def _row(s, user_id: int, company_id: int, env: Environment) -> KsefCredential | None:
        return s.scalars(select(KsefCredential).where(
            KsefCredential.user_id == user_id, KsefCredential.company_id == company_id,
            KsefCredential.environment == env.value)).first()

    # ---- endpoints ---------------------------------------------------------------

    def endpoint_url(self, env: Environment) -> str:
        with self.db.engine.connect() as conn:
            url = conn.execute(select(KsefEndpoint.base_url).where(KsefEndpoint.environment == env.value)).scalar()
        return url or env.base_url

    def set_endpoint(self, actor: Actor, env: Environment, url: str | None) -> None:
        """Point an environment at another server (e.g. the simulator); ``None``: the official one."""
        require_admin(actor)
        if url:
            from ksef_tui.ksef.endpoints import Endpoint

            url = Endpoint.custom(url).base_url
        with self.db.session() as s:
            row = s.get(KsefEndpoint, env.value)
            before = row.base_url if row else None
            if url:
                if row:
                    row.base_url = url
                else:
                    s.add(KsefEndpoint(environment=env.value, base_url=url))
            elif row:
                s.delete(row)
            if before != url:
                audit.record(s, [audit.audit_values(actor, "ksef.endpoint", "environment", None, env.value,
                                                    {"base_url": before}, {"base_url": url})])

    def _endpoint(self, env: Environment, override: str | None = None):
        from ksef_tui.ksef.endpoints import Endpoint

        url = override or self.endpoint_url(env)
        if url == env.base_url:
            return Endpoint.for_environment(env)
        return Endpoint(Endpoint.custom(url).base_url, env)

    def gateway(self, env: Environment, base_url: str | None = None):
        from ksef_tui.ksef.gateway import KsefGateway

        return KsefGateway(self._endpoint(env, base_url))

    # ---- validation of new material ----------------------------------------------

    @staticmethod
    def check_token(token_text: str, company_nip: str | None = None) -> str:
        """The cleaned token, or :class:`ValidationFailed` saying what is wrong."""
        try:
            shape = parse_token(token_text)
        except InvalidToken as exc:
            msg = {
                "empty": _("Paste the KSeF token."),
                "too-long": _("A KSeF token has at most 160 characters."),
                "v1": _("This looks like a KSeF 1.0 token; 1.0 tokens do not work with API 2.0. Get a new token."),
                "format": _("This is not a KSeF token (expected: reference number|context|64 hex characters)."),
            }[exc.reason]
            raise ValidationFailed({"token": msg}) from None
        if company_nip and shape.nip and shape.nip != company_nip:
            raise ValidationFailed({"token": _("This token was made for NIP {token_nip}, not for this company's NIP {nip}.").format(
                token_nip=format_nip(shape.nip), nip=format_nip(company_nip))})
        return clean_token(token_text)

    @staticmethod
    def load_certificate(*, cert_data: bytes | None = None, key_data: bytes | None = None,
                         pkcs12_data: bytes | None = None, password: str | None = None) -> "Credential":
        """Parse and check certificate material; errors name the field at fault."""
        from ksef_tui.ksef.certificates import load_credential
        from ksef_tui.ksef.errors import CredentialError
        from ksef_tui.domain.secret import Secret

        try:
            return load_credential(cert_data=cert_data, key_data=key_data, pkcs12_data=pkcs12_data,
                                   password=Secret(password) if password else None)
        except CredentialError as exc:
            field = {"key-mismatch": "key", "wrong-password": "password", "bad-password": "password",
                     "expired": "certificate", "not-yet-valid": "certificate"}.get(str(exc.code), "certificate")
            raise ValidationFailed({field: str(exc)}) from None

    @staticmethod
    def inspect_certificate(**kwargs: Any) -> "CredentialFacts":
        """Facts shown as soon as files are chosen, without refusing (mismatch, expiry shown)."""
        from ksef_tui.ksef.certificates import inspect_credential
        from ksef_tui.ksef.errors import CredentialError
        from ksef_tui.domain.secret import Secret

        pw = kwargs.pop("password", None)
        try:
            return inspect_credential(password=Secret(pw) if pw else None, **kwargs)
        except CredentialError as exc:
            raise ValidationFailed({"certificate": str(exc)}) from None

    # ---- saving --------------------------------------------------------------------

    def save_token(self, actor: Actor, user_id: int, company_id: int, env: Environment, token_text: str, *,
                   api_version: ApiVersion = ApiVersion.V2, reference: str | None = None,
                   permissions: tuple[str, ...] | None = None, status: str | None = None,
                   expected_version: int | None = None, action: str = "credential.token_set") -> CredentialView:
        self._version_rule(AuthMethod.TOKEN, api_version)
        vault = self.vaults.vault()
        now = utcnow()
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=True)
            token = self.check_token(token_text, company.nip)
            shape = parse_token(token)
            row, before = self._row_for_write(s, user_id, company_id, env, AuthMethod.TOKEN, expected_version, now)
            row.api_version = api_version.value
            row.token_blob = vault.seal(token.encode(), _ctx(user_id, company_id, env.value, "token"))
            row.token_last4 = token[-4:]
            row.token_reference = reference or shape.reference_number
            row.token_permissions = ",".join(permissions) if permissions else None
            row.token_status = status
            row.last_auth_at = row.last_auth_ok = row.last_auth_error = None
            row.last_auth_valid_until = row.last_auth_reference = row.last_auth_method = None
            row.updated_at = now
            s.flush()
            audit.record(s, [audit.audit_values(actor, action, "credential", row.id,
                                                f"{company.nip}/{env.value}/user {user_id}", before, _audit_facts(row))])
            return _view(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)

    def save_certificate(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                         credential: "Credential", *, api_version: ApiVersion = ApiVersion.V2,
                         expected_version: int | None = None, auth: "AuthSession | None" = None,
                         action: str = "credential.certificate_set") -> CredentialView:
        self._version_rule(AuthMethod.CERTIFICATE, api_version)
        from ksef_tui.ksef.certificates import check_usable

        check_usable(credential.facts)
        vault = self.vaults.vault()
        now = utcnow()
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=True)
            row, before = self._row_for_write(s, user_id, company_id, env, AuthMethod.CERTIFICATE,
                                              expected_version, now)
            row.api_version = api_version.value
            seal_certificate(vault, row, credential)
            _record_auth(row, auth, now)
            row.updated_at = now
            s.flush()
            audit.record(s, [audit.audit_values(actor, action, "credential", row.id,
                                                f"{company.nip}/{env.value}/user {user_id}", before, _audit_facts(row))])
            return _view(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)

    def _row_for_write(self, s, user_id: int, company_id: int, env: Environment, method: AuthMethod,
                       expected_version: int | None, now: dt.datetime) -> tuple[KsefCredential, dict | None]:
        """The row to change (a new one if none), checked against the version the caller saw;
        with its audit facts before the change. The login method becomes ``method``."""
        row = self._row(s, user_id, company_id, env)
        if row is not None and expected_version is not None and row.version != expected_version:
            raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
        before = _audit_facts(row)
        if row is None:
            row = KsefCredential(user_id=user_id, company_id=company_id, environment=env.value,
                                 method=method.value, created_at=now)
            s.add(row)
        else:
            row.version += 1
        row.method = method.value
        return row, before

    def set_method(self, actor: Actor, user_id: int, company_id: int, env: Environment, method: AuthMethod,
                   api_version: ApiVersion = ApiVersion.V2, expected_version: int | None = None) -> CredentialView:
        """Switch the login method of a saved credential (the material must be there)."""
        self._version_rule(method, api_version)
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=True)
            row = self._row(s, user_id, company_id, env)
            if row is None:
                raise ValidationFailed({"method": _("Save a token or a certificate first.")})
            if expected_version is not None and row.version != expected_version:
                raise ConflictError(_("Someone else changed this KSeF setting since you opened it; reload it."))
            if method is AuthMethod.TOKEN and row.token_blob is None:
                raise ValidationFailed({"method": _("No KSeF token is saved for this environment.")})
            if method is AuthMethod.CERTIFICATE and row.cert_blob is None:
                raise ValidationFailed({"method": _("No certificate is saved for this environment.")})
            before = _audit_facts(row)
            if row.method != method.value or row.api_version != api_version.value:
                row.method, row.api_version = method.value, api_version.value
                row.version += 1
                row.updated_at = utcnow()
                audit.record(s, [audit.audit_values(actor, "credential.method", "credential", row.id,
                                                    f"{company.nip}/{env.value}/user {user_id}", before, _audit_facts(row))])
            return _view(user_id, company_id, company.name, company.nip, company.ksef_enabled, env, row)

    def remove(self, actor: Actor, user_id: int, company_id: int, env: Environment) -> None:
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=False)
            if not actor.is_admin:
                self._subject(s, actor, user_id, company_id, write=True)
            row = self._row(s, user_id, company_id, env)
            if row is None:
                return
            audit.record(s, [audit.audit_values(actor, "credential.remove", "credential", row.id,
                                                f"{company.nip}/{env.value}/user {user_id}", _audit_facts(row), None)])
            s.delete(row)
        self._sessions.pop((user_id, company_id, env.value), None)

    # ---- opening sealed material ---------------------------------------------------

    def _material(self, row: KsefCredential):
        from ksef_tui.ksef.certificates import load_credential
        from ksef_tui.domain.secret import Secret

        vault = self.vaults.vault()
        env = row.environment
        if row.method == AuthMethod.TOKEN.value:
            if row.token_blob is None:
                raise ServiceError(_("No KSeF token is saved for this environment."))
            return Secret(vault.open(row.token_blob, _ctx(row.user_id, row.company_id, env, "token")).decode())
        if row.cert_blob is None or row.key_blob is None:
            raise ServiceError(_("No certificate is saved for this environment."))
        cert = vault.open(row.cert_blob, _ctx(row.user_id, row.company_id, env, "certificate"))
        key = vault.open(row.key_blob, _ctx(row.user_id, row.company_id, env, "key"))
        return load_credential(cert_data=cert, key_data=key, strict=False)

    # ---- KSeF operations ------------------------------------------------------------

    async def test_authorization(self, actor: Actor, user_id: int, company_id: int, env: Environment, *,
                                 progress: Progress | None = None, base_url: str | None = None) -> AuthOutcome:
        """Authorize with the saved credential and record the result (never changes the material)."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=False)
            if not company.ksef_enabled:
                raise (ServiceError if actor.is_admin else PermissionDenied)(_("KSeF is switched off for {name} (NIP {nip}); switch it on in the company's Additional data first.").format(
                    name=company.name, nip=format_nip(company.nip)))
            row = self._row(s, user_id, company_id, env)
            if row is None:
                raise ServiceError(_("Nothing is configured for {env} yet.").format(env=env.value))
            self._version_rule(AuthMethod(row.method), ApiVersion(row.api_version))
            material = self._material(row)
            method, nip, version = row.method, company.nip, row.version
        context = Context.nip(nip)
        try:
            async with self.gateway(env, base_url) as gw:
                if method == AuthMethod.TOKEN.value:
                    session = await gw.authorize_with_token(context, material, progress=progress)
                else:
                    session = await gw.authorize_with_certificate(context, material, progress=progress)
        except KsefError as exc:
            outcome = _failure(env, method, exc)
            self._record(actor, user_id, company_id, env, version, outcome)
            return outcome
        self._sessions[(user_id, company_id, env.value)] = session
        outcome = AuthOutcome(True, env, method, _("Authorized in KSeF {env}.").format(env=env.value),
                              reference_number=session.reference_number, valid_until=session.refresh_valid_until)
        self._record(actor, user_id, company_id, env, version, outcome)
        return outcome

    def _record(self, actor: Actor, user_id: int, company_id: int, env: Environment, version: int,
                outcome: AuthOutcome) -> None:
        """Store the last authorization; the material and the version stay as they were."""
        now = utcnow()
        with self.db.session() as s:
            row = self._row(s, user_id, company_id, env)
            if row is None or row.version != version:
                return  # changed meanwhile: the result belongs to material no longer there
            row.last_auth_at = now
            row.last_auth_ok = outcome.ok
            row.last_auth_method = outcome.method
            row.last_auth_reference = outcome.reference_number
            row.last_auth_valid_until = outcome.valid_until
            row.last_auth_error = None if outcome.ok else (outcome.message[:500])
            audit.record(s, [audit.audit_values(
                actor, "credential.auth_ok" if outcome.ok else "credential.auth_failed", "credential", row.id,
                f"{row.environment}/user {user_id}/company {company_id}", None,
                {"environment": env.value, "method": outcome.method, "code": outcome.code,
                 "reference": outcome.reference_number}, at=now)])

    async def authorize_certificate(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                    credential: "Credential", *, progress: Progress | None = None,
                                    base_url: str | None = None, api_version: ApiVersion = ApiVersion.V2,
                                    expected_version: int | None = None) -> CredentialView:
        """"Perform certificate authorization": authorize with the NEW certificate, save it only on success."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        self._version_rule(AuthMethod.CERTIFICATE, api_version)
        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=True)
            nip = company.nip
        try:
            async with self.gateway(env, base_url) as gw:
                session = await gw.authorize_with_certificate(Context.nip(nip), credential, progress=progress)
        except KsefError as exc:
            raise _operation_error(exc) from None
        self._sessions[(user_id, company_id, env.value)] = session
        return self.save_certificate(actor, user_id, company_id, env, credential, api_version=api_version,
                                     expected_version=expected_version, auth=session)

    async def prepare_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                  out_path: Path, *, base_url: str | None = None) -> PreparedFile:
        """Profil Zaufany step 1: a fresh challenge written as an unsigned AuthTokenRequest file."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        with self.db.session() as s:
            _u, company = self._subject(s, actor, user_id, company_id, write=True)
            nip = company.nip
        try:
            async with self.gateway(env, base_url) as gw:
                req: UnsignedRequest = await gw.prepare_signed_file_request(Context.nip(nip))
        except KsefError as exc:
            raise _operation_error(exc) from None
        out_path = Path(out_path).expanduser()
        if out_path.is_dir():
            out_path = out_path / f"AuthTokenRequest-{nip}-{env.value}-{req.challenge.challenge[:8]}.xml"
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(req.xml)
        except OSError as exc:
            raise ValidationFailed({"path": _("Cannot write {path}: {reason}").format(path=out_path, reason=exc.strerror)}) from None
        with self.db.session() as s:
            audit.record(s, [audit.audit_values(actor, "credential.pz_file", "company", company_id, nip, None,
                                                {"environment": env.value, "user_id": user_id,
                                                 "challenge": req.challenge.challenge})])
        return PreparedFile(out_path, req.challenge.challenge, req.expires_at, nip, env, req)

    @staticmethod
    def check_signed_file(signed: bytes, prepared: PreparedFile | None = None, *,
                          nip: str | None = None) -> SignedFileCheck:
        """Profil Zaufany step 3: the local checks the gateway makes before sending (no network).

        The same checks run again when the file is sent; this only lets the UI say at once
        that the file is not signed, is for another challenge or company, or has expired.
        """
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context
        from ksef_tui.ksef.signedfile import check_signed_file

        expected = None
        if prepared is not None:
            expected = prepared.request.challenge if prepared.request is not None else prepared.challenge
        nip = nip or (prepared.nip if prepared is not None else None)
        try:
            facts = check_signed_file(signed, expected_challenge=expected,
                                      expected_context=Context.nip(nip) if nip else None)
        except KsefError as exc:
            raise _operation_error(exc) from None
        return SignedFileCheck(facts.challenge, str(facts.context), facts.signatures)

    async def token_from_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                     signed: bytes, *, expected_challenge: str | None = None,
                                     permissions: tuple[str, ...] = DEFAULT_PERMISSIONS,
                                     description: str | None = None, progress: Progress | None = None,
                                     base_url: str | None = None) -> CredentialView:
        """"Get access token": signed file → authorize → redeem → new KSeF token → Active → saved."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        with self.db.session() as s:
            user, company = self._subject(s, actor, user_id, company_id, write=True)
            nip, login = company.nip, user.login
        description = description or f"ksef-tui {login} {nip} {env.value}"
        try:
            async with self.gateway(env, base_url) as gw:
                session = await gw.authorize_with_signed_file(signed, expected_challenge=expected_challenge,
                                                              expected_context=Context.nip(nip), progress=progress)
                generated = await gw.generate_token(session, list(permissions), description[:256])
                if progress:
                    progress("token")
                info = await gw.wait_token_active(session, generated.reference_number)
                if progress:
                    progress("active")
        except KsefError as exc:
            raise _operation_error(exc) from None
        return self.save_token(actor, user_id, company_id, env, generated.token.reveal(),
                               reference=generated.reference_number, permissions=tuple(info.permissions or permissions),
                               status=info.status, action="credential.token_obtained")

    async def certificate_from_signed_file(self, actor: Actor, user_id: int, company_id: int, env: Environment,
                                           signed: bytes, *, expected_challenge: str | None = None,
                                           name: str | None = None, progress: Progress | None = None,
                                           base_url: str | None = None) -> CredentialView:
        """"Enroll a KSeF certificate instead": signed file → enroll → retrieve → test → saved as Certificate."""
        from ksef_tui.ksef.errors import KsefError
        from ksef_tui.ksef.models import Context

        with self.db.session() as s:
            user, company = self._subject(s, actor, user_id, company_id, write=True)
            nip, login = company.nip, user.login
        cert_name = _cert_name(name or f"ksef-tui {login}")
        try:
            async with self.gateway(env, base_url) as gw:
                session = await gw.authorize_with_signed_file(signed, expected_challenge=expected_challenge,
                                                              expected_context=Context.nip(nip), progress=progress)
                cert, key_pem = await gw.request_certificate(session, cert_name)
                if progress:
                    progress("enrolled")
        except KsefError as exc:
            raise _operation_error(exc) from None
        credential = self.load_certificate(cert_data=cert.pem, key_data=key_pem.reveal())
        return await self.authorize_certificate(actor, user_id, company_id, env, credential,
                                                progress=progress, base_url=base_url)

    def session_for(self, user_id: int, company_id: int, env: Environment) -> "AuthSession | None":
        return self._sessions.get((user_id, company_id, env.value))


# ------------------------------------------------------------------ helpers


def seal_certificate(vault: "Vault", row: KsefCredential, credential: "Credential") -> None:
    """Seal a certificate and its key into ``row`` (bound to its user, company and environment), with its facts."""
    facts = credential.facts
    env = row.environment
    row.cert_blob = vault.seal(credential.certificate_pem, _ctx(row.user_id, row.company_id, env, "certificate"))
    row.key_blob = vault.seal(credential.private_key_pem.reveal(), _ctx(row.user_id, row.company_id, env, "key"))
    row.cert_subject = facts.subject[:500]
    row.cert_identifier = facts.identifier
    row.cert_serial = facts.serial_number
    row.cert_valid_from = facts.valid_from
    row.cert_valid_to = facts.valid_to
    row.cert_fingerprint = facts.fingerprint_sha256


def _cert_name(text: str) -> str:
    import re

    cleaned = re.sub(r"[^a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]", " ", text)
    cleaned = " ".join(cleaned.split())[:100]
    return cleaned if len(cleaned) >= 5 else (cleaned + " ksef-tui")[:100]


def _record_auth(row: KsefCredential, session: "AuthSession | None", now: dt.datetime) -> None:
    if session is None:
        row.last_auth_at = row.last_auth_ok = row.last_auth_error = None
        row.last_auth_valid_until = row.last_auth_reference = row.last_auth_method = None
        return
    row.last_auth_at = now
    row.last_auth_ok = True
    row.last_auth_method = row.method
    row.last_auth_reference = session.reference_number
    row.last_auth_valid_until = session.refresh_valid_until
    row.last_auth_error = None


def _failure(env: Environment, method: str, exc: Exception) -> AuthOutcome:
    hint = getattr(exc, "hint", "") or ""
    code = getattr(exc, "code", None)
    return AuthOutcome(False, env, method, str(exc), hint=hint, code=None if code is None else str(code))


def _operation_error(exc: Exception) -> KsefOperationError:
    code = getattr(exc, "code", None)
    return KsefOperationError(str(exc), getattr(exc, "hint", "") or "", None if code is None else str(code))


def _audit_facts(row: KsefCredential | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "environment": row.environment,
        "method": row.method,
        "api_version": row.api_version,
        "token_set": row.token_blob is not None,
        "token_reference": row.token_reference,
        "certificate_serial": row.cert_serial,
        "certificate_fingerprint": row.cert_fingerprint,
        "certificate_valid_to": row.cert_valid_to.isoformat() if row.cert_valid_to else None,
    }


def _view(user_id: int, company_id: int, name: str, nip: str, enabled: bool, env: Environment,
          row: KsefCredential | None) -> CredentialView:
    if row is None:
        return CredentialView(user_id, company_id, name, nip, enabled, env, configured=False)
    return CredentialView(
        user_id=user_id, company_id=company_id, company_name=name, nip=nip, company_ksef_enabled=enabled,
        environment=env, configured=True, method=AuthMethod(row.method), api_version=ApiVersion(row.api_version),
        has_token=row.token_blob is not None, token_last4=row.token_last4, token_reference=row.token_reference,
        token_status=row.token_status,
        token_permissions=tuple(p for p in (row.token_permissions or "").split(",") if p),
        has_certificate=row.cert_blob is not None, cert_subject=row.cert_subject,
        cert_identifier=row.cert_identifier, cert_serial=row.cert_serial,
        cert_valid_from=_aware(row.cert_valid_from), cert_valid_to=_aware(row.cert_valid_to),
        cert_fingerprint=row.cert_fingerprint, last_auth_at=_aware(row.last_auth_at), last_auth_ok=row.last_auth_ok,
        last_auth_method=row.last_auth_method, last_auth_reference=row.last_auth_reference,
        last_auth_valid_until=_aware(row.last_auth_valid_until), last_auth_error=row.last_auth_error,
        version=row.version,
    )
