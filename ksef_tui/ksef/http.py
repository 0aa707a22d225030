"""The one HTTP client that talks to KSeF: timeouts, retries, Retry-After and typed errors.

This is the program's only retry policy (decided per request by :class:`_Attempts`):

* ``Retry.IDEMPOTENT`` (GET, polling): sent again with backoff after a 5xx, a network error or
  a timeout (``HttpPolicy.max_attempts`` in all); a 429 waited out when ``Retry-After`` is short.
* ``Retry.RATE_LIMIT_ONLY`` (POSTs that change state): only a 429 is waited out and the request
  sent again (KSeF did not process it); anything else is raised at once.
* ``Retry.NEVER`` (token redeem): sent exactly once, whatever happens.

Every attempt goes through the host's limiter (:mod:`ksef_tui.ksef.limits`), which paces the
requests so that a 429 should not come at all, and holds the whole key after one that does. Above
this layer nothing repeats a request; the services only restart a whole authorization flow with a
fresh challenge (:func:`ksef_tui.ksef.errors.needs_new_flow`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json as jsonlib
import logging
import random
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.secret import Secret
from ksef_tui.i18n import _
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
from ksef_tui.ksef.models import SystemWarning, parse_system_warnings

if TYPE_CHECKING:
    from ksef_tui.ksef.limits import RateLimiter

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
    #: The pool keeps as many connections alive as may be in flight, so they are reused: with
    #: httpx's default of 20 kept alive, a bulk run of 32 in flight closed and opened a connection
    #: for about every third request, and every request scanned the growing pool (bench_permissions).
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
    #: client-side pacing (the host's :class:`~ksef_tui.ksef.limits.RateLimiter`); None: none
    limiter: RateLimiter | None = None
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    #: the distinct ``X-System-Warning``s KSeF sent (API 2.6+), in order: the gateway shows them
    warnings: list[SystemWarning] = field(default_factory=list, init=False, repr=False)

    async def _ensure_client(self) -> httpx.AsyncClient:
        """The client, made in a thread the first time: a TLS context (the CA bundle) and the
        first imports of httpcore and anyio held the event loop 100-300 ms (bench_stalls)."""
        if self._client is None:
            client = await asyncio.to_thread(self._new_client)
            if self._client is None:  # another call may have made one meanwhile
                self._slots = asyncio.Semaphore(self.policy.max_in_flight)
                self._client = client
            else:
                await client.aclose()
        return self._client

    def _new_client(self) -> httpx.AsyncClient:
        _skip_missing_sniffio()
        warm_imports()
        from ksef_tui.ksef import pool

        timeout = httpx.Timeout(self.policy.timeout_s, connect=self.policy.connect_timeout_s)
        # as many connections kept alive as may be in flight, so that a bulk run reuses them
        limits = httpx.Limits(max_connections=self.policy.max_in_flight,
                              max_keepalive_connections=self.policy.max_in_flight)
        return httpx.AsyncClient(
            timeout=timeout,
            transport=self.transport or pool.transport(tls_context(), limits),
            verify=tls_context() if self.transport is None else True,
            follow_redirects=False,
            limits=limits,
            headers={
                "User-Agent": self.policy.user_agent,
                "Accept": "application/json",
                "X-Error-Format": "problem-details",
            },
        )

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
        """Send one logical request; ``operation`` is an English noun phrase for messages.

        The one retry policy of the program (see the module's docstring): what may be sent again,
        and after how long, is decided by :class:`_Attempts`; every attempt goes through the limiter."""
        request = _Request(method, path, self.endpoint.url(path), _body(json, content),
                           _headers(headers, json, content_type, bearer), dict(params or {}), bearer)
        attempts = _Attempts(self.policy, retry)
        while True:
            try:
                response = await self._send(request)
            except httpx.TimeoutException as exc:
                delay = attempts.after_failure(self._delay)
                if delay is None:
                    raise attempts.final(KsefTimeout(
                        _("KSeF did not answer {operation} within {seconds} s ({endpoint}).").format(
                            operation=_(operation), seconds=f"{self.policy.timeout_s:g}", endpoint=self.endpoint.label)
                    )) from exc
            except httpx.TransportError as exc:
                delay = attempts.after_failure(self._delay)
                if delay is None:
                    raise attempts.final(KsefNetworkError(
                        _("Cannot reach KSeF at {endpoint} for {operation}: {fault}.").format(
                            endpoint=self.endpoint.label, operation=_(operation), fault=type(exc).__name__)
                    )) from exc
            else:
                status = response.status_code
                self._note_warnings(response, operation)
                if status in expected:
                    return response
                retry_after = None
                if status == 429:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    self._throttled(request, retry_after)
                    delay = attempts.after_rate_limit(retry_after, self._delay)
                    if delay is not None:
                        log.info("KSeF rate limit on %s; waiting %.1f s", operation, delay)
                else:
                    delay = attempts.after_failure(self._delay) if status >= 500 else None
                if delay is None:
                    raise attempts.final(_error(response, operation, retry_after))
            await self.sleep(delay)

    def _note_warnings(self, response: httpx.Response, operation: str) -> None:
        header = response.headers.get("X-System-Warning")
        if not header:
            return
        log.warning("KSeF warning for %s: %s", operation, header)
        for warning in parse_system_warnings(header):
            if warning not in self.warnings and len(self.warnings) < 50:
                self.warnings.append(warning)

    async def _send(self, request: _Request) -> httpx.Response:
        """One attempt: a connection slot, the limiter's permit, the request; observed either way."""
        client = await self._ensure_client()
        assert self._slots is not None
        status: int | None = None
        try:
            async with self._slots:
                limiter, permit = self.limiter, None
                if limiter is not None:
                    permit = await limiter.acquire(request.limit_group, self._limit_key(request))
                try:
                    response = await client.request(request.method, request.url, content=request.body or None,
                                                    headers=request.headers, params=request.params)
                finally:
                    if limiter is not None and permit is not None:
                        limiter.done(permit)
            status = response.status_code
            return response
        finally:
            self._observe(request, status)

    def _limit_key(self, request: _Request) -> str:
        assert self.limiter is not None
        return self.limiter.key_for(request.bearer.reveal() if request.bearer is not None else None)

    def _throttled(self, request: _Request, retry_after: float | None) -> None:
        if self.limiter is not None:
            self.limiter.throttled(request.limit_group, self._limit_key(request), retry_after)

    def _observe(self, request: _Request, status: int | None) -> None:
        if self.observer is not None:
            self.observer(SentRequest(request.method, request.path, request.params,
                                      request.headers.get("Content-Type"), request.body, status))

    def _delay(self, attempt: int) -> float:
        base = min(self.policy.backoff_cap_s, self.policy.backoff_initial_s * (2 ** (attempt - 1)))
        return base * (0.8 + 0.4 * random.random())


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    url: str
    body: bytes
    headers: dict[str, str]
    params: dict[str, Any]
    bearer: Secret[str] | None

    @property
    def limit_group(self) -> str:
        from ksef_tui.ksef.limits import group_for

        return group_for(self.path)


def _body(json: Any, content: bytes | None) -> bytes:
    if content is not None:
        return content
    return jsonlib.dumps(json, ensure_ascii=False).encode("utf-8") if json is not None else b""


def _headers(extra: Mapping[str, str] | None, json: Any, content_type: str | None,
             bearer: Secret[str] | None) -> dict[str, str]:
    headers = dict(extra or {})
    if json is not None:
        headers["Content-Type"] = "application/json"
    elif content_type:
        headers["Content-Type"] = content_type
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer.reveal()}"
    return headers


