"""The Textual application: the panel's sections as modes, help, command palette."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from ksef_tui.i18n import _
from ksef_tui.services.context import AppContext
from ksef_tui.ui.commands.panel import PanelCommands
from ksef_tui.ui.screens.companies import CompaniesScreen
from ksef_tui.ui.screens.help import HelpScreen
from ksef_tui.ui.screens.dashboard import KsefDashboardScreen
from ksef_tui.ui.screens.users import UsersScreen


class KsefApp(App[None]):
    """``KsefApp(ctx)``: the panel for the actor and database in ``ctx``."""

    CSS_PATH = "app.tcss"
    TITLE = "ksef-tui"

    SCREENS: ClassVar[dict] = {
        "companies": CompaniesScreen,
        "users": UsersScreen,
        "ksef": KsefDashboardScreen,
    }
    MODES: ClassVar[dict] = {"companies": "companies", "users": "users", "ksef": "ksef"}
    DEFAULT_MODE: ClassVar[str] = "companies"
    COMMANDS = App.COMMANDS | {PanelCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", _("Help"), key_display="?", id="app.help",
                tooltip=_("Show the keys")),
        Binding("f1", "help", _("Help"), show=False, id="app.help_f1", tooltip=_("Show the keys")),
        Binding("f2", "goto('companies')", _("Companies"), show=False, id="app.companies",
                tooltip=_("Users and Companies → Companies")),
        Binding("f3", "goto('users')", _("Users"), show=False, id="app.users",
                tooltip=_("Users and Companies → Users")),
        Binding("f4", "goto('ksef')", _("KSeF"), show=False, id="app.ksef",
                tooltip=_("The KSeF section")),
        Binding("ctrl+p", "command_palette", _("Commands"), show=False, priority=True,
                id="app.command_palette", tooltip=_("All commands")),
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True, id="app.quit",
                tooltip=_("Quit")),
        Binding("ctrl+c", "help_quit", show=False, system=True, id="app.help_quit"),
    ]

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx

    def action_goto(self, mode: str) -> None:
        """Switch section; not while a dialog is open (it belongs to the current one)."""
        if isinstance(self.screen, ModalScreen):
            return
        self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def companies_screen(self) -> CompaniesScreen:
        screen = self.get_screen("companies")
        assert isinstance(screen, CompaniesScreen)
        return screen

    def serial_ksef(self, enabled: bool) -> None:
        """Command palette: enable/disable KSeF for the selected companies."""
        self.action_goto("companies")
        self.companies_screen().run_serial_operation(enabled)

    def companies_action(self, action: str) -> None:
        self.action_goto("companies")
        screen = self.companies_screen()
        getattr(screen, f"action_{action}")()
