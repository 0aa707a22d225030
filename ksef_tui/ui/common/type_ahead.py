"""Type-ahead that lands where the user meant: a key that may move the focus is handled whole
before the next key (or paste) is given to anyone.

Textual hands each key to the focused widget's message queue at once; Tab, Enter, Esc and the
F-keys take effect only after the key has bubbled up to the app's bindings, and Enter's "next
field" only after the form has handled ``Input.Submitted``. Keys typed meanwhile (a password
manager's auto-type, a fast typist, a paste) were already queued for the old widget: the password
landed in the login field, in clear. :class:`SettledKeys` holds input that arrives while such a
key is in flight and lets it go, in order, once every widget from the one that got the key up to
the screen (and the one focused now) has nothing left to do.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import Screen

#: keys whose handling may move the focus or change the screen
SETTLING_KEYS = frozenset({"tab", "shift+tab", "enter", "escape", "ctrl+s", "ctrl+o"} |
                          {f"f{n}" for n in range(1, 13)})
#: rounds through the widgets before the held input goes anyway (nothing waits for ever)
MAX_ROUNDS = 12


class SettledKeys(App[None]):
    """Mix into the app (before :class:`App`): input after a :data:`SETTLING_KEYS` key waits for it."""

    _held: list[events.Event] | None = None
    _in_flight: list[MessagePump] | None = None

    async def on_event(self, event: events.Event) -> None:
        raw = isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded
        if raw and self._in_flight is not None:
            if self._held is None:
                self._held = []
            self._held.append(event)
            return
        if raw and isinstance(event, events.Key) and event.key in SETTLING_KEYS:
            target = self.focused or self.screen
            await super().on_event(event)
            self._settle(self._chain(target))
            return
        await super().on_event(event)

    # ------------------------------------------------------------------ settling

    @staticmethod
    def _chain(node: Any) -> list[MessagePump]:  # a widget or the screen (MessagePump has no parent)
        """``node`` and its ancestors up to its screen."""
        chain = [node]
        while not isinstance(node, Screen) and node.parent is not None and not isinstance(node.parent, App):
            node = node.parent
            chain.append(node)
        return chain

    def _settle(self, chain: list[MessagePump], rounds: int = 0) -> None:
        """One round: a callback passes through every widget of ``chain`` in turn (each runs after
        what that widget had queued, including what the previous one bubbled to it), then the app's."""
        self._in_flight = chain

        def step(i: int) -> None:
            while i < len(chain):
                if chain[i].call_later(step, i + 1):
                    return
                i += 1  # closed meanwhile: skip it
            self.call_later(self._round_done, chain, rounds + 1)

        step(0)

    def _round_done(self, chain: list[MessagePump], rounds: int) -> None:
        focused = self.focused or self.screen
        busy = [node for node in (*chain, *self._chain(focused)) if node.message_queue_size]
        if busy and rounds < MAX_ROUNDS:
            self._settle(list(dict.fromkeys((*chain, *self._chain(focused)))), rounds)
            return
        self._in_flight = None
        self.call_later(self._release)

    async def _release(self) -> None:
        """Give the held input out in order; a settling key among it holds the rest again."""
        while self._held and self._in_flight is None:
            await self.on_event(self._held.pop(0))
