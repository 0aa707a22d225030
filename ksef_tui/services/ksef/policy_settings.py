"""The office changes the token end date: the token policy in the settings file, from the panel.

Only an administrator may change it; the change is audited; the settings file is written atomically
(0600) through :func:`ksef_tui.settings.save_settings`. ``KSEF_TUI_TOKEN_LAST_DAY``, when set, still
wins over the file (the caller is told). Nothing is revoked or switched because of the date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ksef_tui.domain.token_policy import DEFAULT_POLICY, InvalidLastDay, PolicyOrigin, TokenPolicy, parse_last_day
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database

SOURCE_MAX = 200


@dataclass(frozen=True)
class PolicyChange:
    """What saving gave: the policy now in force, and whether the environment variable overrides the file."""

    policy: TokenPolicy
    overridden_by_environment: bool
    settings_file: str


def _day(text: str, field: str, *, last_day: bool) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse_last_day(text) if last_day else dt.date.fromisoformat(text)
    except (InvalidLastDay, ValueError):
        raise ValidationFailed({field: _("Write the date as YYYY-MM-DD, e.g. 2027-11-30.")}) from None


def set_token_policy(db: Database, actor: Actor, last_day: str, source: str = "", source_date: str = "", *,
                     today: dt.date) -> PolicyChange:
    """Save the office's token policy (``last_day`` empty: back to the announced default)."""
    from ksef_tui.settings import SettingsError, get_settings, save_settings, with_token_policy

    require_admin(actor)
    day = _day(last_day, "last_day", last_day=True)
    when = _day(source_date, "source_date", last_day=False)
    source = " ".join((source or "").split())
    if len(source) > SOURCE_MAX:
        raise ValidationFailed({"source": _("Say where the date comes from in at most 200 characters.")})
    if when is not None and when > today:
        raise ValidationFailed({"source_date": _("The date of the source cannot be in the future.")})
    if day is not None and not source:
        raise ValidationFailed({"source": _("Say where the date comes from (e.g. the Ministry's announcement), "
                                            "so everyone sees why tokens end then.")})
    settings = get_settings()
    before = settings.token_policy
    try:
        fresh = save_settings(settings, with_token_policy(settings.file_values, day, source, when))
    except SettingsError as exc:
        raise ServiceError(exc.message()) from None
    after = fresh.token_policy
    with db.session() as s:
        audit.record(s, [audit.audit_values(
            actor, "settings.token_policy", "settings", None, "token policy",
            {"last_day": before.last_day.isoformat(), "origin": before.origin.value, "source": before.source or None},
            {"last_day": (day or DEFAULT_POLICY.last_day).isoformat(),
             "origin": PolicyOrigin.SETTINGS.value if day else PolicyOrigin.DEFAULT.value,
             "source": source or None, "source_date": when.isoformat() if when else None})])
    return PolicyChange(after, after.origin is PolicyOrigin.ENVIRONMENT, str(fresh.settings_file))
