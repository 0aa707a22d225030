"""KSeF error responses: the legacy ``ExceptionResponse`` and Problem Details (PROTOCOL.md §7)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .ids import ksef_timestamp, trace_id

PROBLEM_JSON = "application/problem+json"
ERROR_FORMAT_HEADER = "x-error-format"

#: Exception codes used by the simulator and their official descriptions (spec tables).
DESCRIPTIONS: dict[int, str] = {
    9101: "Nieprawidłowy dokument.",
    9102: "Brak podpisu.",
    9103: "Przekroczona liczba dozwolonych podpisów.",
    9105: "Nieprawidłowy podpis.",
    21001: "Nieczytelna treść.",
    21111: "Nieprawidłowe wyzwanie autoryzacyjne.",
    21115: "Nieprawidłowy certyfikat.",
    21117: "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.",
    21184: "Sesja tymczasowo niedostępna.",
    21217: "Nieprawidłowe kodowanie znaków.",
    21301: "Brak autoryzacji.",
    21304: "Brak uwierzytelnienia.",
    21308: "Próba wykorzystania metod autoryzacyjnych osoby zmarłej.",
    21401: "Dokument nie jest zgodny ze schemą (xsd).",
    21405: "Błąd walidacji danych wejściowych.",
    21406: "Konflikt podpisu i typu uwierzytelnienia.",
    21418: "Przekazany token kontynuacji ma nieprawidłowy format.",
    21470: "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.",
    25001: "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
    25002: "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.",
    25003: "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
    25004: "Niepoprawny format CSR lub niepoprawny podpis CSR.",
    25005: "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.",
    25006: "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.",
    25007: "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.",
    25008: "Certyfikat o podanym numerze seryjnym nie istnieje.",
    25009: "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany lub nieważny.",
    25010: "Nieprawidłowy typ lub długość klucza.",
    25011: "Nieprawidłowy algorytm podpisu CSR.",
    26001: "Nie można nadać tokenowi uprawnień których nie posiadasz.",
    26002: "Nie można wygenerować tokena dla obecnego typu kontekstu.",
    30001: "Podmiot lub uprawnienie już istnieje.",
}


class SimulatorHttpError(Exception):
    """Base class of errors rendered as HTTP responses (subclasses define ``status``)."""


@dataclass
class KsefApiError(SimulatorHttpError):
    """A 400 with one exception code (legacy ``ExceptionResponse`` or ``BadRequestProblemDetails``)."""

    code: int
    details: list[str] = field(default_factory=list)
    description: str | None = None
    status: int = 400

    def __post_init__(self) -> None:
        if self.description is None:
            self.description = DESCRIPTIONS.get(self.code, "Błąd.")
        super().__init__(f"{self.code} {self.description} {self.details}")


@dataclass
class ProblemError(SimulatorHttpError):
    """401/403/410 (always Problem Details) and 415."""

    status: int
    detail: str
    reason_code: str | None = None
    security: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.detail}")


@dataclass
class TooManyRequestsError(SimulatorHttpError):
    retry_after: int
    detail: str
    status: int = 429

    def __post_init__(self) -> None:
        super().__init__(self.detail)


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def wants_problem_details(headers: Any) -> bool:
    value = headers.get(ERROR_FORMAT_HEADER) or ""
    return value.strip().lower() == "problem-details"


def error_body(
    exc: SimulatorHttpError,
    *,
    problem: bool,
    instance: str,
    now: datetime,
    service_ctx: str = "srvKSEFSIM",
) -> tuple[int, dict[str, Any], str, dict[str, str]]:
    """Return ``(status, body, content_type, extra_headers)`` for an error."""
    tid = trace_id()
    stamp = ksef_timestamp(now)
    if isinstance(exc, KsefApiError):
        if problem:
            body = {
                "title": TITLES[400],
                "status": 400,
                "instance": instance,
                "detail": exc.description,
                "errors": [{"code": exc.code, "description": exc.description, "details": exc.details}],
                "timestamp": stamp,
                "traceId": tid,
            }
            return 400, body, PROBLEM_JSON, {}
        body = {
            "exception": {
                "exceptionDetailList": [
                    {
                        "exceptionCode": exc.code,
                        "exceptionDescription": exc.description,
                        "details": exc.details,
                    }
                ],
                "serviceCode": f"00-{tid}-{tid[:16]}-00",
                "serviceCtx": service_ctx,
                "serviceName": "Undefined",
                "timestamp": stamp,
            }
        }
        return 400, body, "application/json", {}
    if isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
        if problem:
            body = {
                "title": TITLES[429],
                "status": 429,
                "instance": instance,
                "detail": exc.detail,
                "timestamp": stamp,
                "traceId": tid,
            }
            return 429, body, PROBLEM_JSON, headers
        body = {"status": {"code": 429, "description": TITLES[429], "details": [exc.detail]}}
        return 429, body, "application/json", headers
    assert isinstance(exc, ProblemError)
    body = {
        "title": TITLES.get(exc.status, "Error"),
        "status": exc.status,
        "detail": exc.detail,
        "instance": instance,
        "traceId": tid,
        "timestamp": stamp,
    }
    if exc.status == 403:
        body["reasonCode"] = exc.reason_code or "insufficient-resource-access"
        body["security"] = exc.security
    return exc.status, body, PROBLEM_JSON, {}


def dumps(body: Any) -> bytes:
    # "replace": a lone surrogate echoed from a request never turns an answer into a 500
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
