"""The one clock of the app: a callable returning an aware UTC ``datetime``.

Everything that depends on the date or the time takes a :data:`Clock` (the front ends carry one in
``AppContext.clock``); :func:`system_clock` is the only place that reads the computer's clock, and
the only default. Tests pass :func:`fixed_clock` instead, so no test depends on the day it runs.

Calendar days (a token's last day, "days left") are KSeF's days: the date in Poland
(:func:`ksef_day`), whatever the computer's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache

#: ``clock()`` -> an aware datetime in UTC
Clock = Callable[[], dt.datetime]


#: how far the app's clock runs from the computer's: zero in the app, which never changes it; the test
#: suite sets it (tests/conftest.py, ``KSEF_TUI_TEST_DAY=YYYY-MM-DD``) to run whole on another day
shift = dt.timedelta(0)


def system_clock() -> dt.datetime:
    """Now, from the computer's clock (aware, UTC). The app's only reading of the real time."""
    return dt.datetime.now(dt.UTC) + shift


def fixed_clock(at: dt.datetime | dt.date | str) -> Clock:
    """A clock that always says ``at`` (a datetime, a date at noon UTC, or an ISO string)."""
    moment = as_moment(at)
    return lambda: moment


def as_moment(at: dt.datetime | dt.date | str) -> dt.datetime:
    """``at`` as an aware UTC datetime: a date means noon UTC of that day; a naive time is UTC."""
    if isinstance(at, str):
        text = at.strip().replace("Z", "+00:00")
        at = dt.datetime.fromisoformat(text) if "T" in text or " " in text else dt.date.fromisoformat(text)
    if not isinstance(at, dt.datetime):
        return dt.datetime.combine(at, dt.time(12), dt.UTC)
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


@lru_cache(maxsize=1)
def _poland() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Warsaw")
    except Exception:  # no time zone data on this system: UTC is at most two hours off
        return dt.UTC


def ksef_day(moment: dt.datetime) -> dt.date:
    """The calendar day in Poland at ``moment`` (KSeF's dates are Polish dates)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_poland()).date()


def today(clock: Clock) -> dt.date:
    """KSeF's day now, by ``clock``."""
    return ksef_day(clock())
