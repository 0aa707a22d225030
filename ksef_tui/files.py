"""Files we read and write, safely: the one place every layer goes through.

Writing (:func:`write_atomic`, :func:`atomic_open`): a temporary file beside the target, created
0600 with ``O_EXCL | O_NOFOLLOW`` (so never through a symlink an attacker left there), written,
fsynced and renamed over the target; a failure (disk full, no permission, a kill) leaves the target
as it was and no partial file behind. Folders we create are 0700 (:func:`private_folder`).

Reading (:func:`read_limited`, :func:`open_regular`): regular files only, with a size cap, so a FIFO
(which would block), a device (``/dev/zero`` never ends), a socket or a huge file is refused at once
with a message; ``O_NONBLOCK`` makes even the open of a FIFO return immediately.

Scratch space (:func:`scratch_folder`) lives in the data folder, not in the system's temporary
folder, and what a killed process left there is removed at the next start (:func:`clean_scratch`).

Every refusal is :class:`FileRefused`, a :class:`ksef_tui.errors.ServiceError` whose message is one
sentence in the user's language.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _

APP_NAME = "ksef-tui"
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
#: the default cap of a file we read whole (certificates, keys, tokens, signed files: a few KiB)
SMALL_FILE_BYTES = 2 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FileRefused(ServiceError):
    """A file cannot be read or written; the message says which and why, in the user's terms."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, reason: str = "") -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else None
        self.reason = reason


def reason_of(exc: OSError) -> str:
    """Why an operating-system call failed, in the user's words (never a raw errno text alone)."""
    return {
        errno.ENOSPC: _("the disk is full"),
        errno.EDQUOT: _("the disk quota is used up"),
        errno.EACCES: _("permission denied"),
        errno.EPERM: _("permission denied"),
        errno.EROFS: _("the disk is read-only"),
        errno.ENOENT: _("no such file or folder"),
        errno.ENOTDIR: _("a part of the path is not a folder"),
        errno.EISDIR: _("it is a folder"),
        errno.ELOOP: _("it is a symbolic link"),
        errno.ENAMETOOLONG: _("the name is too long"),
        errno.EEXIST: _("it already exists"),
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)


# ---- folders ---------------------------------------------------------------------------------

def data_folder() -> Path:
    """The user's data folder (the default database, scratch space, the log)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def private_folder(path: str | os.PathLike, *, tighten: bool = True) -> Path:
    """``path`` as a folder that only we can enter: created 0700 if missing; an existing one we own
    is tightened to 0700 when ``tighten`` (our own folders, never a folder the user chose)."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
        st = p.stat()
        if tighten and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o077)
    except OSError as exc:
        raise FileRefused(_("Cannot create the folder {path}: {reason}.").format(path=p, reason=reason_of(exc)),
                          p, reason=reason_of(exc)) from None
    return p


def create_private(path: str | os.PathLike) -> bool:
    """Create ``path`` empty with mode 0600 if it does not exist (e.g. a database before SQLite opens
    it: SQLite gives its WAL and SHM files the database's mode). True when created now."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


# ---- writing ---------------------------------------------------------------------------------

def _temporary_beside(path: Path) -> tuple[int, Path]:
    for _attempt in range(20):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, PRIVATE_FILE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _write_refused(path: Path, exc: OSError) -> FileRefused:
    reason = reason_of(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        msg = _("The disk is full: {path} was not written (nothing was changed).").format(path=path)
    else:
        msg = _("Cannot write {path}: {reason}.").format(path=path, reason=reason)
    return FileRefused(msg, path, reason=reason)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None, exclusive: bool = False) -> Iterator[IO[Any]]:
    """Write ``path`` whole or not at all: yields a file on a 0600 temporary beside it, renamed over
    ``path`` when the block ends without an error (after fsync); removed on any error.

    ``exclusive`` refuses to replace an existing file. The target itself is never opened: a symlink
    there is replaced, never written through."""
    target = Path(path)
    binary = "b" in mode
    if not target.parent.exists():
        private_folder(target.parent, tighten=False)
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
        if exclusive and os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        fd, tmp = _temporary_beside(target)
    except OSError as exc:
        raise _write_refused(target, exc) from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding, "newline": newline})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, target)  # fails if someone created the target meanwhile
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
        _sync_folder(target.parent)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise _write_refused(target, exc) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, *, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` (0600) whole or not at all; see :func:`atomic_open`."""
    binary = isinstance(data, (bytes, bytearray, memoryview))
    with atomic_open(path, "wb" if binary else "w", exclusive=exclusive) as f:
        f.write(data)
    return Path(path)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ---- reading ---------------------------------------------------------------------------------

def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return _("a folder")
    if stat.S_ISFIFO(mode):
        return _("a named pipe (FIFO)")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("not a regular file")


