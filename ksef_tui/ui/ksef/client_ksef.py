"""The client's view: Profile → KSeF configuration, and nothing else of the panel.

The same table and forms as the administrator's Users → (a user) → KSeF
(:class:`UserKsefScreen` and its :class:`KsefCredentialPanel`), for the logged-in user
only: the services show a client only their companies with KSeF on. When the
administrator has blocked self-service, the form is read-only (disabled) and the screen
says whom to ask; the services refuse writes anyway. F5 reloads (and re-reads the switch).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Label, Static

from ksef_tui.domain.clock import Clock
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.context import AppContext
from ksef_tui.ui.ksef.user_ksef import UserKsefScreen


class ClientBar(Horizontal):
    """Top line of the client's view: where they are, who they are."""

    DEFAULT_CSS = """
    ClientBar {
        height: 1;
        width: 1fr;
        background: $panel;
        & > .client-where { padding: 0 1; background: $primary; color: $text; text-style: bold; }
        & > .client-spacer { width: 1fr; }
        & > .client-actor { color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, login: str) -> None:
        super().__init__()
        self.login = login

    def compose(self) -> ComposeResult:
        yield Label(_("Profile → KSeF configuration"), classes="client-where")
        yield Label("", classes="client-spacer")
        yield Label(self.login, classes="client-actor", markup=False)


class ClientKsefScreen(UserKsefScreen):
    """``ClientKsefScreen(ctx, user_id)``: the logged-in client's own KSeF settings."""

    SECTION = "client"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="client_ksef.back",
                tooltip=_("Cancel the running KSeF step; then back to the table")),
        Binding("ctrl+q", "app.quit", _("Log out"), id="client_ksef.quit", tooltip=_("Log out and quit")),
    ]

    DEFAULT_CSS = """
    ClientKsefScreen #client-blocked { height: auto; display: none; padding: 0 1; color: $text-warning;
                                       border-left: thick $warning; margin: 0 0 1 0; }
    ClientKsefScreen.-blocked #client-blocked { display: block; }
    """

    def __init__(self, ctx: AppContext, user_id: int, *, clock: Clock | None = None) -> None:
        super().__init__(ctx, user_id, clock=clock)
        self.add_class("client-ksef")
        self.blocked = False

    def nav_bar(self) -> ClientBar:  # type: ignore[override]
        return ClientBar(self.ctx.actor.login)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Static) and widget.id == "ksef-title":
                yield widget
                yield Static(id="client-blocked", markup=False)
            else:
                yield widget

    def on_mount(self) -> None:
        # Textual then runs UserKsefScreen.on_mount itself (handlers are called along the
        # MRO), which loads the table (title_words and empty_note say it in the client's terms)
        self.read_switch()

    def read_switch(self) -> None:
        """Is self-service allowed? Blocked: a read-only form and whom to ask."""
        from ksef_tui.services.accounts import AccountService

        try:
            allowed = self.ctx.users.get(self.ctx.actor, self.user_id).may_configure_ksef
        except ServiceError:
            allowed = False
        self.blocked = not allowed
        self.set_class(self.blocked, "-blocked")
        if self.blocked:
            admins = AccountService(self.ctx.db, clock=self.ctx.clock).administrators()
            who = "; ".join(f"{a.full_name} <{a.email}>" if a.email else a.full_name for a in admins)
            text = _("Your administrator has not allowed you to configure KSeF yourself: "
                     "the settings below are read-only.")
            if who:
                text += " " + _("Ask: {who}").format(who=who)
            self.query_one("#client-blocked", Static).update(text)
        panel = self.panel_widget()
        if panel is not None:
            panel.disabled = self.blocked
        self.refresh_bindings()

    def title_words(self) -> str:
        return _("KSeF configuration")

    def empty_note(self) -> str:
        return _("None of your companies has KSeF switched on yet; ask your administrator.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "test" and self.blocked:
            return False  # read-only: no "Test authorization" in the footer either
        return super().check_action(action, parameters)

    def show_row(self, key: str) -> None:
        if key == self.current and self.panel_widget() is not None:
            return  # already shown (the first row comes both after refresh and highlighted)
        super().show_row(key)
        panel = self.panel_widget()
        if panel is not None:
            panel.disabled = self.blocked

    def action_reload(self) -> None:
        self.read_switch()
        super().action_reload()
