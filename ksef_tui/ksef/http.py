"""The one HTTP client that talks to KSeF: timeouts, retries, Retry-After and typed errors.

Retry policy (per call):

* ``Retry.IDEMPOTENT`` (GET, polling): retried with backoff on 5xx, network errors and
  timeouts; 429 waited out when ``Retry-After`` is short.
* ``Retry.RATE_LIMIT_ONLY`` (POSTs that change state): only a 429 is waited out and
  repeated (KSeF did not process the request); anything else is raised at once.
* ``Retry.NEVER`` (token redeem): sent exactly once, whatever happens.
"""

from __future__ import annotations

import asyncio
import enum
import json as jsonlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ksef_tui.domain.secret import Secret
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import (
    KsefError,
    KsefHttpError,
    KsefNetworkError,
    KsefProtocolError,
    KsefRateLimited,
    KsefTimeout,
    error_from_response,
    human_retry_en,
)

log = logging.getLogger(__name__)


class Retry(enum.Enum):
    IDEMPOTENT = "idempotent"
    RATE_LIMIT_ONLY = "rate-limit-only"
    NEVER = "never"


@dataclass(frozen=True)
class HttpPolicy:
    timeout_s: float = 30.0  # every single request
    connect_timeout_s: float = 10.0
    max_attempts: int = 4  # for idempotent calls on 5xx / network errors
    backoff_initial_s: float = 0.25
    backoff_cap_s: float = 4.0
    max_rate_limit_wait_s: float = 60.0  # wait out a 429 when Retry-After <= this
    max_rate_limit_waits: int = 20
    max_rate_limit_total_s: float = 120.0  # all waits of one call together
    user_agent: str = "ksef-tui"
    #: Requests in flight per gateway; more wait in an asyncio queue (cheap), which keeps
    #: httpcore's connection pool small (its request assignment is quadratic in the queue).
    max_in_flight: int = 32


@dataclass(frozen=True)
class SentRequest:
    """What went over the wire (for contract tests and diagnostics; no auth header)."""

    method: str
    path: str  # relative to the base URL, e.g. "/auth/challenge"
    params: Mapping[str, Any]
    content_type: str | None
    body: bytes
    status: int | None = None

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


RequestObserver = Callable[[SentRequest], None]
Sleeper = Callable[[float], Awaitable[None]]


