"""Plain result types of the gateway. Secrets are always wrapped in :class:`Secret`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ksef_tui.domain.secret import Secret

CHALLENGE_LIFETIME = dt.timedelta(minutes=10)

#: Progress callback: ``progress(step)`` with step in
#: "challenge", "encrypted" | "signed", "sent", "status", "redeemed".
Progress = Callable[[str], None]

CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")


@dataclass(frozen=True)
class Context:
    """A KSeF context identifier: ``Context("Nip", "5265877635")``."""

    type: str
    value: str

    def __post_init__(self) -> None:
        if self.type not in CONTEXT_TYPES:
            raise ValueError(f"unknown context type {self.type!r}")

    @classmethod
    def nip(cls, nip: str) -> Context:
        return cls("Nip", nip)

    @classmethod
    def internal_id(cls, value: str) -> Context:
        return cls("InternalId", value)

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}

    def __str__(self) -> str:
        return f"{self.type} {self.value}"


@dataclass(frozen=True)
class Challenge:
    challenge: str
    timestamp: dt.datetime
    timestamp_ms: int
    client_ip: str | None = None

    @property
    def expires_at(self) -> dt.datetime:
        return self.timestamp + CHALLENGE_LIFETIME


@dataclass(frozen=True)
class AuthSession:
    """The result of a successful authorization (never shows its tokens)."""

    reference_number: str
    method: str  # "token" | "certificate" | "signed-file"
    context: Context
    access_token: Secret[str] = field(repr=False)
    access_valid_until: dt.datetime
    refresh_token: Secret[str] = field(repr=False)
    refresh_valid_until: dt.datetime
    ksef_method: str | None = None  # e.g. "Token", "TrustedProfile", "QualifiedSeal"
    endpoint_url: str = ""
    #: KSeF's authenticationMethodInfo.category (XadesSignature, NationalNode, Token, Other), when sent
    ksef_method_category: str | None = None

    def with_access(self, token: Secret[str], valid_until: dt.datetime) -> AuthSession:
        from dataclasses import replace

        return replace(self, access_token=token, access_valid_until=valid_until)


@dataclass(frozen=True)
class SystemWarning:
    """A non-blocking warning KSeF sent in ``X-System-Warning`` (``[code]: message | ...``)."""

    code: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


def parse_system_warnings(header: str | None) -> tuple[SystemWarning, ...]:
    """``[21001]: Tekst | [21002]: Inny`` -> the warnings; a part without a ``[code]`` is kept whole."""
    import re

    out: list[SystemWarning] = []
    for part in (header or "").split("|"):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^\[([^\]]{1,20})\]\s*:?\s*(.*)$", part, re.S)
        if m:
            out.append(SystemWarning(m.group(1).strip() or None, m.group(2).strip()[:500]))
        else:
            out.append(SystemWarning(None, part[:500]))
    return tuple(out)


@dataclass(frozen=True)
class RateLimit:
    """Requests allowed per second, minute and hour (one group of ``GET /rate-limits``)."""

    per_second: int
    per_minute: int
    per_hour: int


#: the groups API 2.8+ requires in ``EffectiveApiRateLimits`` besides the older ones
RATE_LIMIT_GROUPS_28 = ("anonymous", "global", "onlineSessionClose", "batchSessionClose", "collectiveIdentifier")


@dataclass(frozen=True)
class RateLimits:
    """The effective request limits of ``GET /rate-limits``, by group (``other``, ``global``, ...)."""

    groups: dict[str, RateLimit]

    def get(self, group: str) -> RateLimit | None:
        return self.groups.get(group)

    @property
    def missing_29_groups(self) -> tuple[str, ...]:
        """The 2.8+ groups the answer lacks (an older KSeF): empty against 2.9."""
        return tuple(g for g in RATE_LIMIT_GROUPS_28 if g not in self.groups)


@dataclass(frozen=True)
class StatusInfo:
    code: int
    description: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionInfo:
    reference_number: str
    is_current: bool
    start_date: dt.datetime | None
    method: str | None
    status: StatusInfo | None
    is_token_redeemed: bool | None = None
    refresh_token_valid_until: dt.datetime | None = None


@dataclass(frozen=True)
class UnsignedRequest:
    """An AuthTokenRequest to be signed outside (Profil Zaufany)."""

    xml: bytes
    challenge: Challenge
    context: Context

    @property
    def expires_at(self) -> dt.datetime:
        return self.challenge.expires_at


@dataclass(frozen=True)
class GeneratedToken:
    reference_number: str
    token: Secret[str] = field(repr=False)


@dataclass(frozen=True)
class TokenInfo:
    reference_number: str
    status: str  # Pending | Active | Revoking | Revoked | Failed
    description: str
    permissions: tuple[str, ...]
    context: Context | None
    author: str | None
    date_created: dt.datetime | None
    last_use_date: dt.datetime | None = None
    status_details: tuple[str, ...] = ()
    #: the token's own end of validity, when KSeF gives one (new-rule tokens from 2027; not in 2.9.0)
    valid_to: dt.datetime | None = None


@dataclass(frozen=True)
class CertificateLimits:
    can_request: bool
    enrollment_remaining: int
    enrollment_limit: int
    certificate_remaining: int
    certificate_limit: int


@dataclass(frozen=True)
class EnrollmentData:
    """DN attributes to copy exactly into the CSR (GET /certificates/enrollments/data)."""

    common_name: str
    country_name: str
    given_name: str | None = None
    surname: str | None = None
    serial_number: str | None = None
    unique_identifier: str | None = None
    organization_name: str | None = None
    organization_identifier: str | None = None


@dataclass(frozen=True)
class CsrResult:
    csr_der: bytes
    private_key_pem: Secret[bytes] = field(repr=False)
    key_type: str  # "ec" | "rsa"


@dataclass(frozen=True)
class EnrollmentStatus:
    reference_number: str
    status: StatusInfo
    certificate_serial_number: str | None


@dataclass(frozen=True)
class KsefCertificate:
    serial_number: str
    name: str
    type: str
    certificate_der: bytes

    @property
    def pem(self) -> bytes:
        import base64
        import textwrap

        b64 = base64.b64encode(self.certificate_der).decode("ascii")
        return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(b64, 64))
                + "\n-----END CERTIFICATE-----\n").encode("ascii")


@dataclass(frozen=True)
class CertificateInfo:
    serial_number: str
    name: str
    type: str
    common_name: str | None
    status: str
    subject_identifier: str | None
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None


def parse_datetime(value: str | None) -> dt.datetime | None:
    """ISO-8601 with up to 7 fractional digits (KSeF sends .NET ticks precision)."""
    if not value:
        return None
    import re

    v = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", v)
    if m:
        frac = (m.group(2) or "")[:7]
        frac = frac[:7] if len(frac) <= 7 else frac
        frac = ("." + frac[1:7]) if frac else ""
        v = m.group(1) + frac + m.group(3)
    parsed = dt.datetime.fromisoformat(v)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed
