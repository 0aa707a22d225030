"""A wrapper for secret strings and bytes that never shows its value by accident."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T", str, bytes)


class Secret(Generic[T]):
    """Holds a secret. ``repr``/``str``/f-strings show only a mask; ``reveal()`` returns it.

    Deliberately not a dataclass and without ``__eq__`` on the value's text in
    reprs, so it cannot leak through tracebacks, logging or pydantic/dataclass reprs.
    """

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:  # immutable
        raise AttributeError("Secret is immutable")

    def reveal(self) -> T:
        return self._value  # type: ignore[attr-defined]

    def last4(self) -> str:
        v = self._value  # type: ignore[attr-defined]
        if isinstance(v, bytes):
            return ""
        return v[-4:] if len(v) >= 8 else ""

    def masked(self) -> str:
        tail = self.last4()
        return f"••••••••{tail}" if tail else "••••••••"

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            import hmac

            a: str | bytes = self.reveal()
            b: str | bytes = other.reveal()
            if isinstance(a, str):
                a = a.encode()
            if isinstance(b, str):
                b = b.encode()
            return hmac.compare_digest(a, b)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))  # type: ignore[attr-defined]

    def __reduce__(self):  # never pickle a secret by accident
        raise TypeError("Secret values cannot be pickled")
