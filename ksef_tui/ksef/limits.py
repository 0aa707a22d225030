"""Client-side request limits of KSeF (PROTOCOL.md §8), so that bulk work never meets a 429.

KSeF counts requests in sliding windows (1 s, 60 s, 60 min) per group:

* the authorization group (``/auth/challenge``, ``/auth/ksef-token``, ``/auth/xades-signature``,
  ``/auth/{ref}``, redeem, refresh, ``/security/public-key-certificates``): 60 req/s;
* every other endpoint (``/auth/sessions*``, ``/tokens*``, ``/certificates/*``, ...): 10/s, 30/min, 120/h.

Public endpoints (no bearer) count per IP, protected ones per (context, IP). All requests of one
process leave from one IP, so the key is "public" or the context of the bearer token (the gateway
binds each token it obtains to its context; see :meth:`RateLimiter.bind`).

Each request occupies its window slot from the moment it is sent until one window length after
its response arrived: KSeF saw it somewhere between those two instants, so a request let through
here can never be the one that overflows KSeF's window, whatever the network latency.

A 429 that comes anyway (another program on the same IP, a lower limit on the server) blocks the
whole key for its ``Retry-After``: every request of that group and key waits, not only the one
that was refused.

One limiter serves every event loop of the process (the panel's, a bulk run's in its thread
worker, the CLI's): its state is guarded by a lock, and a response that frees a slot wakes the
requests waiting on any loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

AUTH = "auth"
OTHER = "other"
PUBLIC_KEY = "public"

#: (window length in seconds, requests allowed) per group, as published for PRODUCTION.
PRODUCTION_LIMITS: dict[str, tuple[tuple[float, int], ...]] = {
    AUTH: ((1.0, 60),),
    OTHER: ((1.0, 10), (60.0, 30), (3600.0, 120)),
}

_AUTH_PATHS = re.compile(
    r"^/(auth/challenge|auth/xades-signature|auth/ksef-token|auth/token/redeem|auth/token/refresh"
    r"|security/public-key-certificates|auth/(?!sessions)[^/]+)$"
)


def group_for(path: str) -> str:
    """The limit group of a path relative to the base URL (e.g. ``/auth/challenge``)."""
    return AUTH if _AUTH_PATHS.match(path) else OTHER


def _digest(secret_value: str) -> str:
    return hashlib.sha256(secret_value.encode("utf-8")).hexdigest()[:32]


@dataclass
class _Slot:
    at: float  # when the slot stops counting = last known time KSeF may have seen it (+ window)
    done: bool = False


@dataclass
class _Bucket:
    slots: list[_Slot] = field(default_factory=list)
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Permit:
    """One request's place in its window; give it back with :meth:`RateLimiter.done`."""

    group: str
    key: str
    slot: _Slot


@dataclass
class LimiterStats:
    requests: int = 0
    waits: int = 0
    waited_s: float = 0.0
    throttled: int = 0  # 429s reported by the server despite the limiter


class RateLimiter:
    """Sliding-window pacing per (group, key). One instance per KSeF host, shared by gateways."""

    def __init__(self, limits: dict[str, tuple[tuple[float, int], ...]] | None = None, *,
                 clock: Callable[[], float] = time.monotonic, margin_s: float = 0.02) -> None:
        self.limits = dict(limits or PRODUCTION_LIMITS)
        self._clock = clock
        self._margin = margin_s
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._bindings: dict[str, str] = {}
        self._lock = threading.Lock()
        #: requests waiting for a slot, on whichever event loop they run
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.stats = LimiterStats()

    # ---------------------------------------------------------------- keys

    def bind(self, secret_value: str, context: str) -> None:
        """Count requests authorized by this bearer token under ``context`` (e.g. ``Nip 5265877635``)."""
        if len(self._bindings) > 200_000:
            self._bindings.clear()
        self._bindings[_digest(secret_value)] = context

    def key_for(self, bearer_value: str | None) -> str:
        if not bearer_value:
            return PUBLIC_KEY
        digest = _digest(bearer_value)
        return self._bindings.get(digest) or f"bearer:{digest}"

    # ---------------------------------------------------------------- pacing

    def _wait_needed(self, bucket: _Bucket, windows: tuple[tuple[float, int], ...], now: float) -> float:
        longest = max(span for span, _n in windows)
        bucket.slots = [s for s in bucket.slots if not s.done or s.at + longest > now]
        wait = max(0.0, bucket.blocked_until - now)
        for span, allowed in windows:
            # a slot still in flight counts as "now" (its end is not known yet)
            ends = sorted((s.at + span) if s.done else float("inf") for s in bucket.slots
                          if not s.done or s.at + span > now)
            if len(ends) >= allowed:
                free_at = ends[len(ends) - allowed]
                if free_at == float("inf"):
                    return -1.0  # wait for a response to come back
                wait = max(wait, free_at - now + self._margin)
        return wait

    async def acquire(self, group: str, key: str) -> Permit:
        windows = self.limits.get(group)
        if not windows:
            return Permit(group, key, _Slot(self._clock(), True))
        loop = asyncio.get_running_loop()
        waited = False
        started = self._clock()
        while True:
            with self._lock:
                bucket = self._buckets.setdefault((group, key), _Bucket())
                wait = self._wait_needed(bucket, windows, self._clock())
                if wait == 0.0:
                    slot = _Slot(self._clock())
                    bucket.slots.append(slot)
                    self.stats.requests += 1
                    if waited:
                        self.stats.waits += 1
                        self.stats.waited_s += self._clock() - started
                    return Permit(group, key, slot)
                woken: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, woken))
            waited = True
            try:  # until a response frees a slot, or the window has slid far enough
                await asyncio.wait_for(woken, timeout=None if wait < 0 else wait)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    if (loop, woken) in self._waiters:
                        self._waiters.remove((loop, woken))

    def done(self, permit: Permit) -> None:
        """The response arrived: the slot now counts from this instant."""
        with self._lock:
            permit.slot.at = self._clock()
            permit.slot.done = True
        self._wake()

    def throttled(self, group: str, key: str, retry_after: float | None) -> None:
        """KSeF answered 429: hold every request of this group and key for ``retry_after``."""
        with self._lock:
            self.stats.throttled += 1
            if not self.limits.get(group):
                return
            bucket = self._buckets.setdefault((group, key), _Bucket())
            bucket.blocked_until = max(bucket.blocked_until, self._clock() + (retry_after if retry_after else 1.0))

    def _wake(self) -> None:
        """Every waiting request looks again (each on its own loop)."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, woken in waiters:
            if loop.is_closed():
                continue
            try:
                loop.call_soon_threadsafe(_resolve, woken)
            except RuntimeError:  # the loop closed meanwhile
                pass

    # ---------------------------------------------------------------- bounds

    def minimum_seconds(self, group: str, requests: int) -> float:
        """The least time ``requests`` of one group and key need under these limits."""
        windows = self.limits.get(group) or ()
        best = 0.0
        for span, allowed in windows:
            if requests > allowed:
                best = max(best, ((requests - 1) // allowed) * span)
        return best


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_SHARED: dict[str, RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def limiter_for(base_url: str) -> RateLimiter:
    """The process-wide limiter of a KSeF host (limits count per IP, so per process and host)."""
    from urllib.parse import urlsplit

    host = urlsplit(base_url).netloc or base_url
    with _SHARED_LOCK:
        limiter = _SHARED.get(host)
        if limiter is None:
            limiter = _SHARED[host] = RateLimiter()
        return limiter


__all__ = ["AUTH", "OTHER", "PRODUCTION_LIMITS", "Permit", "RateLimiter", "group_for", "limiter_for"]
