"""A table that renders only the rows on screen (Line API).

The rows come from a :class:`RowSource` (``count`` + ``page``), typically a
SQL query with ``LIMIT``/``OFFSET``; the table keeps a few pages in a small
LRU cache, so opening, scrolling and filtering cost the same at 100 rows and
at 1,000,000. A source whose ``background`` attribute is true (a database
query) is never read on the event loop: a page not yet in the cache is
fetched in a thread worker, its rows drawn blank until it arrives (the End
key at 1,000,000 rows is one OFFSET query, in the thread). Selection is a ``set`` of database ids owned by the caller (the
screen), so it survives filtering; the table only draws it and edits it on
``space`` / ``shift+up`` / ``shift+down``.

User data is drawn as :class:`rich.text.Text`, never parsed as markup, so a
company called ``ACME [/]`` is just text.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, MutableSet, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ksef_tui.i18n import _

__all__ = ["Column", "HasId", "RowSource", "VirtualTable"]

log = logging.getLogger(__name__)


class HasId(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=HasId)
RowT_co = TypeVar("RowT_co", bound=HasId, covariant=True)


class RowSource(Protocol[RowT_co]):
    """Where the rows come from: a filtered, ordered list addressed by position. A source that
    reads a database also says ``background = True``: its pages are fetched in a thread."""

    def count(self) -> int: ...

    def page(self, offset: int, limit: int) -> Sequence[RowT_co]: ...


@dataclass(frozen=True)
class Column(Generic[RowT]):
    """One column: a label and a function giving the cell for a row.

    ``width`` > 0 is fixed; ``width == 0`` shares what is left by ``weight``
    (never less than ``min_width``). A column with ``hide_below`` is left out
    when the table is narrower than that many cells.
    """

    key: str
    label: str
    cell: Callable[[RowT], str | Text]
    width: int = 0
    weight: int = 1
    min_width: int = 8
    justify: str = "left"
    hide_below: int = 0


PAGE_SIZE = 100
CACHED_PAGES = 8
CHECK_ON = "[x]"
CHECK_OFF = "[ ]"
_CHECK_WIDTH = 5  # " [x] "
_GAP = 1
# Newlines, tabs and other control characters in user data would break a line.
_CONTROL = {c: " " for c in (*range(0, 32), 127)}


def _clean(value: str | Text) -> Text:
    if isinstance(value, Text):
        text = value.copy()
        text.plain = text.plain.translate(_CONTROL)
        return text
    return Text(value.translate(_CONTROL))


class VirtualTable(ScrollView, Generic[RowT], can_focus=True):
    """Cursor, check-mark column and header over a :class:`RowSource`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", _("Up"), show=False, id="table.cursor_up"),
        Binding("down", "cursor_down", _("Down"), show=False, id="table.cursor_down"),
        Binding("pageup", "page_up", _("Page up"), show=False, id="table.page_up"),
        Binding("pagedown", "page_down", _("Page down"), show=False, id="table.page_down"),
        Binding("home", "first", _("First row"), show=False, id="table.first"),
        Binding("end", "last", _("Last row"), show=False, id="table.last"),
        Binding("space", "toggle", _("Select"), id="table.toggle",
                tooltip=_("Select or unselect the row and move down")),
        Binding("shift+up", "extend_up", _("Extend up"), show=False, id="table.extend_up"),
        Binding("shift+down", "extend_down", _("Extend down"), show=False,
                id="table.extend_down"),
        Binding("enter", "open", _("Open"), show=False, id="table.open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--selected",
        "virtual-table--check",
        "virtual-table--empty",
    }

    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .virtual-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .virtual-table--selected {
            background: $primary 25%;
        }
        & > .virtual-table--check {
            color: $accent;
            text-style: bold;
        }
        & > .virtual-table--empty {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class CursorMoved(Message):
        """The cursor is on another row (``row`` is None when the table is empty)."""

        def __init__(self, table: VirtualTable[Any], index: int, row: Any) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    class SelectionChanged(Message):
        """The selection set was changed by the table (space, shift+arrows, click)."""

        def __init__(self, table: VirtualTable[Any]) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    @dataclass
    class PageLoaded(Message):
        """A page of the source, fetched in a thread worker."""

        source: object
        number: int
        rows: Sequence[object] | None  # None: the query failed (logged); asked again when next drawn

    class RowActivated(Message):
        """``enter`` (or a double click) on a row."""

        def __init__(self, table: VirtualTable[Any], row: Any) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column[RowT]],
        *,
        selection: MutableSet[int] | None = None,
        selectable: bool = True,
        empty_text: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column[RowT]] = list(columns)
        self.selection: MutableSet[int] = selection if selection is not None else set()
        # without selection: no check-mark column, and space/shift+arrows do nothing
        self.selectable = selectable
        self._check_width = _CHECK_WIDTH if selectable else 1
        self.empty_text = empty_text or _("No rows")
        self._source: RowSource[RowT] | None = None
        self._count = 0
        self._pages: OrderedDict[int, Sequence[RowT]] = OrderedDict()
        self._fetching: set[int] = set()  # pages asked of a background source, not yet here
        self._cursor = 0
        self._columns_cache: tuple[int, list[tuple[Column[RowT], int]]] | None = None
        # shift+arrows: the row where the range started and the ids it added
        self._anchor: int | None = None
        self._range_added: set[int] = set()

    # ------------------------------------------------------------------ data

    @property
    def source(self) -> RowSource[RowT] | None:
        return self._source

    @property
    def row_count(self) -> int:
        return self._count

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def cursor_row(self) -> RowT | None:
        return self.row_at(self._cursor)

    def load(
        self,
        source: RowSource[RowT],
        *,
        count: int | None = None,
        first_page: Sequence[RowT] | None = None,
        keep_cursor: bool = False,
    ) -> None:
        """Show ``source``. ``count``/``first_page`` may be prefetched in a worker."""
        self._source = source
        self._pages.clear()
        self._fetching.clear()
        self._count = source.count() if count is None else count
        if first_page is not None:
            self._pages[0] = first_page
        self._end_range()
        cursor = self._cursor if keep_cursor else 0
        self._cursor = max(0, min(cursor, self._count - 1))
        self.virtual_size = Size(0, self._count + 1)
        if not keep_cursor:
            self.scroll_to(y=0, animate=False, immediate=True)
        self._scroll_cursor_into_view()
        self.refresh()
        self._post_cursor()

    def reload(self) -> None:
        """Data changed under the same source: forget the cache, keep the cursor."""
        if self._source is not None:
            self.load(self._source, keep_cursor=True)

    def loaded_rows(self) -> list[RowT]:
        """The rows fetched so far (the pages in the cache), as the user saw them."""
        return [row for page in self._pages.values() for row in page]

    def row_at(self, index: int) -> RowT | None:
        """The row at ``index``; ``None`` while its page is on its way (background sources)."""
        if self._source is None or not 0 <= index < self._count:
            return None
        number, offset = divmod(index, PAGE_SIZE)
        page = self._pages.get(number)
        if page is None:
            if getattr(self._source, "background", False):
                self._fetch(number)
                return None
            page = self._source.page(number * PAGE_SIZE, PAGE_SIZE)
            self._keep(number, page)
        else:
            self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _keep(self, number: int, page: Sequence[RowT]) -> None:
        self._pages[number] = page
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)

    def _fetch(self, number: int) -> None:
        if number in self._fetching:
            return
        self._fetching.add(number)
        source = self._source

        def fetch() -> None:  # in a thread
            try:
                rows = source.page(number * PAGE_SIZE, PAGE_SIZE)  # type: ignore[union-attr]
            except Exception:
                log.exception("reading a page of the list failed")
                rows = None
            self.post_message(self.PageLoaded(source, number, rows))

        self.run_worker(fetch, thread=True, group="virtual-table-pages", exit_on_error=False)

    def _on_virtual_table_page_loaded(self, message: VirtualTable.PageLoaded) -> None:
        message.stop()
        if message.source is not self._source or message.number not in self._fetching:
            return  # a page of a source no longer shown
        self._fetching.discard(message.number)
        if message.rows is None:
            return
        self._keep(message.number, message.rows)  # type: ignore[arg-type]
        self.refresh()
        if self._cursor // PAGE_SIZE == message.number:
            self._post_cursor()

    def refresh_selection(self) -> None:
        """The caller changed :attr:`selection`; redraw the visible rows."""
        self._end_range()
        self.refresh()

    # ---------------------------------------------------------------- cursor

    def move_cursor(self, index: int) -> None:
        if self._count == 0:
            return
        index = max(0, min(index, self._count - 1))
        if index == self._cursor:
            return
        old = self._cursor
        self._cursor = index
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._scroll_cursor_into_view()
        self._post_cursor()

    @property
    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + self._visible_rows:
            self.scroll_to(y=self._cursor - self._visible_rows + 1, animate=False, immediate=True)

    def _post_cursor(self) -> None:
        self.post_message(self.CursorMoved(self, self._cursor, self.cursor_row))

    def action_cursor_up(self) -> None:
        self._end_range()
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._end_range()
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._end_range()
        self.move_cursor(self._cursor - self._visible_rows)

    def action_page_down(self) -> None:
        self._end_range()
        self.move_cursor(self._cursor + self._visible_rows)

    def action_first(self) -> None:
        self._end_range()
        self.move_cursor(0)

    def action_last(self) -> None:
        self._end_range()
        self.move_cursor(self._count - 1)

    # ------------------------------------------------------------- selection

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (not self.selectable and action in ("toggle", "extend_up", "extend_down"))

    def action_toggle(self) -> None:  # type: ignore[override]  # the row's check mark (space), not DOMNode's attribute toggle
        """Select or unselect the row under the cursor, then move down."""
        self._end_range()
        row = self.cursor_row
        if row is None:
            return
        if row.id in self.selection:
            self.selection.discard(row.id)
        else:
            self.selection.add(row.id)
        self.refresh_line(self._cursor + 1)
        self.post_message(self.SelectionChanged(self))
        self.move_cursor(self._cursor + 1)

    def action_extend_up(self) -> None:
        self._extend(-1)

    def action_extend_down(self) -> None:
        self._extend(+1)

    def _extend(self, step: int) -> None:
        """Select the rows from where shift+arrows started to the cursor.

        Rows that were selected before the range started stay selected; rows the
        range added are unselected again when the range shrinks past them.
        """
        if self._count == 0:
            return
        if self._anchor is None:
            self._anchor = self._cursor
            self._range_added = set()
        self.move_cursor(self._cursor + step)
        low, high = sorted((self._anchor, self._cursor))
        in_range: set[int] = set()
        for index in range(low, high + 1):
            row = self.row_at(index)
            if row is not None:
                in_range.add(row.id)
        for row_id in self._range_added - in_range:
            self.selection.discard(row_id)
        added = self._range_added & in_range
        for row_id in in_range:
            if row_id not in self.selection:
                self.selection.add(row_id)
                added.add(row_id)
        self._range_added = added
        self.refresh()
        self.post_message(self.SelectionChanged(self))

    def _end_range(self) -> None:
        self._anchor = None
        self._range_added = set()

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowActivated(self, row))

    # ----------------------------------------------------------------- mouse

    async def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        index = meta.get("row")
        if not isinstance(index, int):
            return
        self._end_range()
        self.move_cursor(index)
        row = self.cursor_row
        if meta.get("check") and row is not None and self.selectable:
            if row.id in self.selection:
                self.selection.discard(row.id)
            else:
                self.selection.add(row.id)
            self.refresh_line(index + 1)
            self.post_message(self.SelectionChanged(self))
        elif event.chain >= 2:
            self.action_open()

    # --------------------------------------------------------------- drawing

    def _layout(self, width: int) -> list[tuple[Column[RowT], int]]:
        if self._columns_cache is not None and self._columns_cache[0] == width:
            return self._columns_cache[1]
        columns = [c for c in self.columns if width >= c.hide_below]
        fixed = sum(c.width for c in columns if c.width) + _GAP * len(columns)
        flexible = [c for c in columns if not c.width]
        remaining = max(0, width - self._check_width - fixed)
        total_weight = sum(c.weight for c in flexible) or 1
        widths: dict[str, int] = {}
        left = remaining
        for number, column in enumerate(flexible):
            if number == len(flexible) - 1:
                share = left
            else:
                share = remaining * column.weight // total_weight
            widths[column.key] = max(column.min_width, share)
            left -= share
        layout = [(c, c.width or widths[c.key]) for c in columns]
        self._columns_cache = (width, layout)
        return layout

    def _line(self, cells: Sequence[tuple[Text, int, str]], check: Text, style: Style,
              width: int, meta: dict[str, object]) -> Strip:
        line = Text(no_wrap=True, overflow="crop", end="")
        line.append_text(check)
        for text, cell_width, justify in cells:
            text.truncate(cell_width, overflow="ellipsis")
            text.align(justify, cell_width)  # type: ignore[arg-type]
            line.append_text(text)
            line.append(" " * _GAP)
        segments = list(line.render(self.app.console))
        strip = Strip(Segment.apply_style(segments, style), line.cell_len)
        strip = strip.adjust_cell_length(width, style)
        if meta:
            strip = strip.apply_meta(meta)
        return strip

    def _header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("virtual-table--header")
        cells = [(Text(c.label), w, c.justify) for c, w in self._layout(width)]
        return self._line(cells, Text(" " * self._check_width), style, width, {})

    def _row(self, index: int, width: int) -> Strip:
        row = self.row_at(index)
        if row is None:
            return Strip.blank(width, self.rich_style)
        style = self.rich_style
        selected = row.id in self.selection
        if selected:
            style += self.get_component_rich_style("virtual-table--selected")
        if index == self._cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        cells = [(_clean(c.cell(row)), w, c.justify) for c, w in self._layout(width)]
        if not self.selectable:
            return self._line(cells, Text(" "), style, width, {"row": index})
        check = Text(f" {CHECK_ON if selected else CHECK_OFF} ")
        if selected:
            check.stylize(self.get_component_rich_style("virtual-table--check"), 1, 4)
        strip = self._line(cells, check, style, width, {"row": index})
        check_strip = strip.crop(0, _CHECK_WIDTH).apply_meta({"row": index, "check": True})
        return Strip.join([check_strip, strip.crop(_CHECK_WIDTH, width)])

    def _empty(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("virtual-table--empty")
        text = Text(f"  {self.empty_text}")
        return self._line([], text, style, width, {})

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        if self._count == 0:
            return self._empty(width) if y == 1 else Strip.blank(width, self.rich_style)
        return self._row(round(self.scroll_y) + y - 1, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._columns_cache = None

    def on_resize(self) -> None:
        self._columns_cache = None
        self._scroll_cursor_into_view()
