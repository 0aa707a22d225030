"""Row sources for :class:`~ksef_tui.ui.widgets.virtual_table.VirtualTable` over the services.

A source is one filter applied to one service for one actor: it is immutable,
so a worker can count and fetch the first page while the old source is still
on screen, and the table swaps them in one step. Each reads the database, so
``background``: the table fetches its pages in a thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ksef_tui.services.actor import Actor
from ksef_tui.services.company_list import CompanyFilter, CompanyRow

if TYPE_CHECKING:  # the services bring SQLAlchemy: the Companies screen, the first one shown, waits for none
    from ksef_tui.services.companies import CompanyService
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.users import UserFilter, UserRow, UserService


@dataclass(frozen=True)
class CompanySource:
    service: CompanyService
    actor: Actor
    filter: CompanyFilter
    background: ClassVar[bool] = True

    def count(self, *, should_cancel: Callable[[], bool] | None = None) -> int:
        return self.service.count(self.actor, self.filter, should_cancel=should_cancel)

    def page(self, offset: int, limit: int, *, should_cancel: Callable[[], bool] | None = None) -> list[CompanyRow]:
        return self.service.page(self.actor, self.filter, offset, limit, should_cancel=should_cancel)

    def ids(self) -> list[int]:
        return self.service.ids(self.actor, self.filter)


@dataclass(frozen=True)
class WaitingCompanySource:
    """The companies for ``filter`` on the Companies screen shown before the database is open: each call
    (made in a thread) waits for the panel's context (``context``), then asks the service as
    :class:`CompanySource` does."""

    context: Callable[[], AppContext]
    filter: CompanyFilter
    background: ClassVar[bool] = True

    def _source(self) -> CompanySource:
        ctx = self.context()
        return CompanySource(ctx.companies, ctx.actor, self.filter)

    def count(self, *, should_cancel: Callable[[], bool] | None = None) -> int:
        return self._source().count(should_cancel=should_cancel)

    def page(self, offset: int, limit: int, *, should_cancel: Callable[[], bool] | None = None) -> list[CompanyRow]:
        return self._source().page(offset, limit, should_cancel=should_cancel)

    def ids(self) -> list[int]:
        return self._source().ids()


@dataclass(frozen=True)
class UserSource:
    service: UserService
    actor: Actor
    filter: UserFilter
    background: ClassVar[bool] = True

    def count(self, *, should_cancel: Callable[[], bool] | None = None) -> int:
        return self.service.count(self.actor, self.filter)  # users: thousands, not worth stopping

    def page(self, offset: int, limit: int, *, should_cancel: Callable[[], bool] | None = None) -> list[UserRow]:
        return self.service.page(self.actor, self.filter, offset, limit)

    def ids(self) -> list[int]:
        return self.service.ids(self.actor, self.filter)
