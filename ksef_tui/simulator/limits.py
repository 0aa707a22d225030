"""Request limits (429) and the limit endpoints: ``/rate-limits``, ``/testdata/rate-limits*`` (PROTOCOL.md §8)."""

from __future__ import annotations

from typing import Any

from . import validation as v
from .core import Area, Caller, SimulatorCore, context_key, locked
from .ratelimit import FAST_LIMIT, PRODUCTION_LIMITS, Decision, group_for
from .sessions import SessionsArea


class LimitsArea(Area):
    """Effective request limits per context, their test-data overrides, and enforcement."""

    def __init__(self, core: SimulatorCore, sessions: SessionsArea) -> None:
        super().__init__(core)
        self.sessions = sessions

    @locked
    def effective_rate_limits(self, context: str | None) -> dict[str, dict[str, int]]:
        """Limits per group for a context key (``None``: the production values)."""
        override = self.state.rate_limit_overrides.get(context or "")
        return {group: dict((override or PRODUCTION_LIMITS).get(group, values))
                for group, values in PRODUCTION_LIMITS.items()}

    def check_rate_limit(self, path: str, client_ip: str, bearer: str | None) -> Decision:
        if not self.core.rate_limits_enabled:
            return Decision(True)
        group = group_for(path)
        context = self.sessions.context_key_for_bearer(bearer)
        key = f"{context}|{client_ip}" if context else client_ip
        limits = FAST_LIMIT if group == "fast" else self.effective_rate_limits(context)[group]
        return self.core.limiter.hit(key, group, limits, self.now().timestamp())

    @locked
    def rate_limits(self, caller: Caller) -> dict[str, dict[str, int]]:
        """``GET /rate-limits`` for the caller's context."""
        return self.effective_rate_limits(context_key(*caller.context))

    @locked
    def set_rate_limits(self, caller: Caller, body: Any) -> None:
        body = v.require_object(body)
        limits = v.require_object(body.get("rateLimits"), "rateLimits")
        parsed: dict[str, dict[str, int]] = {}
        for group in PRODUCTION_LIMITS:
            values = v.require_object(limits.get(group), group)
            parsed[group] = {}
            for name in ("perSecond", "perMinute", "perHour"):
                value = values.get(name)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise v.invalid(f"Pole '{group}.{name}' musi być nieujemną liczbą całkowitą.")
                parsed[group][name] = value
        self.state.rate_limit_overrides[context_key(*caller.context)] = parsed

    @locked
    def reset_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides.pop(context_key(*caller.context), None)

    @locked
    def production_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides[context_key(*caller.context)] = {
            g: dict(values) for g, values in PRODUCTION_LIMITS.items()
        }
