"""Users and Companies → Users → (a user): read-only for now.

The user's KSeF screen (environment, token or certificate, authorization)
comes in a later version; this screen says so.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from ksef_tui.domain.nip import format_nip
from ksef_tui.i18n import _
from ksef_tui.services.errors import ServiceError
from ksef_tui.ui.screens.base import PanelScreen
from ksef_tui.ui.screens.users import role_label


class UserDetailScreen(PanelScreen[None]):
    SECTION = "users"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="user.back"),
    ]

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(id="detail-title")
        with VerticalScroll(id="user-detail"):
            yield Static(id="user-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        try:
            user = self.ctx.users.get(self.ctx.actor, self.user_id)
            companies = self.ctx.users.companies_of(self.ctx.actor, self.user_id)
        except ServiceError as exc:
            self.query_one("#user-text", Static).update(Text(str(exc)))
            return
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
            (_("May configure KSeF"), _("yes") if user.may_configure_ksef else _("no")),
        ):
            text.append(f"{label:<20}", style="bold")
            text.append(f"{value}\n")
        text.append("\n")
        text.append(_("Companies ({n})").format(n=len(companies)) + "\n", style="bold")
        for _id, name, nip, ksef in companies:
            text.append(f"  {format_nip(nip)}  ")
            text.append(name)
            state = _("KSeF on") if ksef else _("KSeF off")
            text.append(f"  ({state})\n")
        text.append("\n")
        text.append(
            _("The user's KSeF settings (environment, token or certificate, authorization) "
              "come in a later version."),
            style="italic",
        )
        self.query_one("#user-text", Static).update(text)

    def action_back(self) -> None:
        self.dismiss(None)
