"""Typed errors of the KSeF gateway, with plain-language hints in English and Polish.

Every error carries the KSeF exception code or status code (``code``), the HTTP
status (``http_status``) when there was a response, KSeF's own description and
details, and the raw problem body (``problem``). ``str(err)`` is a clear sentence without secrets
in the UI language at the moment the error was raised (the catalog, ``i18n._``; English is the
source text); ``err.hint`` and the code meanings follow the UI language when they are read.
KSeF's own description and details stay as the server sent them.

Codes and meanings: PROTOCOL.md §3 (exception and status codes), §5-§7, §13.
"""

from __future__ import annotations

import math
from typing import Any

from ksef_tui.i18n import N_, _

# code -> (meaning, hint): English source text, translated through the catalog when read
_CODES: dict[int | str, tuple[str, str]] = {
    # 400 exception codes (PROTOCOL.md §3.2, §3.3, §3.5)
    21001: (N_("unreadable content"),
            N_("KSeF could not read the document. Send the signed file exactly as it was signed.")),
    21111: (N_("invalid authorization challenge"),
            N_("The challenge is wrong or has expired (it lives 10 minutes). Start the authorization again.")),
    21115: (N_("invalid certificate"),
            N_("KSeF does not accept this certificate here. Self-signed certificates work on TEST only; "
               "check the NIP/PESEL attributes and that the certificate belongs to this environment.")),
    21117: (N_("identifier invalid for this context type"),
            N_("The context identifier does not fit its type. Check the NIP or internal identifier.")),
    21184: (N_("session temporarily unavailable"),
            N_("KSeF cannot go on with this session for the moment. Open a new session: authorize again.")),
    21217: (N_("bad character encoding"),
            N_("Send the signed file byte for byte, UTF-8, without re-saving it in an editor.")),
    21301: (N_("tokens cannot be collected"),
            N_("This login can no longer give tokens (already collected, session revoked, or authentication "
               "not finished). Log in again.")),
    21304: (N_("authentication not found"),
            N_("KSeF does not know this authentication operation. Start the authorization again.")),
    21308: (N_("authentication means of a deceased person"),
            N_("These credentials belong to a person registered as deceased; use other credentials.")),
    21401: (N_("the document does not match the XSD schema"),
            N_("The AuthTokenRequest does not match the official schema. Generate a fresh request file.")),
    21405: (N_("input validation error"),
            N_("KSeF refused the data sent. Check the NIP, the permissions and the description.")),
    21406: (N_("signature and authentication type conflict"),
            N_("The certificate does not fit the chosen subject type. Check the certificate attributes "
               "(TINPL-/PNOPL- for a person, VATPL- for a seal).")),
    21470: (N_("unknown or withdrawn public key"),
            N_("The Ministry of Finance key changed. Try again: the key list is fetched anew.")),
    9101: (N_("invalid document"),
           N_("The signed document is not valid. Sign a freshly generated request file.")),
    9102: (N_("no signature"),
           N_("The file is not signed. Sign it with a qualified signature, seal or Profil Zaufany.")),
    9103: (N_("too many signatures"),
           N_("The file carries more than one signature. Sign the unsigned request file once.")),
    9105: (N_("invalid signature"),
           N_("The signature does not verify: the file was changed after signing or signed with an "
              "unsupported algorithm. Sign the file again and send it unchanged.")),
    25001: (N_("not allowed for this authentication method"),
            N_("KSeF certificates can be requested only after logging in with a qualified signature, seal "
               "or Profil Zaufany, not with a KSeF token.")),
    25002: (N_("enrollment not allowed for this authentication method"),
            N_("Log in with a qualified signature, seal or Profil Zaufany to request a KSeF certificate.")),
    25003: (N_("certificate request data differ from the login"),
            N_("The CSR subject must copy the enrollment data exactly. Generate the request again.")),
    25004: (N_("bad certificate request"),
            N_("The CSR or its signature is invalid. Generate the request again.")),
    25006: (N_("certificate request limit reached"),
            N_("The limit of certificate requests is used up. Check the limits or try later.")),
    25007: (N_("certificate limit reached"),
            N_("The limit of active certificates is reached. Revoke an unused certificate first.")),
    25010: (N_("bad key type or length"),
            N_("Use an EC P-256 or RSA 2048 key.")),
    25011: (N_("bad CSR signature algorithm"),
            N_("Sign the CSR with SHA-256.")),
    26001: (N_("permissions you do not have"),
            N_("A token cannot get permissions you do not have yourself.")),
    26002: (N_("tokens only in a NIP or internal identifier context"),
            N_("Generate tokens in a NIP or internal identifier context.")),
    # status codes of GET /auth/{ref} (PROTOCOL.md §3.4)
    415: (N_("no permissions assigned"),
          N_("The person has no permissions in this company. The owner must grant them first "
             "(ZAW-FA or KSeF permissions).")),
    425: (N_("authentication revoked"),
          N_("The authentication was revoked. Log in again.")),
    450: (N_("bad KSeF token"),
          N_("The KSeF token is wrong, revoked, inactive or meant for another company. Check the token "
             "and the NIP; KSeF 1.0 tokens do not work in API 2.0.")),
    460: (N_("certificate error"),
          N_("KSeF rejected the certificate (invalid, revoked, suspended or untrusted). Use a valid "
             "certificate accepted in this environment.")),
    470: (N_("authentication means of a deceased person"),
          N_("These credentials belong to a person registered as deceased.")),
    480: (N_("authentication blocked"),
          N_("KSeF blocked authentication in this context (suspected security incident). Contact the "
             "Ministry of Finance.")),
    500: (N_("unknown KSeF error"),
          N_("KSeF reported an unknown error. Try again later.")),
    550: (N_("operation cancelled by KSeF"),
          N_("KSeF interrupted the operation. Start it again.")),
    # HTTP-level problems
    401: (N_("not authorized"),
          N_("The session token is missing or expired. Log in again.")),
    403: (N_("forbidden"),
          N_("KSeF does not allow this operation for this login (permissions, IP policy or login method).")),
    410: (N_("the operation result expired"),
          N_("KSeF no longer keeps this result. Start the operation again.")),
    429: (N_("too many requests"),
          N_("KSeF limits how often requests may be sent. Wait and try again.")),
    # local codes (checks before any network call)
    "network": (N_("network error"),
                N_("Check the internet connection and the KSeF address; KSeF may also be in maintenance.")),
    "timeout": (N_("timed out"),
                N_("KSeF did not answer in time. Try again later; DEMO and PRODUCTION can be slow while "
                   "certificates are checked.")),
    "bad-file": (N_("the file cannot be read"),
                 N_("Give a certificate and key in PEM, DER or PKCS#12 (.p12/.pfx).")),
    "wrong-password": (N_("wrong password"),
                       N_("The password does not open this file. Check the password file.")),
    "password-needed": (N_("a password is needed"),
                        N_("The key is encrypted. Give the password file.")),
    "key-mismatch": (N_("the key does not match the certificate"),
                     N_("Give the private key that belongs to this certificate.")),
    "expired": (N_("the certificate has expired"),
                N_("Use a valid certificate (or request a new KSeF certificate).")),
    "not-yet-valid": (N_("the certificate is not valid yet"),
                      N_("Check the computer clock or wait until the certificate becomes valid.")),
    "offline-certificate": (N_("a KSeF Offline certificate cannot log in"),
                            N_("An Offline certificate only signs offline invoices (QR code II). Load the KSeF "
                               "Authentication certificate, or request one (Authentication type).")),
    "unsupported-key": (N_("unsupported key"),
                        N_("Use an RSA (2048 bits or more) or EC (P-256 or stronger) key.")),
    "unsafe-xml": (N_("unsafe XML"),
                   N_("The file contains a DTD or entities, which a signed AuthTokenRequest never has. "
                      "Use the file exactly as the signing service returned it.")),
    "not-xml": (N_("not an XML document"),
                N_("Give the signed AuthTokenRequest XML file.")),
    "too-large": (N_("the file is too large"),
                  N_("A signed AuthTokenRequest is a few kilobytes; check that this is the right file.")),
    "wrapping": (N_("the signed document is not the request that would be authenticated"),
                 N_("Sign the AuthTokenRequest file exactly as this program wrote it and give the signed file "
                    "unchanged; a file that carries a second request, or whose signature does not cover the "
                    "whole request, is refused (KSeF answers 9105).")),
    "signatures": (N_("more than one signature"),
                   N_("KSeF accepts one signature; sign the request once.")),
    "detached": (N_("a detached signature"),
                 N_("Sign the XML file itself (enveloped or enveloping XAdES), not a separate signature file.")),
    "wrong-context": (N_("the token was made for another company"),
                      N_("Generate the request file for this company, sign it and try again.")),
    "not-auth-request": (N_("not an AuthTokenRequest"),
                         N_("Give the AuthTokenRequest file generated by this program, after signing.")),
    "unsigned": (N_("the file is not signed"),
                 N_("Sign the file (e.g. with Profil Zaufany at gov.pl) and give the signed file.")),
    "challenge-mismatch": (N_("the file was signed for another challenge"),
                           N_("Sign the request file generated most recently, or generate a new one.")),
    "challenge-expired": (N_("the challenge has expired"),
                          N_("A challenge lives 10 minutes. Generate a new request file and sign it promptly.")),
    "context-mismatch": (N_("the file names another company"),
                         N_("The signed file is for another NIP. Generate the request for this company.")),
    "schema": (N_("the request does not match the XSD schema"),
               N_("Check the NIP and challenge; the request could not be built.")),
    "nip": (N_("invalid NIP"),
            N_("A NIP has ten digits and a valid check digit; copy it from the company's records.")),
    "environment": (N_("unknown environment"),
                    N_("Choose TEST (self-signed certificates allowed), DEMO (pre-production) or PRODUCTION.")),
    "endpoint": (N_("invalid KSeF address"),
                 N_("Use https:// (plain http only on this computer, e.g. for the simulator).")),
    "no-public-key": (N_("no usable public key"),
                      N_("KSeF published no valid key for token encryption. Try again later.")),
    "bad-response": (N_("unexpected response"),
                     N_("KSeF answered in an unexpected way. Try again later.")),
}

