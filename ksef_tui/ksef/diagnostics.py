"""What a KSeF answer says about "why can't this user log in for this company" (PROTOCOL.md §17).

:func:`classify` turns an error of an authorization into one stable cause (the ``cause`` values of
``ksef-tui ksef diagnose``) with the signal it was read from; the services build the checklist, its
evidence and the fix in the user's terms. KSeF's texts are Polish (sometimes English): both are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ksef_tui.ksef.errors import (
    CredentialError,
    KsefAuthFailed,
    KsefError,
    KsefForbidden,
    KsefHttpError,
    KsefNetworkError,
    KsefProtocolError,
    KsefRateLimited,
    KsefTimeout,
    SignedFileError,
)

OK = "ok"
NOT_CONFIGURED = "not-configured"
KSEF_OFF = "ksef-off"
ENVIRONMENT_MISMATCH = "environment-mismatch"
CERTIFICATE_EXPIRED = "certificate-expired"
CERTIFICATE_REVOKED = "certificate-revoked"
CERTIFICATE_NOT_FOR_LOGIN = "certificate-not-for-login"
TOKEN_REVOKED = "token-revoked"
TOKEN_INACTIVE = "token-inactive"
TOKEN_OTHER_CONTEXT = "token-other-context"
TOKEN_INVALID = "token-invalid"
SUBJECT_BLOCKED = "subject-blocked"
NO_PERMISSION = "no-permission"
CHAIN_BROKEN = "chain-broken"
WRONG_IDENTITY_TYPE = "wrong-identity-type"
KSEF_UNAVAILABLE = "ksef-unavailable"
RATE_LIMITED = "rate-limited"
CHALLENGE_EXPIRED = "challenge-expired"

#: every cause, in the order of the checklist
CAUSES = (OK, KSEF_OFF, NOT_CONFIGURED, ENVIRONMENT_MISMATCH, CERTIFICATE_EXPIRED, CERTIFICATE_REVOKED,
          CERTIFICATE_NOT_FOR_LOGIN, TOKEN_REVOKED, TOKEN_INACTIVE, TOKEN_OTHER_CONTEXT, TOKEN_INVALID,
          SUBJECT_BLOCKED, NO_PERMISSION, CHAIN_BROKEN, WRONG_IDENTITY_TYPE, KSEF_UNAVAILABLE, RATE_LIMITED,
          CHALLENGE_EXPIRED)
#: causes that say nothing about the credential or the permissions: try again later
TRANSIENT = (KSEF_UNAVAILABLE, RATE_LIMITED)

#: 403 reason codes of a security policy (PROTOCOL.md §7); ``missing-permissions`` is no permission
_POLICY_REASONS = ("ip-not-allowed", "auth-method-not-allowed", "security-service-blocked",
                   "context-type-not-allowed", "insufficient-resource-access")


@dataclass(frozen=True)
class Signal:
    """The cause an answer points to, and the answer itself (KSeF's code, description and details)."""

    cause: str
    code: str | None
    description: str
    details: tuple[str, ...] = ()
    reason_code: str | None = None
    retry_after: float | None = None

    @property
    def text(self) -> str:
        """KSeF's own words (untrusted text)."""
        parts = [p for p in (self.description, "; ".join(self.details)) if p]
        return " — ".join(parts)


def _has(details: tuple[str, ...], *words: str) -> bool:
    text = " ".join(details).lower()
    return any(w in text for w in words)


def classify(exc: BaseException) -> Signal:
    """The cause of a failed authorization (or of a failed permission query)."""
    code = getattr(exc, "code", None)
    details = tuple(getattr(exc, "details", ()) or ())
    description = str(getattr(exc, "description", None) or "")
    sig = lambda cause, reason=None: Signal(cause, None if code is None else str(code),  # noqa: E731
                                            description or str(exc), details, reason,
                                            getattr(exc, "retry_after", None))
    if isinstance(exc, KsefRateLimited):
        return sig(RATE_LIMITED)
    if isinstance(exc, CredentialError):
        return sig(CERTIFICATE_EXPIRED if code in ("expired", "not-yet-valid") else ENVIRONMENT_MISMATCH)
    if isinstance(exc, SignedFileError):
        return sig(CHALLENGE_EXPIRED if code == "challenge-expired" else TOKEN_INVALID)
    if isinstance(exc, KsefAuthFailed):
        return sig(_status_cause(int(code) if isinstance(code, int) else 0, details))
    if isinstance(exc, KsefForbidden):
        reason = exc.reason_code
        if reason == "missing-permissions":
            return sig(NO_PERMISSION, reason)
        if reason in _POLICY_REASONS:
            return sig(SUBJECT_BLOCKED, reason)
        return sig(KSEF_UNAVAILABLE, reason)  # a WAF's 403 without a reason code (#856)
    if isinstance(exc, (KsefNetworkError, KsefTimeout, KsefProtocolError)):
        return sig(KSEF_UNAVAILABLE)
    if isinstance(exc, KsefHttpError):
        if (exc.http_status or 0) >= 500:
            return sig(KSEF_UNAVAILABLE)
        if code == 21111:
            return sig(CHALLENGE_EXPIRED)
        if code in (21115, 21406):
            return sig(ENVIRONMENT_MISMATCH)
        if code == 21308:
            return sig(SUBJECT_BLOCKED)
        return sig(KSEF_UNAVAILABLE)  # 21184 (session temporarily unavailable), 21301, 401, ...
    if isinstance(exc, KsefError):
        return sig(KSEF_UNAVAILABLE)
    return Signal(KSEF_UNAVAILABLE, None, f"{type(exc).__name__}: {exc}")


def _status_cause(code: int, details: tuple[str, ...]) -> str:
    if code == 415:
        return NO_PERMISSION
    if code == 450:
        if _has(details, "wyzwan", "challenge"):
            return CHALLENGE_EXPIRED
        if _has(details, "unieważnion", "revoked"):
            return TOKEN_REVOKED
        if _has(details, "nieaktywn", "inactive"):
            return TOKEN_INACTIVE
        if _has(details, "kontekście", "context"):
            return TOKEN_OTHER_CONTEXT
        return TOKEN_INVALID
    if code == 460:
        if _has(details, "odwołan", "unieważnion", "revoked", "zawieszon", "suspended"):
            return CERTIFICATE_REVOKED
        if _has(details, "niepoprawny", "incorrect"):
            return CERTIFICATE_NOT_FOR_LOGIN
        if _has(details, "łańcuch", "chain", "zaufan", "trusted"):
            return ENVIRONMENT_MISMATCH
        if _has(details, "nieważny", "invalid", "expired", "wygas"):
            return CERTIFICATE_EXPIRED
        return CERTIFICATE_REVOKED
    if code in (470, 480):
        return SUBJECT_BLOCKED
    if code == 425:
        return CHALLENGE_EXPIRED
    return KSEF_UNAVAILABLE  # 500, 550 and anything else: try again


def certificate_for_login(certificate_pem: bytes) -> bool:
    """False for a KSeF ``Offline`` certificate (key usage Non-Repudiation without Digital Signature):
    it signs offline invoices' QR codes and cannot log in (PROTOCOL.md §6, §17)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (ValueError, x509.ExtensionNotFound):
        return True
    return bool(usage.digital_signature or not usage.content_commitment)


__all__ = ["CAUSES", "TRANSIENT", "Signal", "certificate_for_login", "classify"]
