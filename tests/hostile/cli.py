"""Running the real entry point, as a user or a script would (a subprocess: stdout and stderr are bytes)."""

from __future__ import annotations

import os
import subprocess
import sys

ESC = b"\x1b"


def run(*args: str, db: str | None = None, stdin: bytes | None = None, env: dict | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "ksef_tui"]
    if db:
        cmd += ["--database", db]
    return subprocess.run(cmd + list(args), capture_output=True, input=stdin, env=dict(os.environ) | (env or {}),
                          timeout=timeout)


def no_raw_control(data: bytes) -> bool:
    """True when ``data`` holds no byte a terminal obeys besides line breaks (ESC, CR, BEL, C1 in UTF-8)."""
    text = data.decode("utf-8", "replace")
    return not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in text)
