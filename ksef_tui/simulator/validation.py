"""Small request-body checks that answer 400 21405 like KSeF does."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any, TypeGuard

from .errors import KsefApiError
from .ids import parse_timestamp

NIP_RE = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}$")
PESEL_RE = re.compile(r"^\d{2}(?:0[1-9]|1[0-2]|2[1-9]|3[0-2]|4[1-9]|5[0-2]|6[1-9]|7[0-2]|8[1-9]|9[0-2])\d{7}$")
INTERNAL_ID_RE = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}-\d{5}$")
CHALLENGE_RE = re.compile(r"^\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}$")
SERIAL_RE = re.compile(r"^[0-9A-F]{16}$")
CERT_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-\ ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]+$")
REFERENCE_RE = re.compile(r"^.{36}$")
_INTEGER_RE = re.compile(r"-?[0-9]{1,10}")

CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")
TOKEN_PERMISSIONS = (
    "InvoiceRead",
    "InvoiceWrite",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "EnforcementOperations",
    "Introspection",
    "CollectiveIdentifierManage",
)


def is_int(value: object) -> TypeGuard[int]:
    """A JSON integer (``true``/``false`` are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def invalid(detail: str) -> KsefApiError:
    return KsefApiError(21405, [detail])


def require_object(body: Any, name: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(f"'{name}' musi być obiektem JSON.")
    return body


def string(
    body: dict[str, Any],
    key: str,
    *,
    required: bool = True,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: re.Pattern[str] | None = None,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(f"Pole '{key}' jest wymagane.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Pole '{key}' musi być tekstem.")
    if min_len is not None and len(value) < min_len:
        raise invalid(f"Pole '{key}' musi mieć co najmniej {min_len} znaków.")
    if max_len is not None and len(value) > max_len:
        raise invalid(f"Pole '{key}' może mieć najwyżej {max_len} znaków.")
    if pattern is not None and not pattern.match(value):
        raise invalid(f"Pole '{key}' ma nieprawidłowy format.")
    if choices is not None and value not in choices:
        raise invalid(f"Pole '{key}' musi mieć jedną z wartości: {', '.join(choices)}.")
    return value


def boolean(body: dict[str, Any], key: str, *, required: bool = True) -> bool | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, bool):
        raise invalid(f"Pole '{key}' musi być wartością logiczną.")
    return value


def base64_bytes(body: dict[str, Any], key: str, *, required: bool = True) -> bytes | None:
    text = string(body, key, required=required)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid(f"Pole '{key}' nie jest poprawnym Base64.") from exc


def date_time(body: dict[str, Any], key: str) -> datetime | None:
    text = string(body, key, required=False)
    if text is None:
        return None
    try:
        moment = parse_timestamp(text)
    except (ValueError, OverflowError) as exc:
        raise invalid(f"Pole '{key}' nie jest poprawną datą.") from exc
    if not 1950 <= moment.year <= 9990:
        raise invalid(f"Pole '{key}' zawiera datę spoza obsługiwanego zakresu (1950-9990).")
    return moment


def identifier(body: dict[str, Any], key: str, types: tuple[str, ...]) -> tuple[str, str]:
    value = require_object(body.get(key), key)
    kind = string(value, "type", choices=types)
    text = string(value, "value", min_len=1)
    assert kind is not None and text is not None
    return kind, text


def page_size(
    raw: str | None, *, default: int, low: int, high: int, name: str = "pageSize", unreadable: int = 21405
) -> int:
    """An integer query parameter; not a number answers ``unreadable``, out of range 21405."""
    if raw is None:
        return default
    text = raw.strip()
    if not _INTEGER_RE.fullmatch(text):
        raise KsefApiError(unreadable, [f"Parametr '{name}' musi być liczbą całkowitą."])
    value = int(text)
    if not low <= value <= high:
        raise invalid(f"Parametr '{name}' musi mieścić się w zakresie {low}-{high}.")
    return value


def nip_checksum_ok(nip: str) -> bool:
    if not NIP_RE.match(nip):
        return False
    total = sum(int(c) * w for c, w in zip(nip[:9], (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return total != 10 and total == int(nip[9])


def internal_id_checksum_ok(value: str) -> bool:
    if not INTERNAL_ID_RE.match(value):
        return False
    digits = value.replace("-", "")
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits[:14]))
    return total % 10 == int(digits[14])


def continuation_token(offset: int) -> str:
    """An opaque ``continuationToken`` for the next page (``x-continuation-token`` on the next call)."""
    return base64.b64encode(json.dumps({"skip": offset}).encode()).decode()


def continuation_offset(token: str | None) -> int:
    """The offset a continuation token stands for (0 without one); a damaged token answers 21418."""
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        offset = int(data["skip"])
    except (binascii.Error, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise KsefApiError(21418) from exc
    if offset < 0:
        raise KsefApiError(21418)
    return offset
