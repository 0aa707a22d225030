"""The upload inbox (one-time tokens, atomic 0600 files, no symlinks) and the server's own layering."""

from __future__ import annotations

import os
import subprocess
import sys

from ksef_tui.services import web_inbox as inbox


def test_an_upload_link_works_once_and_only_for_its_inbox(tmp_path):
    mine = inbox.make_inbox(tmp_path / "portal", "s1")
    other = inbox.make_inbox(tmp_path / "portal", "s2")
    assert (mine.stat().st_mode & 0o777) == 0o700
    token = inbox.want(mine, "The signed file")
    assert inbox.valid_token(token) and inbox.wanted(mine, token) == "The signed file"
    assert inbox.wanted(other, token) is None and not inbox.deliver(other, token, b"x")
    assert inbox.take(mine, token) is None  # nothing yet
    assert inbox.deliver(mine, token, b"<xml/>")
    got = mine / f"got-{token}"
    assert (got.stat().st_mode & 0o777) == 0o600
    assert not inbox.deliver(mine, token, b"again")  # used up
    assert inbox.wanted(mine, token) is None
    assert inbox.take(mine, token) == b"<xml/>" and not got.exists()
    for bad in ("../../etc/passwd", "short", "A" * 31, "A" * 65, "a/b" * 20):
        assert not inbox.valid_token(bad) and inbox.wanted(mine, bad) is None


def test_a_symlink_planted_in_the_inbox_is_not_followed(tmp_path):
    box = inbox.make_inbox(tmp_path / "portal", "s1")
    token = inbox.want(box)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"secret")
    os.symlink(target, box / f"got-{token}")
    assert inbox.take(box, token) is None
    assert target.read_bytes() == b"secret"


def test_the_server_does_not_load_textual():
    code = ("import sys; import ksef_tui.web.server, ksef_tui.cli.serve, ksef_tui.services.web_inbox\n"
            "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
