"""KSeF 2.0 token format: ``<referenceNumber>|<context>|<64 hex>``, at most 160 characters."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LEN = 160
_REF = r"\d{8}-[A-Z]{2}-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}"
_TOKEN = re.compile(rf"({_REF})\|([A-Za-z]+)-([0-9A-Za-z\-]+)\|([0-9a-fA-F]{{64}})")
_V1_LIKE = re.compile(r"[0-9A-Fa-f]{32,64}")


class InvalidToken(ValueError):
    def __init__(self, reason: str) -> None:
        self.reason = reason  # "empty" | "too-long" | "v1" | "format"
        super().__init__(f"invalid KSeF token: {reason}")


@dataclass(frozen=True)
class TokenShape:
    reference_number: str
    context_type: str  # as written in the token, e.g. "nip", "internalId"
    context_value: str

    @property
    def nip(self) -> str | None:
        if self.context_type.lower() == "nip":
            return self.context_value
        if self.context_type.lower() == "internalid":
            return self.context_value.split("-")[0]
        return None


def clean_token(text: str) -> str:
    """Strip what a paste brings along: spaces, tabs and line breaks anywhere."""
    return "".join((text or "").split())


def parse_token(text: str) -> TokenShape:
    token = clean_token(text)
    if not token:
        raise InvalidToken("empty")
    if len(token) > MAX_LEN:
        raise InvalidToken("too-long")
    m = _TOKEN.fullmatch(token)
    if not m:
        if _V1_LIKE.fullmatch(token):
            raise InvalidToken("v1")
        raise InvalidToken("format")
    return TokenShape(m.group(1), m.group(2), m.group(3))
