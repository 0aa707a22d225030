"""What every panel screen shares (the context, the navigation line, the footer), and the base of
every modal: :class:`DialogScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual import events
from textual.screen import ModalScreen, Screen

from ksef_tui.ui.widgets.nav_bar import NavBar

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext
    from ksef_tui.ui.app import KsefApp

ResultT = TypeVar("ResultT")


class PanelScreen(Screen[ResultT]):
    """A screen of the panel; ``SECTION`` is the navigation item it belongs to."""

    SECTION: ClassVar[str] = "companies"

    # Opening a screen: two passes Textual makes over a screen pushed just now are left out. Both
    # handlers run before Textual's own (handlers run down the class hierarchy).
    _resumed = False
    _resized = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual restyles the whole screen each time it is made active; a screen pushed just now
        # was styled widget by widget as it was mounted, so its first activation skips that second
        # pass over every widget (~9 ms for a list screen). Later ones (back from a dialog, another
        # section, a theme changed meanwhile) restyle as Textual does.
        if not self._resumed:
            event.refresh_styles = False
        self._resumed = True

    async def _on_resize(self, event: events.Resize) -> None:
        # The first layout of a screen places it at the terminal's size and then sends it a Resize
        # for that very size, on which Textual lays out and draws the screen, and every screen under
        # it, again (~9 ms). That one is not passed on; a real resize is (another size, or any later
        # one), and so is any Resize of a screen with breakpoints (the panel's have none).
        first, self._resized = not self._resized, True
        if first and event.size == self._compositor.size and not self._has_breakpoints():
            event.stop()
            event.prevent_default()

    def _has_breakpoints(self) -> bool:
        app = self.app
        return bool(self.HORIZONTAL_BREAKPOINTS or self.VERTICAL_BREAKPOINTS or app.HORIZONTAL_BREAKPOINTS
                    or app.VERTICAL_BREAKPOINTS)

    @property
    def panel(self) -> KsefApp:
        return cast("KsefApp", self.app)

    @property
    def ctx(self) -> AppContext:
        return self.panel.ctx

    def nav_bar(self) -> NavBar:
        return NavBar(self.SECTION, self.panel.actor.login)


class DialogScreen(ModalScreen[ResultT]):
    """Every modal of the panel (dialogs, the help, the file picker, the Profil Zaufany wizard):
    centred over the screen it was opened from, which stays visible, dimmed (``DialogScreen`` in
    app.tcss, after the ``Screen`` rule it overrides)."""

    @property
    def panel(self) -> KsefApp:
        return cast("KsefApp", self.app)
