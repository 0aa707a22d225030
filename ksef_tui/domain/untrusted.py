"""The one rule for untrusted text: everything that did not come from our own code (names, CSV fields,
file names, certificate subjects, KSeF and server messages) is shown as plain text with its control
characters made visible, and never parsed as markup.

A terminal obeys control characters: ``ESC ] 52`` writes the clipboard, ``ESC ] 2`` the window title,
``ESC [ 2 J`` blanks the screen, a carriage return overwrites the line. :func:`visible` replaces every
one of them by a harmless visible sign (ESC → ``␛``), so text can be printed to a terminal (the CLI) or
drawn by Textual (the panel, as ``Content``/``Text``, never as markup) whatever its origin.
:func:`first_control` finds the first such character, for inputs that refuse them (line and column named).
:func:`csv_cell` neutralises a cell that a spreadsheet would run as a formula (OWASP CSV injection).

Pure: every layer may use it.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"

# C0 controls become the Unicode "control pictures" (U+2400 + code: NUL → ␀, ESC → ␛), DEL → ␡
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
_TABLE[0x7F] = "\u2421"
# C1 controls (some terminals obey U+009B as CSI), and the bidirectional overrides and isolates that
# reorder what is shown (a file name can look like another, "Trojan source"); U+2028/9 break lines
for _c in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029):
    _TABLE[_c] = REPLACEMENT
del _c

_MULTILINE = dict(_TABLE)
del _MULTILINE[0x0A], _MULTILINE[0x09]  # line breaks and tabs stay in text that may have several lines

#: every control character and the one visible character that stands for it (one for one: a text's length
#: and offsets do not change, so a renderer's style spans stay where they were)
CONTROL_PICTURES: dict[int, str] = dict(_TABLE)

#: the characters a spreadsheet runs as the start of a formula (OWASP: CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def visible(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control character replaced by a visible sign (ESC → ``␛``, tab → ``␉``).

    ``multiline`` keeps line breaks and tabs (``\\n``, ``\\t``); a carriage return is always made visible."""
    if text is None:
        return ""
    return str(text).translate(_MULTILINE if multiline else _TABLE)


def is_control(char: str) -> bool:
    return ord(char) in _TABLE


def first_control(text: str, *, allow: str = "") -> int | None:
    """The index of the first control character in ``text`` not in ``allow``, or None."""
    for i, ch in enumerate(text):
        if ord(ch) in _TABLE and ch not in allow:
            return i
    return None


def describe_control(char: str) -> str:
    """How a control character is named in a message: ``U+001B`` (never the character itself)."""
    return f"U+{ord(char):04X}"


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet never runs as a formula and a terminal never obeys.

    A cell starting with ``= + - @``, tab or CR gets a leading apostrophe (OWASP); control characters
    are made visible (line breaks and tabs are kept: the CSV quoting carries them)."""
    text = visible(value, multiline=True)
    return "'" + text if text[:1] in FORMULA_STARTS else text