class _Attempts:
    """The retry policy for one logical request: each answer says how long to wait before the next
    attempt, or ``None``: no more attempts, report the failure."""

    def __init__(self, policy: HttpPolicy, retry: Retry) -> None:
        self.policy = policy
        self.retry = retry
        self.failures = 0  # failed attempts (5xx, network, timeout); a 429 is not one
        self.rate_waits = 0
        self.rate_waited = 0.0

    def final(self, error: KsefError) -> KsefError:
        """The error to raise; it says whether the request was already sent again here."""
        error.retried = self.retry is Retry.IDEMPOTENT
        return error

    def after_failure(self, backoff: Callable[[int], float]) -> float | None:
        """A 5xx, a timeout or a network error: only an idempotent request is sent again."""
        self.failures += 1
        if self.retry is not Retry.IDEMPOTENT or self.failures >= self.policy.max_attempts:
            return None
        return backoff(self.failures)

    def after_rate_limit(self, retry_after: float | None, backoff: Callable[[int], float]) -> float | None:
        """A 429: KSeF did not process the request, so anything but a redeem may be sent again,
        once ``Retry-After`` is over (with jitter), within the per-call budget."""
        p = self.policy
        if self.retry is Retry.NEVER or self.rate_waits >= p.max_rate_limit_waits:
            return None
        if retry_after is not None and retry_after > p.max_rate_limit_wait_s:
            return None
        wait = retry_after if retry_after is not None else backoff(self.rate_waits + 1)
        wait *= 1.0 + 0.25 * random.random()  # spread the herd that was throttled together
        if self.rate_waited + wait > p.max_rate_limit_total_s:
            return None
        self.rate_waits += 1
        self.rate_waited += wait
        return wait


_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """One TLS context for every KSeF client of the process, as httpx makes it by default (the
    CA bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR``): loading it costs tens of milliseconds each time."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
        return _tls


def warm_imports() -> None:
    """What httpx imports on its first connection (httpcore's anyio backend, anyio's streams):
    imported here, in the thread that makes the client, and not on the event loop."""
    import anyio._backends._asyncio
    import anyio.streams.memory
    import anyio.streams.tls  # noqa: F401
    import httpcore._backends.anyio  # noqa: F401


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


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait: ``Retry-After`` in seconds, or an HTTP date compared with ``now``."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(v)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - (now or system_clock())).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def json_body(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise KsefProtocolError(_("KSeF answered {operation} with something that is not JSON (HTTP {status}).")
                                .format(operation=_(operation), status=response.status_code)) from None


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
