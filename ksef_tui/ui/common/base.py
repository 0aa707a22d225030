"""What every panel screen shares (the context, the navigation line, the footer), and the base of
every modal: :class:`DialogScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual.screen import ModalScreen, Screen

from ksef_tui.ui.widgets.nav_bar import NavBar

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext
    from ksef_tui.ui.app import KsefApp

ResultT = TypeVar("ResultT")


class PanelScreen(Screen[ResultT]):
    """A screen of the panel; ``SECTION`` is the navigation item it belongs to."""

    SECTION: ClassVar[str] = "companies"

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
