"""Text keys for searching and sorting names with Polish letters."""

from __future__ import annotations

import unicodedata

_POLISH = str.maketrans({"ł": "l", "Ł": "l"})


def search_key(text: str) -> str:
    """Case- and diacritic-insensitive form: ``Łódź`` and ``lodz`` meet."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_POLISH).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_SORT = {
    "ą": "a\x7f", "ć": "c\x7f", "ę": "e\x7f", "ł": "l\x7f", "ń": "n\x7f",
    "ó": "o\x7f", "ś": "s\x7f", "ź": "z\x7f", "ż": "z\x7f\x7f",
}
_SORT_TABLE = str.maketrans(_SORT)


def sort_key(text: str) -> str:
    """Binary-comparable key in Polish alphabetical order (a < ą < b … z < ź < ż)."""
    return text.casefold().translate(_SORT_TABLE)


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching ``text`` anywhere, wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
