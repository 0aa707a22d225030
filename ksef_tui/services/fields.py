"""Rules every text field a user or a file gives shares: no control characters (they would reach a
terminal as escape sequences), keys cut to their column's length."""

from __future__ import annotations

from ksef_tui.domain.untrusted import describe_control, first_control
from ksef_tui.i18n import _


def control_problem(value: str | None, *, multiline: bool = False) -> str | None:
    """A message when ``value`` holds a control character (line breaks and tabs allowed with
    ``multiline``), naming it and its position; None when the text is clean."""
    if not value:
        return None
    at = first_control(value, allow="\n\t" if multiline else "")
    if at is None:
        return None
    return _("The text holds a control character ({code}) at character {pos}; remove it.").format(
        code=describe_control(value[at]), pos=at + 1)


def key(text: str, length: int) -> str:
    """A derived search or sort key cut to its column's length (PostgreSQL refuses a longer value; a
    name of 250 letters ż has a 750-character sort key)."""
    return text[:length]
