"""The panel while it opens the database (SQLAlchemy, the migrations check, the vault check and the KSeF
code load in a thread worker of :class:`~ksef_tui.ui.app.KsefApp`, after the first frame).

Its first frame is the Companies list when start-up read it ahead (:func:`arrived`; SQLite), else
:class:`OpeningScreen`, which the section (or the login screen) then replaces. Until the context is
there, what needs it waits at the :class:`ContextGate`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from ksef_tui.errors import OperationCancelled
from ksef_tui.i18n import _

if TYPE_CHECKING:
    from ksef_tui.services.company_list import FirstView
    from ksef_tui.services.context import AppContext

#: how long the app, once Python has imported it, still waits for the first view read at start-up
#: (normally read long before: it takes tens of milliseconds, the imports hundreds); one that comes
#: later (a cold disk) replaces the opening screen when it comes
FIRST_VIEW_GRACE_S = 0.1


def arrived(first_view: Future[FirstView | None] | None, grace: float = FIRST_VIEW_GRACE_S) -> FirstView | None:
    """The first view read at start-up (:func:`ksef_tui.services.company_list.first_view`), if it came
    within ``grace`` seconds and vouches for the first frame; otherwise the panel opens as ever."""
    if first_view is None:
        return None
    try:
        return first_view.result(timeout=grace)
    except Exception:  # not read in time, or a fault: the normal opening says what is wrong
        return None


def rows_read_ahead(view: FirstView | None) -> Future[tuple[int, Sequence[Any]]] | None:
    """The first view's count and rows as the Companies screen takes them (``take_first_rows``)."""
    if view is None:
        return None
    rows: Future[tuple[int, Sequence[Any]]] = Future()
    rows.set_result((view.count, list(view.rows)))
    return rows


def first_rows(ctx: AppContext) -> tuple[int, list[Any]]:
    """The companies' count and first page (the opening worker reads them while the loop builds their
    screen, when nothing read them ahead)."""
    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE

    return ctx.companies.count(ctx.actor, CompanyFilter()), ctx.companies.page(ctx.actor, CompanyFilter(), 0, PAGE_SIZE)


class ContextGate:
    """The panel's context while the opening worker opens the database: threads wait for it
    (:meth:`wait`), the event loop queues what needs it (:meth:`later`, run by the app once it is open)."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        #: the panel's context (None: someone must log in first, or the database failed)
        self.ctx: AppContext | None = None
        self.error: BaseException | None = None
        self._waiting: list[Callable[[], object]] = []

    def opened(self, ctx: AppContext, *, panel: bool) -> None:
        """The worker opened the database; ``panel``: it opens on the panel (nobody must log in)."""
        self.ctx = ctx if panel else None
        self._ready.set()

    def failed(self, error: BaseException) -> None:
        self.error = error
        self._ready.set()

    @property
    def refused(self) -> bool:
        """Known now: the panel does not open (a login comes first, or the database failed)."""
        return self._ready.is_set() and self.ctx is None

    def wait(self, loop_thread: int) -> AppContext:
        """In a thread (not ``loop_thread``, the event loop's: it would stall): the panel's context once it
        is there; what stopped the database from opening, or :class:`OperationCancelled` when someone
        must log in first (what waited is not theirs)."""
        if threading.get_ident() == loop_thread:
            raise RuntimeError("waiting for the panel's context on the event loop would stall it")
        self._ready.wait()
        if self.ctx is None:
            if self.error is not None:
                raise self.error
            raise OperationCancelled(_("Cancelled."))
        return self.ctx

    def later(self, action: Callable[[], object]) -> None:
        self._waiting.append(action)

    def take_waiting(self) -> list[Callable[[], object]]:
        waiting, self._waiting = self._waiting, []
        return waiting


class OpeningScreen(Screen[None]):
    """The panel's name and "Opening the database…", until the database is open."""

    DEFAULT_CSS = """
    OpeningScreen { align: center middle; }
    OpeningScreen #opening { width: auto; height: auto; }
    OpeningScreen #opening-title { text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="opening"):
            yield Static("ksef-tui", id="opening-title")
            yield Static(_("Opening the database…"), id="opening-text")
