"""Sliding-window request limits of PROTOCOL.md §8 (1 s, 60 s, 1 h windows).

Limits count per IP for public endpoints and per (context, IP) for protected ones; the first
window exceeded blocks the call with 429 and an integer ``Retry-After``.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from dataclasses import dataclass

WINDOWS = (("perSecond", 1.0, "sekundę"), ("perMinute", 60.0, "minutę"), ("perHour", 3600.0, "godzinę"))

#: Production values per group: ``EffectiveApiRateLimits`` of the 2.9 spec (its example, PROTOCOL.md
#: §8 and §18). ``-1`` means "no limit in this window".
PRODUCTION_LIMITS: dict[str, dict[str, int]] = {
    "onlineSession": {"perSecond": 10, "perMinute": 30, "perHour": 120},
    "onlineSessionClose": {"perSecond": 20, "perMinute": 60, "perHour": 240},
    "batchSession": {"perSecond": 10, "perMinute": 20, "perHour": 60},
    "batchSessionClose": {"perSecond": 20, "perMinute": 40, "perHour": 120},
    "invoiceSend": {"perSecond": 10, "perMinute": 30, "perHour": 180},
    "invoiceStatus": {"perSecond": 30, "perMinute": 120, "perHour": 1200},
    "sessionList": {"perSecond": 5, "perMinute": 10, "perHour": 60},
    "sessionInvoiceList": {"perSecond": 10, "perMinute": 20, "perHour": 200},
    "sessionMisc": {"perSecond": 10, "perMinute": 120, "perHour": 1200},
    "invoiceMetadata": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExport": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExportStatus": {"perSecond": 10, "perMinute": 60, "perHour": 600},
    "invoiceDownload": {"perSecond": 8, "perMinute": 16, "perHour": 64},
    "collectiveIdentifier": {"perSecond": 20, "perMinute": 120, "perHour": 240},
    "other": {"perSecond": 10, "perMinute": 30, "perHour": 120},
    "anonymous": {"perSecond": 60, "perMinute": -1, "perHour": -1},
    "global": {"perSecond": 75, "perMinute": -1, "perHour": -1},
}
#: Groups ``POST /testdata/rate-limits`` sets (``ApiRateLimitsOverride``); the others keep production values.
OVERRIDABLE_GROUPS = (
    "onlineSession",
    "batchSession",
    "invoiceSend",
    "invoiceStatus",
    "sessionList",
    "sessionInvoiceList",
    "sessionMisc",
    "invoiceMetadata",
    "invoiceExport",
    "invoiceExportStatus",
    "invoiceDownload",
    "collectiveIdentifier",
    "other",
)
#: Endpoints limited only per second, per IP (``x-rate-limits`` 60/s, no group in the spec).
ANONYMOUS = "anonymous"

_FAST_PATHS = [
    r"/auth/challenge",
    r"/auth/xades-signature",
    r"/auth/ksef-token",
    r"/auth/token/redeem",
    r"/auth/token/refresh",
    r"/security/public-key-certificates",
    (
        r"/testdata/(subject|subject/remove|person|person/remove|permissions|permissions/revoke"
        r"|attachment|attachment/revoke)"
    ),
    r"/auth/(?!sessions)[^/]+",
]
_FAST = re.compile("^(" + "|".join(_FAST_PATHS) + ")$")


def group_for(path: str) -> str:
    """Limit group of a path relative to ``/v2`` (``anonymous`` = 60 req/s, else ``other``)."""
    return ANONYMOUS if _FAST.match(path) else "other"


@dataclass
class Decision:
    allowed: bool
    retry_after: int = 0
    detail: str = ""


class SlidingWindowLimiter:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def hit(self, key: str, group: str, limits: dict[str, int], now: float) -> Decision:
        """Record a request at ``now`` (seconds) unless a window is full."""
        with self._lock:
            hits = self._hits.setdefault((key, group), deque())
            while hits and hits[0] <= now - 3600.0:
                hits.popleft()
            for name, span, label in WINDOWS:
                limit = limits.get(name)
                if limit is None or limit < 0:
                    continue
                in_window = [t for t in hits if t > now - span]
                if len(in_window) >= limit:
                    # The oldest counted request must leave the window before another fits.
                    wait = in_window[len(in_window) - limit] + span - now
                    retry = max(1, math.ceil(wait))
                    detail = (
                        f"Przekroczono limit {limit} żądań na {label}. "
                        f"Spróbuj ponownie po {retry} sekundach."
                    )
                    return Decision(False, retry, detail)
            hits.append(now)
            return Decision(True)
