"""What reaches the terminal and what comes from it, made safe for untrusted text.

Out: Textual's ``Content`` and Rich's ``Text`` drop five control characters (BEL, BS, VT, FF, CR) from
the text they draw and pass every other one to the terminal: a company name, a file name, a
certificate subject or a KSeF message holding ``ESC ] 52`` wrote the clipboard, ``ESC ] 2`` the window
title, ``ESC [ 2 J`` blanked the screen. :func:`draw_control_characters_visibly` makes both replace
every control character by its visible sign instead (ESC → ``␛``, one character for one, so style
spans keep their offsets). This is the last line: the services and screens show untrusted text with
:func:`ksef_tui.domain.untrusted.visible` and never as markup in the first place.

In: in bracketed paste (``ESC [ 200 ~`` … ``ESC [ 201 ~``) Textual's parser still reads an ESC inside
the pasted text as the start of a key sequence, so the rest of the paste became keystrokes (it toggled
the KSeF switch). :class:`PasteSafeParser` replaces every ESC inside a paste by ``␛`` before Textual's
parser sees it: a paste inserts text, never keys. :func:`install` puts both in place (the drivers of
the terminal, of ``textual-serve`` and of the inline mode create their parser by this name).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser

from ksef_tui.domain.untrusted import CONTROL_PICTURES

#: what never becomes a sign: line breaks and tabs are laid out by the renderer itself
_KEPT = (0x09, 0x0A)
ESC = "\x1b"
ESCAPE_PICTURE = CONTROL_PICTURES[0x1B]


def draw_control_characters_visibly() -> None:
    """Make Textual's ``Content`` and Rich's ``Text`` show every control character as a visible sign."""
    from rich import control as rich_control
    from textual import content as textual_content

    pictures = {code: sign for code, sign in CONTROL_PICTURES.items() if code not in _KEPT}
    for table in (rich_control._CONTROL_STRIP_TRANSLATE, textual_content._CONTROL_STRIP_TRANSLATE):
        table.clear()  # the very dicts the strip functions take as their default translate table
        table.update(pictures)  # type: ignore[arg-type]


class PasteSafeParser(XTermParser):
    """Textual's parser, fed with every ESC inside a bracketed paste replaced by ``␛``.

    Outside a paste everything passes at once (the Escape key is never held back); the last few
    characters are remembered, so a paste marker split between two reads is still seen. Inside a paste
    an ESC that may begin the end marker waits for the next read (the paste is delivered at its end
    anyway)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_paste = False
        self._recent = ""  # outside a paste: the last characters passed, a possible start of the marker
        self._held = ""  # inside a paste: the end of the last read that may be the start of the end marker

    def feed(self, data: str) -> Iterable[Any]:
        if not data:  # the end of input: whatever was held goes as it is
            held, self._held = self._held, ""
            return [*super().feed(held.replace(ESC, ESCAPE_PICTURE)), *super().feed("")] if held else super().feed("")
        defused = self._defuse(data)
        return super().feed(defused) if defused else ()  # an empty feed would mean the end of input

    def _defuse(self, data: str) -> str:
        text = self._held + data
        self._held = ""
        out: list[str] = []
        i = 0
        while i < len(text):
            if not self._in_paste:
                window = self._recent + text[i:]
                at = window.find(BRACKETED_PASTE_START)
                if at < 0:
                    out.append(text[i:])
                    self._recent = window[-(len(BRACKETED_PASTE_START) - 1):]
                    break
                after = i + at + len(BRACKETED_PASTE_START) - len(self._recent)
                out.append(text[i:after])
                i, self._in_paste, self._recent = after, True, ""
                continue
            at = text.find(BRACKETED_PASTE_END, i)
            if at < 0:
                tail = _partial_marker(text, i, BRACKETED_PASTE_END)
                out.append(text[i:len(text) - tail].replace(ESC, ESCAPE_PICTURE))
                self._held = text[len(text) - tail:]
                break
            out.append(text[i:at].replace(ESC, ESCAPE_PICTURE))
            out.append(BRACKETED_PASTE_END)
            i, self._in_paste = at + len(BRACKETED_PASTE_END), False
        return "".join(out)


def _partial_marker(text: str, start: int, marker: str) -> int:
    """How many characters at the end of ``text`` (from ``start``) are a proper prefix of ``marker``."""
    for n in range(min(len(marker) - 1, len(text) - start), 0, -1):
        if marker.startswith(text[len(text) - n:]):
            return n
    return 0


def install() -> None:
    """Put :class:`PasteSafeParser` in the drivers and draw control characters visibly (idempotent)."""
    from textual.drivers import linux_driver, linux_inline_driver, web_driver

    for module in (linux_driver, linux_inline_driver, web_driver):
        module.XTermParser = PasteSafeParser  # type: ignore[attr-defined,misc]
    draw_control_characters_visibly()
