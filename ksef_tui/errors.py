"""Errors services raise. ``str(err)`` is a message for the user, already translated."""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Base for every refusal a service makes; the message is for the user."""


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class ConflictError(ServiceError):
    """Someone else saved the same object since it was loaded (optimistic locking)."""


class OperationCancelled(ServiceError):
    pass


class ValidationFailed(ServiceError):
    """Input refused; ``errors`` maps a field name to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class ImportProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        from ksef_tui.i18n import _

        return _("line {line}, column {column}: {message}").format(
            line=self.line, column=self.column, message=self.message)


class ImportFailed(ServiceError):
    """A CSV import refused whole; nothing was imported."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        from ksef_tui.i18n import ngettext

        self.problems = problems
        super().__init__(
            ngettext("{n} problem in the file; nothing was imported.",
                     "{n} problems in the file; nothing was imported.", len(problems)).format(n=len(problems))
            + " " + "; ".join(str(p) for p in problems[:5])
        )
