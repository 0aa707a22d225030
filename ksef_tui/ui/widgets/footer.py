"""The panel's footer: Textual's compact :class:`~textual.widgets.Footer`, rebuilt only when what it
shows changes.

Textual's footer draws no key when it is mounted, and then rebuilds all its keys (removes them,
composes, mounts and styles new ones: 7-15 ms at 120 columns) each time its screen says the
bindings may have changed, which a screen being opened says several times in one tick (the
screen resumed, Textual's focus, the focus the screen sets, its bindings refreshed): a list
screen's footer was built eight times before its first frame with rows, each time the same keys.
Here the keys are composed with the footer, the changes until the next refresh ask for one look,
and the keys are rebuilt only if what they would show differs from what they show. Each key is
also made with its ``-compact`` class (Textual binds it after mounting, which styled every key
a second time). It looks exactly as Textual's; only when it does the work differs.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class PanelFooter(Footer):
    """``PanelFooter()``: ``Footer(compact=True)``, rebuilt only when its keys change."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._rebuild_due = False
        self._shown: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[Any, ...]:
        """Everything :meth:`Footer.compose` draws from (equal: it would draw the same keys)."""
        app = self.app
        active = self.screen.active_bindings
        shown = tuple((binding, app.get_key_display(binding), enabled, tooltip)
                      for (_, binding, enabled, tooltip) in active.values() if binding.show)
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        palette_key = None if palette is None else (palette.binding, app.get_key_display(palette.binding),
                                                    palette.enabled)
        return (self.compact, self.combine_groups, self.show_command_palette and app.ENABLE_COMMAND_PALETTE,
                shown, palette_key)

    def compose(self) -> ComposeResult:
        self._shown = self._keys() if self._bindings_ready else None
        for widget in super().compose():
            if isinstance(widget, FooterKey):  # what binding ``compact`` on mount would set, styled once
                widget.set_class(self.compact, "-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        # Textual's Footer.bindings_changed, with one pending look at most
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_due:
            self._rebuild_due = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_due = False  # a change from here on asks for another look
        if self.is_attached and self._keys() != self._shown:
            await self.recompose()
