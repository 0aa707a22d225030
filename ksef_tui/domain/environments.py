"""KSeF environments and their official API 2.0 base URLs (PROTOCOL.md §2)."""

from __future__ import annotations

import enum


class Environment(str, enum.Enum):
    TEST = "TEST"
    DEMO = "DEMO"
    PRODUCTION = "PRODUCTION"

    @property
    def base_url(self) -> str:
        return _BASE_URLS[self]

    @classmethod
    def parse(cls, value: str) -> Environment:
        v = (value or "").strip().upper()
        aliases = {"PRD": "PRODUCTION", "PROD": "PRODUCTION", "TE": "TEST", "TR": "DEMO"}
        v = aliases.get(v, v)
        try:
            return cls(v)
        except ValueError:
            raise ValueError(
                f"unknown KSeF environment {value!r} (use TEST, DEMO or PRODUCTION)"
            ) from None


_BASE_URLS = {
    Environment.TEST: "https://api-test.ksef.mf.gov.pl/v2",
    Environment.DEMO: "https://api-demo.ksef.mf.gov.pl/v2",
    Environment.PRODUCTION: "https://api.ksef.mf.gov.pl/v2",
}
