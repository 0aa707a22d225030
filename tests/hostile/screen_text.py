"""What the panel shows, read back for assertions: the screenshot's text line by line, notifications."""

from __future__ import annotations

import html
import re

_RUN = re.compile(r'<text [^>]*clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>')


def shown(app) -> str:
    """The screen as drawn: the screenshot's text, line by line (the styled runs of each line joined)."""
    lines: dict[str, list[str]] = {}
    for line, run in _RUN.findall(app.export_screenshot()):
        lines.setdefault(line, []).append(html.unescape(run).replace("\xa0", " "))
    return "\n".join("".join(runs) for runs in lines.values())


def told(app, title: str) -> str:
    """The message of the last notification with ``title`` ("" when none)."""
    found = [str(n.message) for n in app._notifications if n.title == title]
    return found[-1] if found else ""
