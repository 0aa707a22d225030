"""NIP (Polish tax identification number): parsing and validation.

Rules (PROTOCOL.md §11): ten digits, the spec pattern
``[1-9]((\\d[1-9])|([1-9]\\d))\\d{7}`` and the official weighted checksum.
Input may carry separators (``526-587-76-35``, ``526 587 76 35``) or the
``PL`` prefix; the canonical form is ten digits.
"""

from __future__ import annotations

import re

_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_PATTERN = re.compile(r"[1-9]((\d[1-9])|([1-9]\d))\d{7}")
_SEPARATORS = re.compile(r"[\s\-]")


class InvalidNip(ValueError):
    """A NIP that is not valid. ``reason`` is a stable code, ``value`` the input."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason  # "empty" | "letters" | "length" | "pattern" | "checksum"
        super().__init__(f"invalid NIP {value!r}: {reason}")


def nip_checksum_ok(digits: str) -> bool:
    s = sum(int(c) * w for c, w in zip(digits[:9], _WEIGHTS, strict=False)) % 11
    return s != 10 and s == int(digits[9])


def normalize_nip(value: str) -> str:
    """Return the ten-digit NIP or raise :class:`InvalidNip` saying why."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidNip(value, "empty")
    compact = _SEPARATORS.sub("", raw)
    if compact[:2].upper() == "PL":
        compact = compact[2:]
    if not compact.isascii() or not compact.isdigit():
        raise InvalidNip(value, "letters")
    if len(compact) != 10:
        raise InvalidNip(value, "length")
    if not _PATTERN.fullmatch(compact):
        raise InvalidNip(value, "pattern")
    if not nip_checksum_ok(compact):
        raise InvalidNip(value, "checksum")
    return compact


def is_valid_nip(value: str) -> bool:
    try:
        normalize_nip(value)
    except InvalidNip:
        return False
    return True


def format_nip(nip: str) -> str:
    """Display form ``526-587-76-35``."""
    return f"{nip[0:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:10]}" if len(nip) == 10 else nip


def make_nip(prefix9: str) -> str | None:
    """Complete nine leading digits with the check digit, or None when no digit fits."""
    s = sum(int(c) * w for c, w in zip(prefix9, _WEIGHTS, strict=False)) % 11
    if s == 10:
        return None
    nip = prefix9 + str(s)
    return nip if _PATTERN.fullmatch(nip) else None
