"""How an uploaded file reaches the browser session that asked for it (no Textual, no aiohttp).

Shared by the portal's server (``ksef_tui.web``) and the panel in a browser session
(``ksef_tui.ui.common.web_files``), hence here, below both.

Every browser session has an inbox: a private folder (0700) that the server makes for the
session's app process and removes when the session ends. When the user asks to upload, the
app process makes a one-time token and leaves ``want-TOKEN`` in its inbox; the page at
``/upload/TOKEN`` (opened in that browser) posts the file; the server finds the session whose
inbox wants that token (and whose browser cookie the request carries), writes the file as
``got-TOKEN`` (0600, atomically) and removes ``want-TOKEN``, so the link works once. The app
process picks ``got-TOKEN`` up and deletes it. No path on the server is ever shown.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # certificates, keys and signed XML are a few KiB


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(token: str) -> bool:
    return bool(TOKEN_RE.match(token or ""))


def make_inbox(parent: Path, session_id: str) -> Path:
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    inbox = parent / session_id
    inbox.mkdir(mode=0o700)
    return inbox


def want(inbox: Path, label: str = "") -> str:
    """App side: a new one-time token for an upload into ``inbox``."""
    token = new_token()
    fd = os.open(inbox / f"want-{token}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(label[:200])
    return token


def wanted(inbox: Path, token: str) -> str | None:
    """Server side: the label of the upload ``token`` asks for, or None (unknown or used)."""
    if not valid_token(token):
        return None
    try:
        return (inbox / f"want-{token}").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def deliver(inbox: Path, token: str, data: bytes) -> bool:
    """Server side: hand ``data`` to the session; False when the token is unknown or used."""
    marker = inbox / f"want-{token}"
    if not valid_token(token) or not marker.exists():
        return False
    part = inbox / f".part-{token}"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another request for the same link is being written
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        marker.unlink()
    except FileNotFoundError:  # used by a request in between: this one loses
        part.unlink(missing_ok=True)
        return False
    os.replace(part, inbox / f"got-{token}")
    return True


def take(inbox: Path, token: str) -> bytes | None:
    """App side: the uploaded file for ``token`` once it has arrived (removed from the inbox)."""
    got = inbox / f"got-{token}"
    try:
        fd = os.open(got, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_UPLOAD_BYTES + 1)
    got.unlink(missing_ok=True)
    return data


def cancel(inbox: Path, token: str) -> None:
    """App side: the link is no longer wanted (the dialog closed)."""
    for name in (f"want-{token}", f"got-{token}"):
        (inbox / name).unlink(missing_ok=True)
