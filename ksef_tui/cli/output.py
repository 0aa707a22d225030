"""The one way a command prints: every line goes through :func:`ksef_tui.domain.untrusted.visible`, so a
name, file name, certificate subject or KSeF message never reaches the terminal as a control sequence
(``ESC ] 52`` writing the clipboard, ``ESC [ 2 J`` blanking the screen, a CR overwriting the line)."""

from __future__ import annotations

import sys
from typing import TextIO

from ksef_tui.domain.untrusted import visible


def say(*parts: object, err: bool = False, sep: str = " ", file: TextIO | None = None) -> None:
    """``print`` for commands: to stdout (stderr with ``err``), control characters made visible."""
    stream = file or (sys.stderr if err else sys.stdout)
    stream.write(visible(sep.join(str(p) for p in parts), multiline=True) + "\n")


def say_json(data: object, *, file: TextIO | None = None) -> None:
    """JSON for scripts on stdout, readable (UTF-8 letters kept) and safe in a terminal: JSON escapes
    C0 controls itself; DEL, the C1 controls (U+009B is CSI to some terminals) and the bidirectional
    overrides are written as ``\\uXXXX`` escapes too (they can only stand inside strings)."""
    import json

    text = json.dumps(data, ensure_ascii=False, indent=2)
    (file or sys.stdout).write(text.translate(_JSON_ESCAPES) + "\n")


_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *range(0x202A, 0x202F),
                                                      *range(0x2066, 0x206A), 0x2028, 0x2029)}
