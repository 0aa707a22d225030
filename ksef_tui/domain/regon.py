"""REGON (Polish statistical number): 9 or 14 digits with a weighted checksum."""

from __future__ import annotations

_W9 = (8, 9, 2, 3, 4, 5, 6, 7)
_W14 = (2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8)


class InvalidRegon(ValueError):
    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason  # "letters" | "length" | "checksum"
        super().__init__(f"invalid REGON {value!r}: {reason}")


def _check(digits: str, weights: tuple[int, ...]) -> bool:
    s = sum(int(c) * w for c, w in zip(digits, weights, strict=False)) % 11
    return (0 if s == 10 else s) == int(digits[len(weights)])


def normalize_regon(value: str) -> str:
    compact = "".join((value or "").split()).replace("-", "")
    if not compact.isascii() or not compact.isdigit():
        raise InvalidRegon(value, "letters")
    if len(compact) not in (9, 14):
        raise InvalidRegon(value, "length")
    if not _check(compact[:9], _W9) or (len(compact) == 14 and not _check(compact, _W14)):
        raise InvalidRegon(value, "checksum")
    return compact
