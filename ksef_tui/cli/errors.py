"""One error type and one reporter for every command: a failure is one clear line on stderr, never a
traceback. Exit codes: 0 ok, 1 refused or failed, 2 bad input."""

from __future__ import annotations

import argparse
import types
from typing import NoReturn

from ksef_tui.cli.output import say

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
PROG = "ksef-tui"


class CliError(Exception):
    """One clear line for stderr; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def error_line(message: str) -> None:
    say(f"{PROG}: {message}", err=True)


def report(exc: BaseException) -> int:
    """Say what went wrong in one line and return the exit code (the only place errors are printed)."""
    from ksef_tui.errors import PermissionDenied, ServiceError, ValidationFailed
    from ksef_tui.services.ksef.views import KsefOperationError

    if isinstance(exc, CliError):
        error_line(str(exc))
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        error_line("interrupted")
        return 130
    if isinstance(exc, KsefOperationError):
        from ksef_tui.i18n import _

        error_line(_("{message} Hint: {hint}").format(message=exc, hint=exc.hint) if exc.hint else str(exc))
        return EXIT_USAGE if exc.bad_input else EXIT_FAIL
    if isinstance(exc, ValidationFailed):
        error_line("; ".join(exc.errors.values()) or str(exc))
        return EXIT_USAGE
    if isinstance(exc, ServiceError) and _is_expected(exc):  # the database or a file cannot be used
        error_line(str(exc))
        return EXIT_FAIL
    if isinstance(exc, ServiceError):
        error_line(str(exc))
        return EXIT_FAIL if isinstance(exc, PermissionDenied) else EXIT_USAGE
    if _is_expected(exc):
        hint = getattr(exc, "hint", None)
        error_line(f"{exc} {hint}".strip() if hint else str(exc))
        return EXIT_FAIL
    from ksef_tui.files import log_fault, log_path
    from ksef_tui.i18n import _

    ref = log_fault(exc, "a command failed unexpectedly")
    error_line(_("unexpected error ({kind}); the details are in the log {path}, entry {ref}.").format(
        kind=type(exc).__name__, path=log_path(), ref=ref))
    return EXIT_FAIL


def _is_expected(exc: BaseException) -> bool:
    """Errors of our own lower layers (the store, the vault) already speak the user's language."""
    return type(exc).__module__.startswith(("ksef_tui.store", "ksef_tui.vault", "ksef_tui.ksef", "ksef_tui.settings"))


def _one_line_error(self: argparse.ArgumentParser, message: str) -> NoReturn:
    say(f"{self.prog}: error: {message} (see --help)", err=True)
    raise SystemExit(EXIT_USAGE)


def quiet(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A parser whose usage errors are one line (no usage dump)."""
    p.error = types.MethodType(_one_line_error, p)  # type: ignore[method-assign]
    return p
