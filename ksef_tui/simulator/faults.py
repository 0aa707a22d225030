"""Fault injection, configured from Python per test: latency, error statuses, dropped connections, 429."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """One rule; ``path`` is a glob over the path below ``/v2`` (e.g. ``/auth/*``)."""

    path: str = "*"
    method: str | None = None
    #: answer with this HTTP status instead of calling the endpoint
    status: int | None = None
    #: answer 400 with this KSeF exception code (e.g. 21184, "session temporarily unavailable")
    code: int | None = None
    #: the exception's ``details`` (with ``code``)
    details: list[str] = field(default_factory=list)
    #: with ``status=429`` (or alone): the ``Retry-After`` header value
    retry_after: int | None = None
    #: close the connection without any response
    drop: bool = False
    #: sleep this long before handling (added latency)
    latency_s: float = 0.0
    #: apply to this many matching calls, then expire (``None`` = forever)
    times: int | None = None
    #: apply to this fraction of matching calls (0..1)
    probability: float = 1.0
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass
class FaultAction:
    latency_s: float = 0.0
    status: int | None = None
    code: int | None = None
    details: list[str] = field(default_factory=list)
    retry_after: int | None = None
    drop: bool = False


class FaultInjector:
    """Thread-safe list of fault rules consulted before every request."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    # -- configuration -------------------------------------------------------------------------
    def add(self, rule: FaultRule | None = None, /, **kwargs: object) -> FaultRule:
        rule = rule or FaultRule(**kwargs)  # type: ignore[arg-type]
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(self, path: str = "*", status: int = 503, *, times: int | None = 1,
             probability: float = 1.0, method: str | None = None) -> FaultRule:
        """Answer ``status`` (e.g. 500/502/503) for the next ``times`` calls (or a fraction)."""
        return self.add(path=path, status=status, times=times, probability=probability, method=method)

    def error(self, path: str = "*", code: int = 21184, details: list[str] | None = None, *,
              times: int | None = 1, method: str | None = None) -> FaultRule:
        """Answer 400 with KSeF exception ``code`` (legacy or Problem Details, as the client asks)."""
        return self.add(path=path, code=code, details=list(details or []), times=times, method=method)

    def drop(self, path: str = "*", *, times: int | None = 1, method: str | None = None) -> FaultRule:
        """Close the connection without a response for the next ``times`` calls."""
        return self.add(path=path, drop=True, times=times, method=method)

    def throttle(self, path: str = "*", retry_after: int = 1, *, times: int | None = 1,
                 method: str | None = None) -> FaultRule:
        """Answer 429 with ``Retry-After: retry_after`` for the next ``times`` calls."""
        return self.add(path=path, status=429, retry_after=retry_after, times=times, method=method)

    def delay(self, path: str = "*", seconds: float = 0.1, *, times: int | None = None,
              method: str | None = None) -> FaultRule:
        """Add latency to matching calls."""
        return self.add(path=path, latency_s=seconds, times=times, method=method)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    # -- evaluation ----------------------------------------------------------------------------
    def next_action(self, method: str, path: str) -> FaultAction | None:
        action = FaultAction()
        fired = False
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.hits += 1
                if rule.times is not None and rule.hits >= rule.times:
                    self._rules.remove(rule)
                fired = True
                action.latency_s += rule.latency_s
                if rule.drop:
                    action.drop = True
                if action.status is not None or action.code is not None:
                    continue  # the first rule that answers decides the answer
                if rule.code is not None:
                    action.code, action.details = rule.code, list(rule.details)
                elif rule.status is not None:
                    action.status = rule.status
                    action.retry_after = rule.retry_after
                elif rule.retry_after is not None:
                    action.status, action.retry_after = 429, rule.retry_after
        return action if fired else None
