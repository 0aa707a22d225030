"""What a database failure means for the user: one sentence in their language, never the SQL, the
driver's text or a password; the details go to the log under a reference the sentence names."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from ksef_tui.files import log_fault
from ksef_tui.i18n import _
from ksef_tui.store.errors import StoreError


def _driver_text(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).lower()


def holders(database: str | None) -> list[str]:
    """Which processes (of this user) have the SQLite file open: "ksef-tui (pid 4242)"; best effort,
    Linux only, empty when unknown."""
    if not database or not os.path.isdir("/proc"):
        return []
    try:
        target = os.path.realpath(database)
    except OSError:
        return []
    names = {target, target + "-wal", target + "-shm", target + "-journal"}
    found = []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in names:
                    found.append(f"{_process_name(pid)} (pid {pid})")
                    break
            except OSError:
                continue
        if len(found) >= 5:
            break
    return found


def _process_name(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read(4096).split(b"\0") if a]
    except OSError:
        return "?"
    from ksef_tui.domain.untrusted import visible

    if any("ksef_tui" in a or a.endswith("ksef-tui") for a in argv[:3]):
        return "ksef-tui"
    return visible(Path(argv[0]).name if argv else "?")


def describe(exc: BaseException, where: str, url: str | None = None) -> str:
    """The user's sentence for a database failure (see :func:`translate`)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "P0001":  # raised by one of our own triggers, in our own words
        primary = getattr(getattr(orig, "diag", None), "message_primary", None)
        if primary:
            return str(primary)
    msg = _driver_text(exc)
    if "locked" in msg or "busy" in msg or "lock timeout" in msg or "could not obtain lock" in msg:
        who = []
        if url is not None:
            u = make_url(url)
            if u.get_backend_name() == "sqlite":
                who = holders(u.database)
        if who:
            return _("The database {where} is busy: {who} is writing to it. Nothing was changed; try again in a "
                     "moment.").format(where=where, who=", ".join(who))
        return _("The database {where} is busy: another program is writing to it (another ksef-tui, a backup). "
                 "Nothing was changed; try again in a moment.").format(where=where)
    if "database or disk is full" in msg or "no space left" in msg or "disk full" in msg or "diskfull" in msg:
        return _("The disk holding the database {where} is full: nothing was saved. Free some space and try "
                 "again.").format(where=where)
    if "not a database" in msg or "malformed" in msg or "file is encrypted" in msg or "corrupt" in msg:
        return _("The database {where} is damaged (or not a ksef-tui database): nothing was changed. Restore it "
                 "from a backup (ksef-tui restore).").format(where=where)
    if "readonly" in msg or "read-only" in msg or "unable to open" in msg or "permission denied" in msg:
        return _("The database {where} cannot be written: check the path and its permissions.").format(where=where)
    if "disk i/o error" in msg:
        return _("The disk holding the database {where} cannot be read or written (I/O error): nothing was "
                 "saved.").format(where=where)
    if "nul" in msg and ("0x00" in msg or "character" in msg):
        return _("A text holds a NUL character, which the database cannot store: remove it; nothing was "
                 "saved.")
    if "value too long" in msg:
        return _("A text is too long for the database: shorten it; nothing was saved.")
    if ("password authentication failed" in msg or "could not connect" in msg or "connection refused" in msg
            or "connection failed" in msg or "could not translate host" in msg or ("does not exist" in msg
            and "database" in msg)):
        ref = log_fault(exc, "connecting to the database")
        return _("Cannot connect to the database {where}: check the server, the user and the password (log "
                 "entry {ref}).").format(where=where, ref=ref)
    ref = log_fault(exc, "a database operation")
    return _("The database {where} refused the operation; nothing was changed (log entry {ref}).").format(
        where=where, ref=ref)


def translate(exc: BaseException, where: str, url: str | None = None) -> StoreError | None:
    """A :class:`StoreError` for a driver's error (None for what is not a database error)."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    return StoreError(describe(exc, where, url))
