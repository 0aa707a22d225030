"""What the KSeF credential services hand to the UI and the CLI: plain frozen dataclasses, no secrets,
no gateway objects; and the inputs they take (certificate files as bytes, a password as a Secret)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ksef_tui.domain.auth import ApiVersion, AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.secret import Secret
from ksef_tui.domain.token_policy import DEFAULT_POLICY, TokenPolicy
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _

if TYPE_CHECKING:  # rows read by the services; the UI imports these views without SQLModel
    from ksef_tui.store.models import KsefCertificate, KsefCredential

DEFAULT_PERMISSIONS = ("InvoiceRead", "InvoiceWrite")
# the permissions a KSeF token may carry (as in ksef.gateway.TOKEN_PERMISSIONS; kept here so the UI
# can offer them without importing KSeF code at start)
TOKEN_PERMISSIONS = (
    "InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage",
    "SubunitManage", "EnforcementOperations", "Introspection", "CollectiveIdentifierManage",
)
PANEL_ENVIRONMENTS = (Environment.DEMO, Environment.PRODUCTION)
EXPIRY_WARNING_DAYS = 30


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
    #: the login certificate's KSeF type ("Authentication"), None for other certificates
    cert_type: str | None = None
    #: the token's own end of validity from KSeF (None: the token policy decides)
    token_valid_to: dt.datetime | None = None
    #: the Offline KSeF certificate held for this row, if any (serial, end, KSeF status)
    offline_serial: str | None = None
    offline_valid_to: dt.datetime | None = None
    offline_status: str | None = None

    @property
    def token_masked(self) -> str:
        return f"••••••••{self.token_last4}" if self.token_last4 else ""


@dataclass(frozen=True)
class CredentialState:
    kind: str  # ksef-off | not-configured | token | certificate | authorized | failing | expiring | expired
    text: str


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _when(value: dt.datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def describe(view: CredentialView, now: dt.datetime, policy: TokenPolicy = DEFAULT_POLICY) -> CredentialState:
    """The status of a row in the user's terms, at ``now``; a token's end by its validTo from KSeF or
    by the office's token ``policy`` (after it: "expired by policy", never "0 days left")."""
    if not view.company_ksef_enabled:
        return CredentialState("ksef-off", _("KSeF off for the company"))
    if not view.configured:
        return CredentialState("not-configured", _("not configured"))
    valid_to = aware(view.cert_valid_to)
    if view.method is AuthMethod.CERTIFICATE and valid_to is not None and valid_to <= now:
        return CredentialState("expired", _("certificate expired {when}").format(when=_when(valid_to)))
    if view.method is AuthMethod.TOKEN:
        from ksef_tui.domain.clock import ksef_day
        from ksef_tui.domain.token_policy import issued_on_from_reference
        from ksef_tui.services.ksef.token_policy import token_end_text

        end = policy.end_of(valid_to=view.token_valid_to, issued_on=issued_on_from_reference(view.token_reference))
        today = ksef_day(now)
        if end.ended(today):
            return CredentialState("expired", _("token {end}").format(end=token_end_text(end, today)))
        if end.within(today, EXPIRY_WARNING_DAYS) and view.last_auth_ok is not False:
            return CredentialState("expiring", _("token {end}").format(end=token_end_text(end, today)))
    if view.last_auth_ok is False:
        return CredentialState("failing", _("failing: {reason}").format(reason=view.last_auth_error or _("unknown")))
    if view.method is AuthMethod.CERTIFICATE and valid_to is not None:
        days = (valid_to - now).days
        if days < EXPIRY_WARNING_DAYS:
            return CredentialState("expiring", _("certificate expires in {n} days").format(n=days))
    until = aware(view.last_auth_valid_until)
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
    #: KSeF's non-blocking warnings (``X-System-Warning``), as ``[code] text``
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenReplacement:
    """What saving a pasted token did (:meth:`CredentialService.replace_token`).

    ``saved`` is the row after saving, or ``None`` when nothing changed: the credential in use had
    last authorized successfully and KSeF refused the new token (``trial`` says why; the caller may
    ask whether to save it anyway). ``trial`` is the authorization made with the new token before
    saving it, when one was made."""

    saved: CredentialView | None
    trial: AuthOutcome | None = None
    #: the credential that was kept (the row as it still is) when ``saved`` is None
    kept: CredentialView | None = None


