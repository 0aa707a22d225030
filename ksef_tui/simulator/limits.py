"""Limits (PROTOCOL.md §8, §18): request limits and 429, ``/rate-limits``, ``/limits/*``, ``/testdata/*limits*``."""

from __future__ import annotations

from typing import Any

from . import validation as v
from .core import Area, Caller, SimulatorCore, context_key, locked
from .ratelimit import ANONYMOUS, OVERRIDABLE_GROUPS, PRODUCTION_LIMITS, Decision, group_for
from .sessions import SessionsArea

#: ``EffectiveContextLimits`` defaults (the spec's example): sessions and collective identifiers.
DEFAULT_CONTEXT_LIMITS: dict[str, dict[str, int]] = {
    "onlineSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
    "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
    "collectiveIdentifier": {"maxInvoices": 500},
}
#: Bounds of ``SetSessionLimitsRequest`` per group and field: (minimum, maximum).
_SESSION_LIMIT_BOUNDS: dict[str, dict[str, tuple[int, int]]] = {
    "onlineSession": {"maxInvoiceSizeInMB": (0, 5), "maxInvoiceWithAttachmentSizeInMB": (0, 10),
                      "maxInvoices": (0, 100000)},
    "batchSession": {"maxInvoiceSizeInMB": (0, 5), "maxInvoiceWithAttachmentSizeInMB": (0, 10),
                     "maxInvoices": (0, 100000)},
    "collectiveIdentifier": {"maxInvoices": (2, 5000)},
}
_INT32_MAX = 2**31 - 1
#: ``ApiRateLimitValuesOverride``: -1 is "no limit in this window" (as in the effective limits).
_RATE_LIMIT_BOUNDS = {
    group: {window: (-1, _INT32_MAX) for window in ("perSecond", "perMinute", "perHour")}
    for group in OVERRIDABLE_GROUPS
}


def _subject_key(subject: tuple[str, str]) -> str:
    return f"{subject[0]}:{subject[1]}"


def _integer_table(
    body: dict[str, Any], bounds: dict[str, dict[str, tuple[int, int]]], prefix: str = ""
) -> dict[str, dict[str, int]]:
    """``{group: {field: int}}`` with every group and field of ``bounds`` required and in range."""
    parsed: dict[str, dict[str, int]] = {}
    for group, fields in bounds.items():
        values = v.require_object(body.get(group), f"{prefix}{group}")
        parsed[group] = {}
        for name, (low, high) in fields.items():
            value = values.get(name)
            if not v.is_int(value) or not low <= value <= high:
                raise v.invalid(f"Pole '{prefix}{group}.{name}' musi być liczbą całkowitą z zakresu {low}-{high}.")
            parsed[group][name] = value
    return parsed