_FALLBACK = N_("KSeF refused the request. Read the details and try again.")


def known_codes() -> tuple[int | str, ...]:
    """Every code this module gives a meaning and a hint for."""
    return tuple(_CODES)


def code_meaning(code: int | str | None) -> str | None:
    """The code's meaning in the current UI language (a lower-case phrase), or None."""
    entry = _CODES.get(code) if code is not None else None
    return _(entry[0]) if entry else None


def hint_for(code: int | str | None) -> str:
    """What to do about ``code``, in the current UI language."""
    entry = _CODES.get(code) if code is not None else None
    return _(entry[1] if entry else _FALLBACK)


class KsefError(Exception):
    """Base of every gateway error."""

    default_code: int | str | None = None
    #: set by KsefHttp: the request was idempotent, so the HTTP layer already sent it again as often
    #: as the retry policy allows (nothing above it should repeat it once more)
    retried: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int | str | None = None,
        http_status: int | None = None,
        description: str | None = None,
        details: tuple[str, ...] | list[str] = (),
        problem: Any = None,
        reference_number: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.http_status = http_status
        self.description = description
        self.details = tuple(str(d) for d in details or ())
        self.problem = problem
        self.reference_number = reference_number

    @property
    def hint(self) -> str:
        return hint_for(self.code)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, http_status={self.http_status!r})"


