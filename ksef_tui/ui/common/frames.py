"""A form too large for one turn of the event loop, mounted a part per frame.

Textual composes, styles, mounts, lays out and draws everything mounted in one turn of the event
loop; a form of 40-60 widgets held the loop 40-60 ms so. :class:`PartPerFrame` runs a widget's
parts one per frame, each once the screen has laid out and drawn the one before (a timer of a
frame, as Textual's ``Reveal`` uses, could fire in the same turn as the screen's update of the
part before: 59 ms in one turn, switching the user's KSeF form to Certificate), and says when the
last one is there.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable

from textual.widget import Widget

Part = Callable[[], Awaitable[object] | None]

#: the instances with parts still to mount
_mounting: weakref.WeakSet[PartPerFrame] = weakref.WeakSet()


def mounting(app: object) -> bool:
    """Some widget of ``app`` still has parts to mount (tests wait for none before looking at a screen)."""
    return any(not parts.done and parts.owner.ancestors_with_self[-1] is app for parts in list(_mounting))


class PartPerFrame:
    """``PartPerFrame(owner)``; :meth:`add` parts (callables mounting something into ``owner``'s
    subtree, awaitable or not); :meth:`when_done` runs a callback once no part is waiting.
    ``expect_parts``: not done before the first :meth:`add` (an owner adding them when mounted)."""

    def __init__(self, owner: Widget, *, expect_parts: bool = False) -> None:
        self.owner = owner
        self._expected = expect_parts
        self._parts: list[Part] = []
        self._waiting: list[Callable[[], object]] = []
        self._running = False

    @property
    def done(self) -> bool:
        """No part is expected, waiting or being mounted."""
        return not self._expected and not self._parts and not self._running

    def add(self, *parts: Part) -> None:
        """Mount ``parts`` a frame apart, after the ones already waiting (none: done, if it was
        only expecting them)."""
        self._expected = False
        self._parts.extend(parts)
        if self._running:
            return
        if self._parts:
            self._running = True
            _mounting.add(self)
            self._after_frame()
        else:
            self._finish()

    def when_done(self, callback: Callable[[], object]) -> None:
        """``callback()`` now if every part is there, else once the last is."""
        if self.done:
            callback()
        else:
            self._waiting.append(callback)

    def _after_frame(self) -> None:
        """The next part, in a turn of its own after the screen's next update: the callback runs in
        the screen's message loop; the part, in the owner's."""
        self.owner.call_after_refresh(self.owner.call_later, self._next)

    async def _next(self) -> None:
        more = False
        try:
            if self.owner.is_attached:
                mounted = self._parts.pop(0)()
                if inspect.isawaitable(mounted):
                    await mounted  # cancelled if the owner is removed meanwhile
            more = bool(self._parts) and self.owner.is_attached
        finally:
            if more:
                self._after_frame()
            else:
                self._finish()

    def _finish(self) -> None:
        """All there; or the owner was removed meanwhile (the cursor moved on): nothing more comes."""
        complete = not self._parts and self.owner.is_attached
        self._parts.clear()
        self._running = False
        _mounting.discard(self)
        waiting, self._waiting = self._waiting, []
        if complete:
            for callback in waiting:
                callback()
