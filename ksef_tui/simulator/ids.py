"""Identifiers and timestamps in the formats KSeF uses."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta

#: Reference-number kinds seen in the spec examples.
AUTH = "AU"
TOKEN = "EC"
ENROLLMENT = "EH"
CHALLENGE = "CR"


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:2].upper()


def reference_number(kind: str, moment: datetime) -> str:
    """``YYYYMMDD-XX-HHHHHHHHHH-HHHHHHHHHH-CC`` (36 chars), e.g. ``20250514-AU-2DFC46C000-3AC6D5877F-D4``."""
    day = moment.astimezone(UTC).strftime("%Y%m%d")
    micros_of_day = (
        moment.hour * 3600 + moment.minute * 60 + moment.second
    ) * 1_000_000 + moment.microsecond
    first = f"{micros_of_day:07X}{secrets.randbits(12):03X}"[-10:]
    second = secrets.token_hex(5).upper()
    body = f"{day}-{kind}-{first}-{second}"
    return f"{body}-{_checksum(body)}"


def ksef_timestamp(moment: datetime) -> str:
    """ISO 8601 with 7 fractional digits and offset: ``2025-07-11T12:23:56.0154302+00:00``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0+00:00"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_ms(moment: datetime) -> int:
    """Unix milliseconds, computed exactly (no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp written by :func:`ksef_timestamp` (or any ISO 8601 one)."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def opaque_jwt(claims: dict[str, object], secret: bytes) -> str:
    """An HS256 JWT, like KSeF's tokens (clients must treat it as opaque)."""
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {**claims, "jti": secrets.token_hex(16)}
    payload = b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def trace_id() -> str:
    return secrets.token_hex(16)