class KsefHttpError(KsefError):
    """KSeF answered with an unexpected HTTP status (4xx/5xx)."""


class KsefUnauthorized(KsefHttpError):
    default_code = 401


class KsefForbidden(KsefHttpError):
    default_code = 403

    @property
    def reason_code(self) -> str | None:
        return self.problem.get("reasonCode") if isinstance(self.problem, dict) else None


class KsefGone(KsefHttpError):
    default_code = 410


class KsefSessionUnavailable(KsefHttpError):
    """21184: the session cannot be used for the moment; a new session (a new authorization) can."""

    default_code = 21184


class KsefRateLimited(KsefHttpError):
    """429 with a Retry-After longer than the gateway is willing to wait."""

    default_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after

    def human_retry(self) -> str:
        return human_retry(self.retry_after)

    @property
    def hint(self) -> str:
        base = hint_for(429)
        if self.retry_after is None:
            return base
        return f"{base} " + _("Try again {when}.").format(when=self.human_retry())


class KsefOperationFailed(KsefError):
    """An asynchronous KSeF operation (token activation, enrollment) ended in failure."""


class KsefAuthFailed(KsefOperationFailed):
    """The authentication status ended with a code >= 400 (``code``, ``description``, ``details``)."""


class KsefNetworkError(KsefError):
    default_code = "network"


class KsefTimeout(KsefError):
    default_code = "timeout"


class KsefProtocolError(KsefError):
    """KSeF answered something the contract does not allow."""

    default_code = "bad-response"


class KsefInputError(KsefError):
    """Bad input found locally, before any network call (maps to CLI exit code 2)."""


class CredentialError(KsefInputError):
    """Certificate/key files: unreadable, wrong password, key mismatch, expired..."""


class SignedFileError(KsefInputError):
    """An externally signed AuthTokenRequest failed a local check."""


class EndpointError(KsefInputError):
    default_code = "endpoint"