@dataclass(frozen=True)
class PreparedFile:
    """Profil Zaufany step 1: the unsigned AuthTokenRequest written for the user to sign."""

    path: Path
    challenge: str
    expires_at: dt.datetime
    nip: str
    environment: Environment


@dataclass(frozen=True)
class SignedFileCheck:
    """What the local check of a signed Profil Zaufany file found (no secrets)."""

    challenge: str
    context: str
    signatures: int


class KsefOperationError(ServiceError):
    """A KSeF step failed; ``hint`` says what to do, ``code`` is KSeF's code; ``bad_input`` when the
    cause is the user's input (a file, a value) rather than KSeF's answer."""

    def __init__(self, message: str, hint: str = "", code: str | None = None, *, bad_input: bool = False) -> None:
        self.hint = hint
        self.code = code
        self.bad_input = bad_input
        super().__init__(message)



@dataclass(frozen=True, repr=False)
class CertificateFiles:
    """Certificate material as the user chose it: PEM/DER certificate + key, or PKCS#12, and the password."""

    cert_data: bytes | None = None
    key_data: bytes | None = None
    pkcs12_data: bytes | None = None
    password: Secret[str] | None = None

    def __repr__(self) -> str:
        return "CertificateFiles(...)"


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate says about itself (shown before anything is saved)."""

    subject: str
    issuer: str
    nip: str | None
    pesel: str | None
    identifier: str | None  # raw "TINPL-…", "PNOPL-…" or "VATPL-…" value
    is_seal: bool
    serial_number: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    fingerprint_sha256: str
    key_type: str
    key_matches: bool
    self_signed: bool
    #: "Authentication" or "Offline" when KSeF issued the certificate (an Offline one cannot log in)
    ksef_type: str | None = None

    def validity_problem(self, now: dt.datetime) -> str | None:
        if now < self.valid_from:
            return "not-yet-valid"
        if now > self.valid_to:
            return "expired"
        return None


def view_of(user_id: int, company_id: int, name: str, nip: str, enabled: bool, env: Environment,
            row: KsefCredential | None, offline: KsefCertificate | None = None) -> CredentialView:
    extra = {} if offline is None else {"offline_serial": offline.serial, "offline_valid_to": aware(offline.valid_to),
                                        "offline_status": offline.status}
    if row is None:
        return CredentialView(user_id, company_id, name, nip, enabled, env, configured=False, **extra)
    return CredentialView(
        user_id=user_id, company_id=company_id, company_name=name, nip=nip, company_ksef_enabled=enabled,
        environment=env, configured=True, method=AuthMethod(row.method), api_version=ApiVersion(row.api_version),
        has_token=row.token_blob is not None, token_last4=row.token_last4, token_reference=row.token_reference,
        token_status=row.token_status,
        token_permissions=tuple(p for p in (row.token_permissions or "").split(",") if p),
        has_certificate=row.cert_blob is not None, cert_subject=row.cert_subject,
        cert_identifier=row.cert_identifier, cert_serial=row.cert_serial,
        cert_valid_from=aware(row.cert_valid_from), cert_valid_to=aware(row.cert_valid_to),
        cert_fingerprint=row.cert_fingerprint, last_auth_at=aware(row.last_auth_at), last_auth_ok=row.last_auth_ok,
        last_auth_method=row.last_auth_method, last_auth_reference=row.last_auth_reference,
        last_auth_valid_until=aware(row.last_auth_valid_until), last_auth_error=row.last_auth_error,
        version=row.version, cert_type=row.cert_type, token_valid_to=aware(row.token_valid_to), **extra,
    )