class LimitsArea(Area):
    """Request limits per context (with their test-data overrides), context and subject limits."""

    def __init__(self, core: SimulatorCore, sessions: SessionsArea) -> None:
        super().__init__(core)
        self.sessions = sessions

    # -- request limits ------------------------------------------------------------------------
    @locked
    def effective_rate_limits(self, context: str | None) -> dict[str, dict[str, int]]:
        """Limits per group for a context key (``None``: the production values)."""
        override = self.state.rate_limit_overrides.get(context or "") or {}
        return {group: dict(override.get(group, values)) for group, values in PRODUCTION_LIMITS.items()}

    def check_rate_limit(self, path: str, client_ip: str, bearer: str | None) -> Decision:
        """Count a request against its group's limit (and the per-IP ``global`` one if configured)."""
        if not self.core.rate_limits_enabled:
            return Decision(True)
        now = self.now().timestamp()
        if self.config.global_rate_limit:
            decision = self.core.limiter.hit(client_ip, "global", PRODUCTION_LIMITS["global"], now)
            if not decision.allowed:
                return decision
        group = group_for(path)
        # protected endpoints count per (context, IP), public ones per IP (PROTOCOL.md §8)
        context = self.sessions.context_key_for_bearer(bearer)
        key = f"{context}|{client_ip}" if context else client_ip
        limits = PRODUCTION_LIMITS[ANONYMOUS] if group == ANONYMOUS else self.effective_rate_limits(context)[group]
        return self.core.limiter.hit(key, group, limits, now)

    @locked
    def rate_limits(self, caller: Caller) -> dict[str, dict[str, int]]:
        """``GET /rate-limits`` for the caller's context (``EffectiveApiRateLimits``)."""
        return self.effective_rate_limits(context_key(*caller.context))

    @locked
    def set_rate_limits(self, caller: Caller, body: Any) -> None:
        """``POST /testdata/rate-limits``: every group of ``ApiRateLimitsOverride`` is required."""
        limits = v.require_object(v.require_object(body).get("rateLimits"), "rateLimits")
        parsed = _integer_table(limits, _RATE_LIMIT_BOUNDS, "rateLimits.")
        self.state.rate_limit_overrides[context_key(*caller.context)] = parsed

    @locked
    def reset_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides.pop(context_key(*caller.context), None)

    @locked
    def production_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides[context_key(*caller.context)] = {
            g: dict(PRODUCTION_LIMITS[g]) for g in OVERRIDABLE_GROUPS
        }

    # -- /limits/context and /testdata/limits/context/session ----------------------------------
    @locked
    def context_limits(self, caller: Caller) -> dict[str, dict[str, int]]:
        """``GET /limits/context`` (``EffectiveContextLimits``)."""
        override = self.state.context_limit_overrides.get(context_key(*caller.context)) or {}
        return {group: dict(override.get(group, values)) for group, values in DEFAULT_CONTEXT_LIMITS.items()}

    @locked
    def set_context_limits(self, caller: Caller, body: Any) -> None:
        parsed = _integer_table(v.require_object(body), _SESSION_LIMIT_BOUNDS)
        self.state.context_limit_overrides[context_key(*caller.context)] = parsed

    @locked
    def reset_context_limits(self, caller: Caller) -> None:
        self.state.context_limit_overrides.pop(context_key(*caller.context), None)

    # -- /limits/subject and /testdata/limits/subject/certificate ------------------------------
    @locked
    def subject_limits(self, subject: tuple[str, str]) -> tuple[int, int]:
        """(enrollment requests, active certificates) allowed to an identity."""
        enrollments, certificates = self.config.certificate_limits.get(subject[0], (12, 6))
        override = self.state.subject_limit_overrides.get(_subject_key(subject)) or {}
        return override.get("maxEnrollments", enrollments), override.get("maxCertificates", certificates)

    @locked
    def effective_subject_limits(self, caller: Caller) -> dict[str, Any]:
        """``GET /limits/subject`` (``EffectiveSubjectLimits``) of the caller's identity."""
        if caller.subject is None:
            return {}
        enrollments, certificates = self.subject_limits(caller.subject)
        return {"enrollment": {"maxEnrollments": enrollments}, "certificate": {"maxCertificates": certificates}}

    def _own_subject(self, caller: Caller, body: dict[str, Any]) -> tuple[str, str]:
        kind = v.string(body, "subjectIdentifierType", required=False, choices=("Nip", "Pesel", "Fingerprint"))
        subject = caller.subject
        if subject is None:
            raise v.invalid("Bieżący podmiot nie ma identyfikatora (Nip, Pesel, Fingerprint).")
        if kind is not None and kind != subject[0]:
            raise v.invalid(f"Pole 'subjectIdentifierType' ({kind}) nie zgadza się z bieżącym podmiotem ({subject[0]}).")
        return subject

    @locked
    def set_subject_limits(self, caller: Caller, body: Any) -> None:
        body = v.require_object(body)
        subject = self._own_subject(caller, body)
        override: dict[str, int] = {}
        for group, name in (("enrollment", "maxEnrollments"), ("certificate", "maxCertificates")):
            values = body.get(group)
            if values is None:
                continue
            value = v.require_object(values, group).get(name)
            if value is None:
                continue
            if not v.is_int(value) or not 0 <= value <= _INT32_MAX:
                raise v.invalid(f"Pole '{group}.{name}' musi być nieujemną liczbą całkowitą.")
            override[name] = value
        self.state.subject_limit_overrides[_subject_key(subject)] = override

    @locked
    def reset_subject_limits(self, caller: Caller) -> None:
        if caller.subject is not None:
            self.state.subject_limit_overrides.pop(_subject_key(caller.subject), None)
