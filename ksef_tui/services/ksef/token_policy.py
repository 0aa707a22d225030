"""Every text that names the end date of KSeF tokens, made from the office's :class:`TokenPolicy`.

The dashboard's title, the token form's notice, ``ksef check`` and the status lines all say the
date through these functions, so they always agree with the policy and name its source. Dates are
written day-first in the user's language ("30 Nov 2027", "30 lis 2027").
"""

from __future__ import annotations

import datetime as dt

from ksef_tui.domain.token_policy import (
    REGULATION_LAST_DAY,
    PolicyOrigin,
    TokenEnd,
    TokenEndBasis,
    TokenPolicy,
)
from ksef_tui.i18n import _, ngettext


def month_name(month: int) -> str:
    """A month's short name in the user's language (1 = January)."""
    names = {
        1: _("Jan"), 2: _("Feb"), 3: _("Mar"), 4: _("Apr"), 5: _("May"), 6: _("Jun"),
        7: _("Jul"), 8: _("Aug"), 9: _("Sep"), 10: _("Oct"), 11: _("Nov"), 12: _("Dec"),
    }
    return names[month]


def day_text(day: dt.date) -> str:
    """``30 Nov 2027`` (``30 lis 2027`` in Polish)."""
    return f"{day.day} {month_name(day.month)} {day.year}"


def month_text(day: dt.date) -> str:
    """``Sep 2026`` (``wrz 2026``)."""
    return f"{month_name(day.month)} {day.year}"


def source_text(policy: TokenPolicy, *, long: bool = True) -> str:
    """Where the policy's date comes from. ``long`` adds what the regulation still says."""
    if policy.origin is PolicyOrigin.ENVIRONMENT:
        return _("set by KSEF_TUI_TOKEN_LAST_DAY")
    if policy.origin is PolicyOrigin.SETTINGS:
        when = f", {day_text(policy.source_date)}" if policy.source_date else ""
        if policy.source:
            return _("set by the office: {source}{when}").format(source=policy.source, when=when)
        return _("set by the office{when}").format(when=when)
    announced = month_text(policy.source_date) if policy.source_date else ""
    if long:
        return _("announced by MF, {when}; the regulation still says {regulation}").format(
            when=announced, regulation=day_text(REGULATION_LAST_DAY))
    return _("announced by MF, {when}").format(when=announced)


def policy_line(policy: TokenPolicy, today: dt.date | None = None, *, long: bool = True) -> str:
    """One sentence: which tokens end when, and why (in the past tense once ``today`` is after it)."""
    if today is not None and policy.ended(today):
        return _("By the token policy, KSeF tokens issued before 2027 stopped working after {day} ({source}).").format(
            day=day_text(policy.last_day), source=source_text(policy, long=long))
    return _("KSeF tokens issued before 2027 work until {day} ({source}).").format(
        day=day_text(policy.last_day), source=source_text(policy, long=long))


def days_text(days: int) -> str:
    return ngettext("{n} day left", "{n} days left", days).format(n=days)


def token_end_text(end: TokenEnd, today: dt.date) -> str:
    """A token's end in a few words: "until 30 Nov 2027 (362 days left)", or "expired by policy on ..."."""
    if end.ended(today):
        if end.basis is TokenEndBasis.KSEF:
            return _("expired on {day} (validity set by KSeF)").format(day=day_text(end.last_day))
        return _("expired by policy on {day}").format(day=day_text(end.last_day))
    return _("until {day} ({left})").format(day=day_text(end.last_day), left=days_text(end.days_left(today)))


def tokens_notice(policy: TokenPolicy, today: dt.date) -> str:
    """The notice shown with token login: until when tokens work, by whose word, and what to do."""
    source = source_text(policy)
    if policy.ended(today):
        return _("By the token policy, KSeF tokens issued before 2027 stopped working after {day} "
                 "({source}); a token with its own validity from KSeF keeps it. Use a KSeF certificate.").format(
            day=day_text(policy.last_day), source=source)
    return _("KSeF tokens issued before 2027 work until {day}, {left} ({source}). "
             "A KSeF certificate does not depend on this date.").format(
        day=day_text(policy.last_day), left=days_text((policy.last_day - today).days + 1), source=source)


def policy_json(policy: TokenPolicy) -> dict[str, str | None]:
    """The policy for scripts (``ksef check --json``): ISO dates, the source in words."""
    return {"last_day": policy.last_day.isoformat(), "source": source_text(policy, long=False),
            "origin": policy.origin.value,
            "source_date": policy.source_date.isoformat() if policy.source_date else None}
