"""A list screen: filter line, virtual table with a selection set, status line.

Companies and Users share the keyboard model:
``/`` filter (as you type), ``space`` select, ``shift+up/down`` extend,
``a`` select all filtered rows, ``i`` invert within them, ``escape`` clear,
``enter`` open. The selection is a set of database ids kept here (an :class:`IdSet`, whose
buckets keep a million ids from being moved in one step), so it
survives filtering; the table only draws it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rich.text import Text
from textual import on, work
from textual._context import NoActiveAppError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Static

from ksef_tui.errors import OperationCancelled
from ksef_tui.files import problem_text
from ksef_tui.i18n import _, ngettext
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.common.id_set import IdSet
from ksef_tui.ui.common.read_ahead import FirstRows, first_rows_shortly, read_first_rows
from ksef_tui.ui.messages import IdsLoaded, LoadFailed, RowsLoaded
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE, Column, HasId, RowSource, VirtualTable

log = logging.getLogger(__name__)

RowT = TypeVar("RowT", bound=HasId)
#: buckets of ids (IdSet, up to 16,384 ids each) added to or toggled in the selection between
#: two turns of the event loop
BUCKETS_PER_TURN = 4


class IdSource(RowSource[Any], Protocol):
    def count(self, *, should_cancel: Callable[[], bool] | None = None) -> int: ...

    def page(self, offset: int, limit: int, *, should_cancel: Callable[[], bool] | None = None) -> Sequence[Any]: ...

    def ids(self) -> list[int]: ...


class ListScreen(PanelScreen[None], Generic[RowT]):
    """Base of the Companies and Users screens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", _("Filter"), key_display="/", id="list.filter",
                tooltip=_("Filter the list as you type; Esc returns to the list")),
        Binding("a", "select_all", _("All"), id="list.select_all",
                tooltip=_("Select all rows of the filtered list")),
        Binding("i", "invert", _("Invert"), show=False, id="list.invert",
                tooltip=_("Invert the selection within the filtered list")),
        Binding("escape", "escape", _("Clear"), show=False, id="list.escape",
                tooltip=_("Leave the filter; in the list, clear the selection")),
        Binding("down", "focus_table", _("To the list"), show=False, id="list.to_table"),
    ]

    #: the list has the focus from the start (not the filter, Textual's first focusable): the footer
    #: and the focus styles are worked out once
    AUTO_FOCUS = "#table"

    def __init__(self) -> None:
        super().__init__()
        self.selection = IdSet()
        self._generation = 0
        # at most one filter query in flight; typing meanwhile asks for one more when it returns
        self._in_flight = False
        self._filter_again = False
        #: set to stop the query in flight (a newer filter makes its answer stale)
        self._stale = threading.Event()
        self._busy = 0
        self._had_selection = False  # a new screen starts with nothing selected (as its status line says)
        #: selected ids the current filter hides (they stay selected: the status line counts them,
        #: a serial operation names them and asks)
        self.hidden: set[int] = set()
        #: the count and first page of the list as it opens, read in a thread from the moment the
        #: screen is made (usually there when it is mounted: its first frame has the rows)
        self._first_rows = self._read_ahead()
        self._left = False  # another screen was shown over it (or another section) since it was shown

    # ------------------------------------------------------------- subclass

    def columns(self) -> Sequence[Column[RowT]]:
        raise NotImplementedError

    def make_source(self) -> IdSource:
        """The source for the current filter (called on the event loop)."""
        raise NotImplementedError

    def open_row(self, row: RowT) -> None:
        raise NotImplementedError

    def opening_source(self) -> IdSource | None:
        """The source of the list as it opens (no filter typed yet), read ahead; None: not read ahead."""
        return None

    def filter_placeholder(self) -> str:
        return _("/ Filter")

    def empty_text(self) -> str:
        return _("Nothing matches the filter.")

    def compose_toolbar_start(self) -> ComposeResult:
        yield from ()

    def compose_toolbar_end(self) -> ComposeResult:
        yield from ()

    def status_extra(self) -> str:
        return ""

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        with Horizontal(id="toolbar"):
            yield from self.compose_toolbar_start()
            yield Input(placeholder=self.filter_placeholder(), id="filter", compact=True)
            yield from self.compose_toolbar_end()
        yield VirtualTable[RowT](self.columns(), selection=self.selection,
                                 empty_text=self.empty_text(), id="table")
        yield Static(id="status")
        yield PanelFooter()

    @property
    def table(self) -> VirtualTable[RowT]:
        return self.query_one("#table", VirtualTable)

    @property
    def status_line(self) -> Static:
        """State classes (-has-selection, -busy, -loading) live here, not on the screen,
        so a change restyles one line instead of the whole screen."""
        return self.query_one("#status", Static)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def filter_text(self) -> str:
        return self.filter_input.value

    def on_mount(self) -> None:
        # the count and the first page read ahead are shown at once if they are there; if not,
        # the shell is drawn and they follow from the worker
        self.apply_filter()
        self.table.focus()
        self.selection_changed()

    def _read_ahead(self) -> FirstRows | None:
        try:
            app = self.app
        except NoActiveAppError:  # made outside a running panel
            return None
        ahead = self.rows_read_ahead()  # the panel's, at start-up
        if ahead is None and getattr(app, "is_open", False) and (source := self.opening_source()) is not None:
            ahead = read_first_rows(source)
        return ahead

    def on_screen_suspend(self) -> None:
        self._left = True

    def on_screen_resume(self) -> None:
        # Back from a detail screen or another section: the data may have changed (not while it
        # opens, which may resume it twice: the rows it shows were read just now).
        back, self._left = self._left, False
        if back and self.is_mounted and self.table.source is not None:
            self.reload_rows()

    def reload_rows(self) -> None:
        """Count the current filter again in a worker and show it, keeping the cursor (nothing
        is read on the event loop: at 1,000,000 rows the count alone takes a third of a second)."""
        self._generation += 1
        self._load_rows(self.make_source(), self._generation, self.selection, keep_cursor=True)

    # ---------------------------------------------------------------- filter

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        # The first keystroke filters at once (no debounce delay); keystrokes typed while its
        # query runs are folded into one query, for the latest text, when it returns.
        if self._in_flight:
            self._filter_again = True
            self._stale.set()  # its answer is for an older text: stop it, the latest goes next
        else:
            self.apply_filter()

    @property
    def filter_pending(self) -> bool:
        """A filter query is running, or one more is due when it returns."""
        return self._in_flight or self._filter_again

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.apply_filter()
        self.table.focus()

    def apply_filter(self) -> None:
        """Count and fetch the first page for the current filter in a worker."""
        self._filter_again = False
        self._in_flight = True
        self._generation += 1
        self._stale = threading.Event()
        ready, self._first_rows = self._first_rows, None  # the list as it opens: the first filter only
        source = self.make_source()
        if ready is not None and not ready.done() and not self.selection:
            first_rows_shortly(ready)
        if ready is not None and ready.done() and ready.exception() is None and not self.selection:
            # read already (ahead, or at the panel's start-up): shown in this very frame, no worker in between
            count, first_page = ready.result()
            self.on_rows_loaded(RowsLoaded(self._generation, source, count, first_page))
            return
        self.status_line.set_class(True, "-loading")
        self._load_rows(source, self._generation, self.selection, stale=self._stale, ready=ready)

    def rows_read_ahead(self) -> FirstRows | None:
        """The count and first page of the list as it opens, when something read them ahead (the panel
        while it opened the database); None: the screen reads them (:meth:`opening_source`)."""
        return None

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False, description="_load_rows")
    def _load_rows(self, source: IdSource, generation: int, selected: IdSet, *,
                   keep_cursor: bool = False, stale: threading.Event | None = None,
                   ready: Future[tuple[int, Sequence[Any]]] | None = None) -> None:
        should_cancel = stale.is_set if stale is not None else None
        try:
            count_and_page: tuple[int, Sequence[Any]] | None = None
            if ready is not None:
                try:
                    count_and_page = ready.result(timeout=60)
                except Exception:  # read again below; a real fault says itself there
                    count_and_page = None
            first_page: Sequence[Any] | None
            if count_and_page is not None:
                count, first_page = count_and_page
            else:
                first_page = None if keep_cursor else source.page(0, PAGE_SIZE, should_cancel=should_cancel)
                count = source.count(should_cancel=should_cancel)
            # which selected rows this filter hides (only with a selection: it reads every id); the
            # live selection is read here bucket by bucket, not copied on the loop
            hidden = frozenset(selected.difference(source.ids())) if selected else None
        except OperationCancelled:  # typed on meanwhile: the latest text's query follows
            self.post_message(LoadFailed(""))
            return
        except Exception as exc:  # a sentence (never SQL or a driver's text); the traceback goes to the log
            self.post_message(LoadFailed(problem_text(exc, "filtering the list failed")))
            return
        self.post_message(RowsLoaded(generation, source, count, first_page, hidden))

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        if message.generation != self._generation:
            return  # a newer filter is on its way
        self._in_flight = False
        self.table.empty_text = self.empty_text()  # a filter, or nothing there at all
        self.table.load(message.source, count=message.count, first_page=message.first_page,
                        keep_cursor=message.first_page is None)
        self._show_hidden({row_id for row_id in message.hidden or () if row_id in self.selection})
        self.update_status()
        if self._filter_again:
            self.apply_filter()  # typed while this one ran: the latest text next
        else:
            self.status_line.set_class(False, "-loading")

    def on_load_failed(self, message: LoadFailed) -> None:
        self._in_flight = False
        if self._filter_again:
            self.apply_filter()  # typed meanwhile: try the latest text
        else:
            self.status_line.set_class(False, "-loading")
        if not message.message:  # a stale query stopped: nothing went wrong
            return
        self.set_busy(False)
        self.notify(message.message, title=_("The list could not be read"), severity="error", markup=False)

    # ------------------------------------------------------------- selection

    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_escape(self) -> None:
        if self.filter_input.has_focus:
            self.table.focus()
        else:
            self.action_clear_selection()

    def action_clear_selection(self) -> None:
        if self.selection:
            self.selection.clear()
            self.table.refresh_selection()
            self.selection_changed()

    def action_select_all(self) -> None:
        self._start_ids("select_all")

    def action_invert(self) -> None:
        self._start_ids("invert")

    def _start_ids(self, purpose: str) -> None:
        source = self.table.source
        if source is None:
            return
        self.set_busy(True)
        self._load_ids(source, purpose, self._generation)  # type: ignore[arg-type]

    @work(thread=True, group="ids", exit_on_error=False, description="_load_ids")
    def _load_ids(self, source: IdSource, purpose: str, generation: int) -> None:
        try:
            ids = source.ids()
        except Exception as exc:
            self.post_message(LoadFailed(problem_text(exc, "reading ids failed")))
            return
        # the set is built here, bucket by bucket (the interpreter lock changes hands between
        # them): a million ids hashed on the event loop held it for about 100 ms
        self.post_message(IdsLoaded(generation, purpose, IdSet(ids)))

    def on_ids_loaded(self, message: IdsLoaded) -> None:
        # Applied even if the filter changed meanwhile: the ids are the rows that
        # were listed when the key was pressed.
        self._apply_ids(message)

    @work(group="ids-apply", exit_on_error=False, description="_apply_ids")
    async def _apply_ids(self, message: IdsLoaded) -> None:
        """Change the selection a few buckets at a time, letting the loop run between them.
        Select all from a smaller selection takes the worker's set as the selection."""
        import asyncio

        chosen = message.ids
        if message.purpose == "select_all":
            rest = chosen
            if len(self.selection) <= len(chosen):
                rest = self.selection
                self._replace_selection(chosen)
            for number, (key, ids) in enumerate(rest.buckets(), 1):
                self.selection.merge_bucket(key, ids)
                if number % BUCKETS_PER_TURN == 0:
                    await asyncio.sleep(0)
        else:
            for number, (key, ids) in enumerate(chosen.buckets(), 1):
                self.selection.toggle_bucket(key, ids)
                if number % BUCKETS_PER_TURN == 0:
                    await asyncio.sleep(0)
        self.set_busy(False)
        self.table.refresh_selection()
        self.selection_changed()

    def _replace_selection(self, selection: IdSet) -> None:
        """Make ``selection`` the selection (the table draws the same set object)."""
        self.selection = selection
        self.table.selection = selection

    @on(VirtualTable.SelectionChanged)
    def _table_selection_changed(self) -> None:
        self.selection_changed()

    @on(VirtualTable.RowActivated)
    def _row_activated(self, event: VirtualTable.RowActivated) -> None:
        self.open_row(event.row)  # type: ignore[arg-type]

    def selection_changed(self) -> None:
        """Everything that depends on the selection: status, classes, bindings."""
        has_selection = bool(self.selection)
        self.update_status()
        if has_selection != self._had_selection:
            # Only "something selected or not" changes what the bindings allow; refreshing
            # them rebuilds the footer, so not on every toggle.
            self._had_selection = has_selection
            self.status_line.set_class(has_selection, "-has-selection")
            self.refresh_bindings()

    def _show_hidden(self, hidden: set[int]) -> None:
        """The filter hides ``hidden`` of the selected rows: they stay selected and are named."""
        newly = len(hidden - self.hidden)
        self.hidden = hidden
        if newly and self.is_attached and self.app.screen is self:
            self.notify(ngettext(
                "{n} selected row is hidden by the filter; it stays selected (Esc in the list clears "
                "the selection).",
                "{n} selected rows are hidden by the filter; they stay selected (Esc in the list clears "
                "the selection).", len(hidden)).format(n=len(hidden)), timeout=6)

    @property
    def hidden_selected(self) -> set[int]:
        """The selected rows the filter hides now."""
        if self.hidden and not all(row_id in self.selection for row_id in self.hidden):
            self.hidden = {row_id for row_id in self.hidden if row_id in self.selection}
        return self.hidden

    def set_busy(self, busy: bool) -> None:
        self._busy = max(0, self._busy + (1 if busy else -1))
        self.status_line.set_class(self._busy > 0, "-busy")
        self.update_status()

    def update_status(self) -> None:
        status = Text()
        selected = f"{len(self.selection):,}".replace(",", " ")
        total = f"{self.table.row_count:,}".replace(",", " ")
        hidden = len(self.hidden_selected)
        self.status_line.set_class(bool(hidden), "-hidden-selection")
        if hidden:
            status.append(ngettext("{selected} selected ({hidden} hidden by the filter) of {total}",
                                   "{selected} selected ({hidden} hidden by the filter) of {total}",
                                   hidden).format(selected=selected, hidden=hidden, total=total),
                          style="bold")
        else:
            status.append(_("{selected} selected of {total}").format(selected=selected, total=total),
                          style="bold" if self.selection else "")
        extra = self.status_extra()
        if extra:
            status.append("  ·  " + extra)
        if self._busy:
            status.append("  ·  " + _("working…"))
        self.status_line.update(status, layout=False)  # one line, fixed height: a repaint, not a layout