@dataclass
class KsefHttp:
    endpoint: Endpoint
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    transport: httpx.AsyncBaseTransport | None = None
    observer: RequestObserver | None = None
    sleep: Sleeper = asyncio.sleep
    #: optional client-side pacing (:class:`ksef_tui.ksef.limits.RateLimiter`); None: none
    limiter: Any = None
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    def _ensure_client(self) -> httpx.AsyncClient:
        if self._client is None:
            _skip_missing_sniffio()
            self._slots = asyncio.Semaphore(self.policy.max_in_flight)
            timeout = httpx.Timeout(self.policy.timeout_s, connect=self.policy.connect_timeout_s)
            self._client = httpx.AsyncClient(
                timeout=timeout,
                transport=self.transport,
                follow_redirects=False,
                headers={
                    "User-Agent": self.policy.user_agent,
                    "Accept": "application/json",
                    "X-Error-Format": "problem-details",
                },
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        retry: Retry,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        bearer: Secret[str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """Send one logical request; ``operation`` is an English noun phrase for messages."""
        client = self._ensure_client()
        body = content if content is not None else (
            jsonlib.dumps(json, ensure_ascii=False).encode("utf-8") if json is not None else b""
        )
        hdrs: dict[str, str] = dict(headers or {})
        if json is not None:
            hdrs["Content-Type"] = "application/json"
        elif content_type:
            hdrs["Content-Type"] = content_type
        if bearer is not None:
            hdrs["Authorization"] = f"Bearer {bearer.reveal()}"
        url = self.endpoint.url(path)

        limiter = self.limiter
        if limiter is not None:
            from ksef_tui.ksef.limits import group_for

            limit_group = group_for(path)
            limit_key = limiter.key_for(bearer.reveal() if bearer is not None else None)
        attempt = 0
        rate_waits = 0
        rate_waited = 0.0
        while True:
            attempt += 1
            sent = SentRequest(method, path, dict(params or {}), hdrs.get("Content-Type"), body)
            try:
                assert self._slots is not None
                async with self._slots:
                    if limiter is None:
                        response = await client.request(method, url, content=body or None, headers=hdrs, params=params)
                    else:
                        permit = await limiter.acquire(limit_group, limit_key)
                        try:
                            response = await client.request(method, url, content=body or None, headers=hdrs,
                                                            params=params)
                        finally:
                            limiter.done(permit)
            except httpx.TimeoutException as exc:
                if retry is Retry.IDEMPOTENT and attempt < self.policy.max_attempts:
                    await self._backoff(attempt)
                    continue
                self._observe(sent, None)
                raise KsefTimeout(
                    f"KSeF did not answer {operation} within {self.policy.timeout_s:g} s "
                    f"({self.endpoint.label})."
                ) from exc
            except httpx.TransportError as exc:
                if retry is Retry.IDEMPOTENT and attempt < self.policy.max_attempts:
                    await self._backoff(attempt)
                    continue
                self._observe(sent, None)
                raise KsefNetworkError(
                    f"Cannot reach KSeF at {self.endpoint.label} for {operation}: {type(exc).__name__}."
                ) from exc
            self._observe(sent, response.status_code)
            status = response.status_code
            if status in expected:
                warning = response.headers.get("X-System-Warning")
                if warning:
                    log.warning("KSeF warning for %s: %s", operation, warning)
                return response

            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if limiter is not None:
                    limiter.throttled(limit_group, limit_key, retry_after)
                wait = retry_after if retry_after is not None else self._delay(rate_waits + 1)
                wait *= 1.0 + 0.25 * random.random()  # spread the herd that was throttled together
                if (
                    retry is not Retry.NEVER
                    and rate_waits < self.policy.max_rate_limit_waits
                    and (retry_after is None or retry_after <= self.policy.max_rate_limit_wait_s)
                    and rate_waited + wait <= self.policy.max_rate_limit_total_s
                ):
                    rate_waits += 1
                    rate_waited += wait
                    log.info("KSeF rate limit on %s; waiting %.1f s", operation, wait)
                    await self.sleep(wait)
                    attempt -= 1  # a 429 is not a failed attempt
                    continue
                raise _error(response, operation, retry_after)

            if status >= 500 and retry is Retry.IDEMPOTENT and attempt < self.policy.max_attempts:
                await self._backoff(attempt)
                continue
            raise _error(response, operation, None)

    def _observe(self, sent: SentRequest, status: int | None) -> None:
        if self.observer is not None:
            self.observer(
                SentRequest(sent.method, sent.path, sent.params, sent.content_type, sent.body, status)
            )

    def _delay(self, attempt: int) -> float:
        base = min(self.policy.backoff_cap_s, self.policy.backoff_initial_s * (2 ** (attempt - 1)))
        return base * (0.8 + 0.4 * random.random())

    async def _backoff(self, attempt: int) -> None:
        await self.sleep(self._delay(attempt))


def _skip_missing_sniffio() -> None:
    """httpcore tries ``import sniffio`` on every lock/cancel-shield; without sniffio installed
    (anyio 4 no longer needs it) each failed import scans sys.path -- about 1 ms per request.
    Recording the absence in sys.modules makes the same ImportError immediate."""
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _error(response: httpx.Response, operation: str, retry_after: float | None) -> KsefHttpError:
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = None
    return error_from_response(response.status_code, body, operation=operation, retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        import datetime as dt

        when = parsedate_to_datetime(v)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def json_body(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise KsefProtocolError(
            f"KSeF answered {operation} with something that is not JSON (HTTP {response.status_code})."
        ) from None


__all__ = [
    "HttpPolicy",
    "KsefError",
    "KsefHttp",
    "KsefRateLimited",
    "Retry",
    "SentRequest",
    "human_retry_en",
    "json_body",
    "parse_retry_after",
]
