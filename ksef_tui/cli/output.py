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