def _size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def open_regular(path: str | os.PathLike, *, limit: int, what: str | None = None) -> IO[bytes]:
    """``path`` opened for reading if it is a regular file of at most ``limit`` bytes; else
    :class:`FileRefused` at once (a FIFO, a device such as ``/dev/zero``, a folder, a huge file)."""
    p = Path(path)
    label = what or _("file")
    try:
        st = os.stat(p)  # refuse a device or FIFO before even opening it
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(_("The {what} {path} is {kind}, not a regular file; choose a file.").format(
                what=label, path=p, kind=_kind(st.st_mode)), p, reason="not-regular")
        fd = os.open(p, os.O_RDONLY | _NONBLOCK | _NOCTTY | _CLOEXEC)
    except OSError as exc:
        raise FileRefused(_("Cannot read the {what} {path}: {reason}.").format(
            what=label, path=p, reason=reason_of(exc)), p, reason=reason_of(exc)) from None
    try:
        st = os.fstat(fd)  # the file opened may not be the one stat() saw
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(_("The {what} {path} is {kind}, not a regular file; choose a file.").format(
                what=label, path=p, kind=_kind(st.st_mode)), p, reason="not-regular")
        if st.st_size > limit:
            raise FileRefused(_("The {what} {path} is too large ({size}; at most {limit}).").format(
                what=label, path=p, size=_size_text(st.st_size), limit=_size_text(limit)), p, reason="too-large")
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return _Capped(os.fdopen(fd, "rb"), limit, p, label)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def read_limited(path: str | os.PathLike, *, limit: int = SMALL_FILE_BYTES, what: str | None = None) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit=limit, what=what) as f:
        return f.read()


class _Capped:
    """A binary file that refuses to yield more than ``limit`` bytes (a file that grows while read)."""

    def __init__(self, f: IO[bytes], limit: int, path: Path, what: str) -> None:
        self._f, self._left, self._path, self._what, self._limit = f, limit, path, what, limit

    def _take(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise FileRefused(_("The {what} {path} is too large (at most {limit}).").format(
                what=self._what, path=self._path, limit=_size_text(self._limit)), self._path, reason="too-large")
        return data

    def read(self, n: int = -1) -> bytes:
        return self._take(self._f.read(self._left + 1 if n is None or n < 0 else min(n, self._left + 1)))

    def readline(self, n: int = -1) -> bytes:
        return self._take(self._f.readline(self._left + 1 if n is None or n < 0 else min(n, self._left + 1)))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> _Capped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LineTooLong(Exception):
    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class NotText(Exception):
    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def text_lines(source: Any, max_bytes: int) -> Iterator[tuple[int, str]]:
    """(number, line) of a binary stream decoded as UTF-8 (a BOM dropped), one line in memory at a time:
    a line over ``max_bytes`` raises :class:`LineTooLong` before it is read whole, a line that is not
    UTF-8 :class:`NotText` (both with the line's number)."""
    number = 0
    while True:
        raw = source.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes:
            raise LineTooLong(number)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NotText(number) from None
        yield number, text


def is_regular(path: str | os.PathLike) -> bool:
    """True when ``path`` (followed if a link) is a regular file: a folder watcher skips the rest."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# ---- scratch space ---------------------------------------------------------------------------

def scratch_folder(purpose: str, base: Path | None = None) -> Path:
    """A new private folder for temporary copies, in the data folder (``scratch/<purpose>-<pid>-…``):
    the caller removes it; what a killed process leaves is removed by :func:`clean_scratch`."""
    root = private_folder((base or data_folder()) / "scratch")
    clean_scratch(root)
    folder = root / f"{purpose}-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=PRIVATE_FOLDER)
    return folder


def clean_scratch(root: Path | None = None) -> int:
    """Remove scratch folders whose process is gone (killed); returns how many were removed."""
    root = root or data_folder() / "scratch"
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        parts = entry.name.rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- the log ---------------------------------------------------------------------------------
# One file for what went wrong unexpectedly: each entry has a short reference the user is shown
# instead of a traceback. Tracebacks are written by the logging module (never local variables);
# statement values never reach it (the engine hides parameters).
LOGGER = "ksef_tui"
LOG_MAX_BYTES = 1024 * 1024

logging.getLogger(LOGGER).addHandler(logging.NullHandler())  # never Python's last-resort stderr printer


def log_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)) / "ksef-tui.log"


class _PrivateLogHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600 (in a 0700 folder), never opened through a symlink."""

    def _open(self):  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW | _CLOEXEC, PRIVATE_FILE)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def start_log(path: Path | None = None) -> Path | None:
    """Send the ``ksef_tui`` log (warnings and worse) to the private log file; None when it cannot be
    opened (then nothing is logged, and nothing fails)."""
    target = path or log_path()
    logger = logging.getLogger(LOGGER)
    for h in logger.handlers:
        if isinstance(h, _PrivateLogHandler) and Path(h.baseFilename) == target.resolve():
            return target
    try:
        private_folder(target.parent)
        handler = _PrivateLogHandler(target, maxBytes=LOG_MAX_BYTES, backupCount=3, encoding="utf-8", delay=True)
    except (OSError, FileRefused):
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    return target


def log_fault(exc: BaseException, what: str, logger: str = LOGGER) -> str:
    """Log ``exc`` with its traceback (no local variables) under a new reference and return it, for the
    message the user sees ("… log entry 3f9a2c1e")."""
    ref = secrets.token_hex(4)
    logging.getLogger(logger).error("[%s] %s: %s", ref, what, type(exc).__name__,
                                    exc_info=(type(exc), exc, exc.__traceback__))
    return ref


def problem_text(exc: BaseException, what: str = "an unexpected error") -> str:
    """What to tell the user about ``exc``: a refusal's own sentence, or (anything unexpected) a short
    sentence naming a log entry that holds the traceback: never the exception's text, which may carry
    SQL, a driver's words or a secret."""
    if isinstance(exc, ServiceError):
        return str(exc)
    ref = log_fault(exc, what)
    return _("An unexpected error ({kind}); the details are in the log {path}, entry {ref}.").format(
        kind=type(exc).__name__, path=log_path(), ref=ref)
