"""A list's count and first page read in a thread from the moment its screen is made.

A list screen starts reading them in its ``__init__`` (:class:`ListScreen`); composing, styling and
mounting the screen on the event loop take about as long, so the rows are usually there when it is
mounted and its first frame shows them (one layout and one drawing instead of two). When they are
not, the screen's rows worker waits for them instead of reading them again.

The read starts at once in a thread of its own (a Textual worker would start its thread only on a
later turn of the event loop, after the screen had been composed and mounted).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE

FirstRows = Future[tuple[int, Sequence[Any]]]

#: how long a list being mounted waits for rows already being read (seconds). The read itself takes
#: 3-5 ms at 1,000,000 companies, but while the event loop composes the screen it gets the interpreter
#: lock only now and then (15-45 ms); waited for, it has it. Not there by then: the list is drawn
#: without them and they follow from the rows worker (a second layout and drawing, ~20 ms).
WAIT_AT_MOUNT = 0.015

#: two lists may be opened at once (a section and the list over it); reads are short
_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ksef-tui-read-ahead")


class Countable(Protocol):
    def count(self) -> int: ...

    def page(self, offset: int, limit: int) -> Sequence[Any]: ...


def _read(source: Countable) -> tuple[int, Sequence[Any]]:
    return source.count(), source.page(0, PAGE_SIZE)


def first_rows_shortly(first: FirstRows) -> None:
    """Wait at most :data:`WAIT_AT_MOUNT` for rows being read (on the event loop: never longer)."""
    wait([first], timeout=WAIT_AT_MOUNT)


def read_first_rows(source: Countable) -> FirstRows:
    """Start reading ``source``'s count and first page; the future has them (or what went wrong: the
    rows worker then reads them again and says what is wrong)."""
    return _READERS.submit(_read, source)
