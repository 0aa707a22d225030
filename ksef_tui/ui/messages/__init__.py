"""Typed messages that workers post back to the screens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ksef_tui.services.results import SerialResult

if TYPE_CHECKING:
    from ksef_tui.ui.common.id_set import IdSet


@dataclass
class RowsLoaded(Message):
    """A filtered list was counted and its first page fetched (in a worker); no first page: a
    reload of the same list, which keeps its cursor (the table fetches the pages it shows)."""

    generation: int
    source: Any
    count: int
    first_page: Sequence[Any] | None
    #: the selected ids the filter hides (None: nothing was selected when it ran)
    hidden: frozenset[int] | None = None


@dataclass
class IdsLoaded(Message):
    """All ids of the filtered list, for "select all" or "invert selection" (a set the worker built)."""

    generation: int
    purpose: str  # "select_all" | "invert"
    ids: IdSet


@dataclass
class LoadFailed(Message):
    """A list could not be read; ``message`` is for the user (empty: a stale query was stopped, as asked)."""

    message: str


@dataclass
class SerialProgress(Message):
    """A serial operation has handled ``done`` of ``total`` companies."""

    done: int
    total: int


@dataclass
class SerialFinished(Message):
    """A serial operation ended: ``result`` on success, else ``error`` (nothing changed)."""

    enabled: bool
    result: SerialResult | None = None
    error: str | None = None
    cancelled: bool = False