def human_retry(seconds: float | None) -> str:
    """``"in 41 min 32 s"`` / ``"za 41 min 32 s"`` (follows the UI language)."""
    if seconds is None:
        return _("later")
    total = max(0, math.ceil(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts: list[str] = []
    if h:
        parts.append(f"{h} h")
    if m:
        parts.append(f"{m} min")
    if s or not parts:
        parts.append(f"{s} s")
    text = " ".join(parts)
    return _("in {time}").format(time=text)


# ---------------------------------------------------------------------------
# Parsing KSeF error bodies (legacy ExceptionResponse and application/problem+json)


def parse_error_body(body: Any) -> tuple[int | str | None, str | None, tuple[str, ...], str | None]:
    """Return ``(code, description, details, reference_number)`` from either error shape."""
    if not isinstance(body, dict):
        return None, None, (), None
    exc = body.get("exception")
    if isinstance(exc, dict):
        items = exc.get("exceptionDetailList") or []
        ref = exc.get("referenceNumber")
        if items and isinstance(items[0], dict):
            first = items[0]
            details: list[str] = []
            for item in items:
                details.extend(str(d) for d in (item.get("details") or []))
            return _as_code(first.get("exceptionCode")), first.get("exceptionDescription"), tuple(details), ref
        return None, None, (), ref
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        details = []
        for item in errors:
            if isinstance(item, dict):
                details.extend(str(d) for d in (item.get("details") or []))
        return _as_code(first.get("code")), first.get("description") or body.get("detail"), tuple(details), None
    status = body.get("status")
    if isinstance(status, dict):  # TooManyRequestsResponse / StatusInfo
        return _as_code(status.get("code")), status.get("description"), tuple(str(d) for d in status.get("details") or ()), None
    if "title" in body or "detail" in body:  # 401/403/410/429 problem details
        reason = body.get("reasonCode")
        details = [str(body["detail"])] if body.get("detail") else []
        return reason, body.get("title"), tuple(details), None
    return None, None, (), None


def _as_code(value: Any) -> int | str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def error_from_response(
    status: int, body: Any, *, operation: str, retry_after: float | None = None
) -> KsefHttpError:
    """Build the typed error for a non-2xx response of ``operation`` (an English noun phrase marked
    with ``N_``; the message is said in the current UI language, KSeF's description as sent)."""
    code, description, details, ref = parse_error_body(body)
    numeric = code if isinstance(code, int) else None
    meaning = code_meaning(numeric) if numeric is not None else None
    what = meaning or description or code_meaning(status) or _("error")
    if numeric is not None:
        message = _("KSeF rejected {operation}: {what} (code {code}, HTTP {status}).").format(
            operation=_(operation), what=what, code=numeric, status=status)
    else:
        message = _("KSeF rejected {operation}: {what} (HTTP {status}).").format(
            operation=_(operation), what=what, status=status)
    kw: dict[str, Any] = dict(
        http_status=status, description=description, details=details, problem=body, reference_number=ref
    )
    if status == 429:
        wait = " " + _("Retry {when}.").format(when=human_retry(retry_after)) if retry_after is not None else ""
        return KsefRateLimited(
            _("KSeF rate limit reached for {operation} (HTTP 429).").format(operation=_(operation)) + wait,
            retry_after=retry_after, code=429, **kw,
        )
    # HTTP 415 (wrong media type) is not the status code 415 (no permissions).
    kw["code"] = numeric if numeric is not None else (None if status == 415 else status)
    if status == 401:
        return KsefUnauthorized(message, **kw)
    if status == 403:
        kw["code"] = 403
        return KsefForbidden(message, **kw)
    if status == 410:
        kw["code"] = 410
        return KsefGone(message, **kw)
    if numeric == SESSION_UNAVAILABLE:
        return KsefSessionUnavailable(message, **kw)
    return KsefHttpError(message, **kw)


def is_transient(exc: BaseException) -> bool:
    """A problem that says nothing about the credential: network, timeout, 5xx, malformed answer."""
    if isinstance(exc, (KsefNetworkError, KsefTimeout, KsefProtocolError)):
        return True
    return isinstance(exc, KsefHttpError) and (exc.http_status or 0) >= 500


#: KSeF's "session temporarily unavailable: open a new session" (API 2.9.0)
SESSION_UNAVAILABLE = 21184
#: codes after which only a new authorization flow can go on: the challenge was refused or has
#: expired (21111), KSeF cancelled the authentication itself (550: "retry the whole flow"), or the
#: session is temporarily unavailable (21184: "open a new session")
NEW_FLOW_CODES = frozenset({21111, 550, SESSION_UNAVAILABLE})


def needs_new_flow(exc: BaseException) -> bool:
    """Whether an authorization that failed with ``exc`` may start again from a fresh challenge.

    True when KSeF refused or expired the challenge or cancelled the authentication, and when a
    state-changing step failed for a temporary reason: the HTTP layer never sends those twice, so
    a new flow is the only safe repeat. False for everything the HTTP layer already retried, for a
    429 (its Retry-After was beyond the HTTP layer's budget) and for KSeF's final answers."""
    if not isinstance(exc, KsefError) or isinstance(exc, KsefRateLimited):
        return False
    if exc.code in NEW_FLOW_CODES:
        return True
    return is_transient(exc) and not exc.retried


def human_retry_en(seconds: float | None) -> str:
    """English form for ``str(err)``, independent of the UI language."""
    if seconds is None:
        return "later"
    total = max(0, math.ceil(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = ([f"{h} h"] if h else []) + ([f"{m} min"] if m else []) + ([f"{s} s"] if s or not (h or m) else [])
    return "in " + " ".join(parts)
