"""Login methods and API versions, with the rules the panel enforces."""

from __future__ import annotations

import datetime as dt
import enum


class AuthMethod(str, enum.Enum):
    TOKEN = "token"
    CERTIFICATE = "certificate"


class ApiVersion(str, enum.Enum):
    V2 = "2.0"
    V1 = "1.0"  # retired: kept only as a visible, refused legacy value


API_V1_SWITCHED_OFF = dt.date(2026, 1, 26)
API_V2_PRODUCTION_SINCE = dt.date(2026, 2, 1)


class RuleViolation(ValueError):
    """A combination the panel refuses; ``code`` is stable for translation."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def check_method_and_version(method: AuthMethod, version: ApiVersion) -> None:
    if version is ApiVersion.V1:
        raise RuleViolation(
            "api-v1-off",
            "KSeF API 1.0 was switched off on 26 Jan 2026; use API 2.0",
        )
    # Certificates need 2.0, which is the only version left: nothing more to check.

