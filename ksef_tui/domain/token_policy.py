"""When a KSeF token stops working: the end date of tokens as data, never as a constant.

The regulation (Dz.U. 2025 poz. 1815, §13 ust. 1 pkt 1) still names 31 Dec 2026 as the last day
tokens may be used; MF announced that tokens stay, and CIRF said (CIRFMF/ksef-api#834, 10 Sep 2026)
that tokens issued by 31 Dec 2026 keep working with their validity capped at 30 Nov 2027, while
new-rule tokens from 1 Jan 2027 carry a validity of 1-365 days (PROTOCOL.md §10). So:

* a per-token ``validTo`` from KSeF, when it gives one, wins;
* else a token issued before 2027 ends on the policy's last day (default 30 Nov 2027), which the
  office may change (the settings file, or ``KSEF_TUI_TOKEN_LAST_DAY``);
* else (a new-rule token KSeF gave no date for) it ends at most 365 days after it was issued.

Nothing is revoked or switched on a date by itself: these are facts to show and to warn about.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from ksef_tui.domain.clock import ksef_day

#: the last day the regulation names (still in force as of the source below)
REGULATION_LAST_DAY = dt.date(2026, 12, 31)
#: the announced cap for tokens issued before 2027 (CIRF, CIRFMF/ksef-api#834)
ANNOUNCED_LAST_DAY = dt.date(2027, 11, 30)
#: the date of that announcement
ANNOUNCED_ON = dt.date(2026, 9, 10)
#: new-rule tokens (with a validity of their own) from this day
NEW_RULES_FROM = dt.date(2027, 1, 1)
#: the longest validity of a new-rule token
NEW_RULE_MAX_DAYS = 365
#: the environment variable that overrides the policy's last day
LAST_DAY_ENV = "KSEF_TUI_TOKEN_LAST_DAY"


class PolicyOrigin(str, enum.Enum):
    """Where the policy's last day was set."""

    DEFAULT = "default"  # the announcement above
    SETTINGS = "settings"  # the office's settings file (or the panel, which writes it)
    ENVIRONMENT = "environment"  # KSEF_TUI_TOKEN_LAST_DAY


class TokenEndBasis(str, enum.Enum):
    """What a token's end date rests on."""

    KSEF = "ksef"  # KSeF's own validTo for this token
    POLICY = "policy"  # the policy's last day (a token issued before 2027)
    NEW_RULES = "new-rules"  # at most 365 days from issue (a new-rule token without a date from KSeF)


@dataclass(frozen=True)
class TokenEnd:
    """The effective last day of one token, and what it rests on."""

    last_day: dt.date
    basis: TokenEndBasis

    def days_left(self, today: dt.date) -> int:
        """Days on which the token still works, today included (0 or less once it has ended)."""
        return (self.last_day - today).days + 1

    def ended(self, today: dt.date) -> bool:
        return today > self.last_day

    def within(self, today: dt.date, days: int) -> bool:
        """Stops working within ``days`` days from today (or has already stopped)."""
        return self.days_left(today) <= days

    @property
    def by_policy(self) -> bool:
        return self.basis is not TokenEndBasis.KSEF


@dataclass(frozen=True)
class TokenPolicy:
    """The office's token end date with its source; :meth:`end_of` applies it to one token."""

    last_day: dt.date = ANNOUNCED_LAST_DAY
    origin: PolicyOrigin = PolicyOrigin.DEFAULT
    #: the office's own words for where the date comes from ("" for the default announcement)
    source: str = ""
    #: the date of that source (the announcement's, for the default)
    source_date: dt.date | None = ANNOUNCED_ON

    @property
    def is_default(self) -> bool:
        return self.origin is PolicyOrigin.DEFAULT

    def end_of(self, *, valid_to: dt.datetime | dt.date | None = None,
               issued_on: dt.date | None = None) -> TokenEnd:
        """The effective end of a token: KSeF's ``valid_to`` if given, else by the policy."""
        if valid_to is not None:
            day = ksef_day(valid_to) if isinstance(valid_to, dt.datetime) else valid_to
            return TokenEnd(day, TokenEndBasis.KSEF)
        if issued_on is None or issued_on < NEW_RULES_FROM:
            return TokenEnd(self.last_day, TokenEndBasis.POLICY)
        return TokenEnd(issued_on + dt.timedelta(days=NEW_RULE_MAX_DAYS - 1), TokenEndBasis.NEW_RULES)

    def ended(self, today: dt.date) -> bool:
        """Tokens issued before 2027 (with no date of their own) no longer work by this policy."""
        return today > self.last_day

    def with_last_day(self, last_day: dt.date, *, origin: PolicyOrigin, source: str = "",
                      source_date: dt.date | None = None) -> TokenPolicy:
        return replace(self, last_day=last_day, origin=origin, source=source.strip(), source_date=source_date)


DEFAULT_POLICY = TokenPolicy()


class InvalidLastDay(ValueError):
    """A last day that is not a date (``YYYY-MM-DD``), or one before tokens could exist."""


#: tokens of API 2.0 exist from the TEST launch; an end date before it is a typo
EARLIEST_LAST_DAY = dt.date(2025, 9, 30)


def parse_last_day(text: str) -> dt.date:
    """``YYYY-MM-DD`` as a date, or :class:`InvalidLastDay`."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidLastDay(f"not a date in the form YYYY-MM-DD: {text!r}") from None
    if day < EARLIEST_LAST_DAY:
        raise InvalidLastDay(f"{day.isoformat()} is before KSeF API 2.0 tokens existed")
    return day


def issued_on_from_reference(reference_number: str | None) -> dt.date | None:
    """The day a KSeF token was issued, from its reference number (``YYYYMMDD-XX-...``), if readable."""
    if not reference_number or len(reference_number) < 9 or reference_number[8] != "-":
        return None
    try:
        return dt.datetime.strptime(reference_number[:8], "%Y%m%d").date()
    except ValueError:
        return None
