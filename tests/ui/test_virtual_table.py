"""VirtualTable alone: renders only visible rows, fetches pages lazily, escapes user text."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult

from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE, Column, VirtualTable


@dataclass(frozen=True)
class Row:
    id: int
    name: str


class CountingSource:
    def __init__(self, n: int) -> None:
        self.n = n
        self.pages: list[tuple[int, int]] = []

    def count(self) -> int:
        return self.n

    def page(self, offset: int, limit: int) -> list[Row]:
        self.pages.append((offset, limit))
        return [Row(i, f"Firma {i} [/]\nline") for i in range(offset, min(offset + limit, self.n))]


class TableApp(App[None]):
    def __init__(self, source: CountingSource) -> None:
        super().__init__()
        self.source = source
        self.selection: set[int] = set()

    def compose(self) -> ComposeResult:
        yield VirtualTable[Row]([Column("name", "Name", lambda r: r.name)], selection=self.selection)

    def on_mount(self) -> None:
        self.query_one(VirtualTable).load(self.source)


async def test_hundred_thousand_rows_fetch_only_what_is_shown() -> None:
    source = CountingSource(100_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        assert table.row_count == 100_000
        assert source.pages == [(0, PAGE_SIZE)]
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == 99_999
        assert source.pages[-1] == (99_900, PAGE_SIZE)
        assert len(source.pages) == 2
        line = table.render_line(table.scrollable_content_region.height - 1).text
        assert "Firma 99999 [/] line" in line  # markup and newline are just text


class DatabaseLikeSource(CountingSource):
    """A source that reads a database: its pages must never be read on the event loop."""

    background = True

    def __init__(self, n: int) -> None:
        super().__init__(n)
        import threading

        self.loop_thread = threading.get_ident()
        self.on_loop: list[tuple[int, int]] = []

    def page(self, offset: int, limit: int) -> list[Row]:
        import threading

        if threading.get_ident() == self.loop_thread:
            self.on_loop.append((offset, limit))
        return super().page(offset, limit)


async def test_a_database_source_is_paged_in_a_thread_the_end_key_too() -> None:
    from tests.pilot import wait_until

    source = DatabaseLikeSource(1_000_000)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await wait_until(pilot, lambda: table.cursor_row is not None, "the first page")
        await pilot.press("end")
        assert table.cursor == 999_999
        await wait_until(pilot, lambda: table.cursor_row is not None, "the last page")
        assert table.cursor_row.id == 999_999 and (999_900, PAGE_SIZE) in source.pages
        await pilot.pause()
        line = table.render_line(table.scrollable_content_region.height - 1).text
        assert "Firma 999999" in line
    assert source.on_loop == []


async def test_space_toggles_ids_in_the_callers_set() -> None:
    app = TableApp(CountingSource(10))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space", "space", "up", "space")
        assert app.selection == {0}
        assert app.query_one(VirtualTable).cursor == 2


async def test_empty_source_shows_the_empty_text() -> None:
    app = TableApp(CountingSource(0))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(VirtualTable)
        await pilot.press("space", "down", "enter", "shift+down")
        assert "No rows" in table.render_line(1).text
        assert app.selection == set()
