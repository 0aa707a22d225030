"""Users and Companies → Users → (a user): details and the "may configure KSeF" switch.

The switch (space or Enter toggles it) is saved at once through the service with the
version that was loaded: if someone else changed the user meanwhile, the service refuses,
the screen says so and shows the user as the database now holds them; nothing is
overwritten. The user's KSeF settings (environment, token or certificate, authorization)
are on their KSeF screen: ``k`` here, or Enter on the Users list.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Static, Switch

from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ConflictError, ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.users import UserDetail
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.users.users import role_label
from ksef_tui.ui.widgets.footer import PanelFooter

LABEL_WIDTH = 20


class UserDetailScreen(PanelScreen[None]):
    SECTION = "users"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="user.back"),
        Binding("k", "ksef", _("KSeF"), id="user.ksef",
                tooltip=_("The user's KSeF settings: environment, token or certificate, authorization")),
        Binding("f5", "reload", _("Reload"), id="user.reload", tooltip=_("Load the user again")),
    ]

    DEFAULT_CSS = """
    UserDetailScreen {
        #user-fields { padding: 1 2 0 2; }
        #user-may-row { height: auto; padding: 0 2; }
        #user-may-label { width: 20; text-style: bold; }
        /* one line, like the KSeF switch in a company's "Additional data" */
        #in-may_configure { border: none; height: 1; padding: 0 1; background: $surface; }
        #in-may_configure:focus { border: none; background: $block-cursor-blurred-background; }
        #user-may-state { width: 1fr; padding: 0 0 0 2; color: $text-muted; }
        #user-message { height: auto; padding: 0 2; margin: 1 0 0 0; color: $text-success; }
        #user-message.-error { color: $text-error; text-style: bold; }
        #user-companies { padding: 1 2; }
    }
    """

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id
        self.detail: UserDetail | None = None

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(id="detail-title")
        with VerticalScroll(id="user-detail"):
            yield Static(id="user-fields")
            with Horizontal(id="user-may-row"):
                yield Label(_("May configure KSeF"), id="user-may-label")
                yield Switch(id="in-may_configure",
                             tooltip=_("May the user configure KSeF themselves after logging in? Space toggles."))
                yield Label("", id="user-may-state")
            yield Static("", id="user-message")
            yield Static(id="user-companies")
        yield PanelFooter()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#in-may_configure", Switch).focus()

    # ------------------------------------------------------------------ data

    def load(self) -> None:
        """Show the user as the database holds them now."""
        try:
            user = self.ctx.users.get(self.ctx.actor, self.user_id)
            companies = self.ctx.users.companies_of(self.ctx.actor, self.user_id)
        except ServiceError as exc:
            self.detail = None
            self.query_one("#user-fields", Static).update(Text(str(exc)))
            self.query_one("#user-may-row").display = False
            return
        self.detail = user
        self.query_one("#user-may-row").display = True
        title = Text()
        title.append(user.full_name, style="bold")
        title.append(f"   {user.login}")
        self.query_one("#detail-title", Static).update(title)
        text = Text()
        for label, value in (
            (_("Login"), user.login),
            (_("Full name"), user.full_name),
            (_("E-mail"), user.email or "—"),
            (_("Role"), role_label(user.role)),
            (_("Active"), _("yes") if user.active else _("no")),
        ):
            text.append(f"{label:<{LABEL_WIDTH}}", style="bold")
            text.append(f"{value}\n")
        self.query_one("#user-fields", Static).update(text)
        with self.prevent(Switch.Changed):
            self.query_one("#in-may_configure", Switch).value = user.may_configure_ksef
        self._show_state(user.may_configure_ksef)
        self._show_companies(companies)

    def _show_state(self, allowed: bool) -> None:
        self.query_one("#user-may-state", Label).update(
            _("allowed: they configure KSeF themselves after logging in") if allowed
            else _("blocked: they see their KSeF settings read-only"))

    def _show_companies(self, companies: list[tuple[int, str, str, bool]]) -> None:
        text = Text()
        text.append(_("Companies ({n})").format(n=len(companies)) + "\n", style="bold")
        for _id, name, nip, ksef in companies:
            text.append(f"  {format_nip(nip)}  ")
            text.append(name)
            state = _("KSeF on") if ksef else _("KSeF off")
            text.append(f"  ({state})\n")
        text.append("\n")
        text.append(_("The user's KSeF settings (environment, token or certificate, authorization): "
                      "press k, or Enter on the Users list."), style="italic")
        self.query_one("#user-companies", Static).update(text)

    def show_message(self, message: str, *, error: bool = False) -> None:
        widget = self.query_one("#user-message", Static)
        widget.update(Text(message))
        widget.set_class(error and bool(message), "-error")

    # ------------------------------------------------------------------ save

    @on(Switch.Changed, "#in-may_configure")
    def _switched(self, event: Switch.Changed) -> None:
        event.stop()
        if self.detail is None:
            return
        try:
            saved = self.ctx.users.set_may_configure(self.ctx.actor, self.user_id, self.detail.version,
                                                     event.value)
        except ConflictError:
            self.load()
            self.show_message(
                _("Someone else changed this user meanwhile: nothing was saved, and the screen now shows "
                  "their current state. Toggle again if it is still needed."), error=True)
            return
        except ServiceError as exc:
            self.load()  # the switch goes back to what the database holds
            self.show_message(_("Not saved: {reason}").format(reason=exc), error=True)
            return
        self.detail = saved
        self._show_state(saved.may_configure_ksef)
        done = (_("Saved: {name} may configure KSeF themselves.") if saved.may_configure_ksef
                else _("Saved: {name} may no longer configure KSeF themselves."))
        self.show_message(done.format(name=saved.full_name))

    # --------------------------------------------------------------- actions

    def action_ksef(self) -> None:
        from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

        self.app.push_screen(UserKsefScreen(self.ctx, self.user_id))

    def action_reload(self) -> None:
        self.load()
        self.show_message("")

    def action_back(self) -> None:
        self.dismiss(None)
