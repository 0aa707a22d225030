"""A list's count and first page read in a thread worker before its screen is mounted.

A list screen starts reading them when it is made (:meth:`ListScreen.__init__`); composing, styling
and mounting the screen on the event loop take about as long, so the rows are usually there when it
is mounted and its first frame shows them (one layout and one drawing instead of two). When they are
not, the screen's rows worker waits for them instead of reading them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from textual.app import App

from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE

FirstRows = Future[tuple[int, Sequence[Any]]]


class Countable(Protocol):
    def count(self) -> int: ...

    def page(self, offset: int, limit: int) -> Sequence[Any]: ...


def read_first_rows(app: App[Any], source: Countable, description: str) -> FirstRows:
    """Start reading ``source``'s count and first page; the future has them (or what went wrong)."""
    first: FirstRows = Future()

    def read() -> None:
        try:
            first.set_result((source.count(), source.page(0, PAGE_SIZE)))
        except Exception as exc:  # the rows worker reads them again and says what is wrong
            first.set_exception(exc)

    app.run_worker(read, thread=True, group="read-ahead", exit_on_error=False, description=description)
    return first
