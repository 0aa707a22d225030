"""Users and Companies → Users → (a user) → KSeF (PL "Krajowy System e-Faktur (KSeF)").

One compact table of the user's companies × environments (company, NIP, environment,
login method, status) and, under it, the form of the chosen row. Enter or Tab goes to
the form, ``t`` tests the authorization of the selected row, Esc cancels running work,
then goes back to the table, then back to the users.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Footer, Static

from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.i18n import _
from ksef_tui.services.context import AppContext
from ksef_tui.services.credentials import CredentialView, describe
from ksef_tui.services.errors import ServiceError
from ksef_tui.ui.screens.base import PanelScreen
from ksef_tui.ui.widgets.ksef_panel import KsefCredentialPanel
from ksef_tui.ui.widgets.ksef_status import (
    STATE_STYLE,
    Clock,
    CredentialChanged,
    KsefProblem,
    env_short,
    method_label,
    system_clock,
)

# fixed column widths (cells get one column of padding on each side)
NIP_W, ENV_W, METHOD_W = 13, 4, 5
STATUS_MIN, STATUS_MAX, COMPANY_MIN, COMPANY_WANTED = 26, 40, 10, 17

# DataTable cells are Rich text: the status colours are looked up in the current theme
_STATE_VARIABLE = {"$success": "text-success", "$error": "text-error", "$warning": "text-warning",
                   "$text-muted": "foreground-muted"}


def row_key(company_id: int, env: Environment) -> str:
    return f"{company_id}:{env.value}"


class UserKsefScreen(PanelScreen[None]):
    """``UserKsefScreen(ctx, user_id)``: push it from the Users screen."""

    SECTION = "users"
    CSS_PATH = "../ksef.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="user_ksef.back",
                tooltip=_("Cancel the running KSeF step; then back to the table; then back to the users")),
        Binding("t", "test", _("Test authorization"), id="user_ksef.test",
                tooltip=_("Authorize in KSeF with the saved credential of the selected row")),
        Binding("f5", "reload", _("Reload"), id="user_ksef.reload", tooltip=_("Load the table again")),
    ]

    def __init__(self, ctx: AppContext, user_id: int, *, clock: Clock = system_clock) -> None:
        super().__init__(classes="user-ksef")
        self._ctx = ctx
        self.user_id = user_id
        self.clock = clock
        self.views: dict[str, CredentialView] = {}
        self.current: str | None = None
        self._widths: tuple[int, int] | None = None
        self._panel: KsefCredentialPanel | None = None

    @property
    def ctx(self) -> AppContext:  # given, not taken from the app: any App may host the screen
        return self._ctx

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(id="ksef-title")
        yield DataTable(id="ksef-table", cursor_type="row", zebra_stripes=True, cell_padding=1)
        with VerticalScroll(id="ksef-form"):
            yield KsefProblem(id="ksef-message")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        try:
            user = self.ctx.users.get(self.ctx.actor, self.user_id)
        except ServiceError as exc:
            self.query_one("#ksef-message", KsefProblem).show_error(str(exc))
            return
        self.query_one("#ksef-title", Static).update(Content.assemble(
            (user.full_name, "bold"), f" ({user.login}) → ", (_("KSeF authorization"), "bold")))
        self.load()
        self.query_one(DataTable).focus()

    # ------------------------------------------------------------------ table

    def _column_widths(self) -> tuple[int, int]:
        width = self.query_one(DataTable).size.width or self.app.size.width
        fixed = NIP_W + ENV_W + METHOD_W + 10 + 1  # 5 columns × 2 padding, 1 for a scrollbar edge
        rest = max(0, width - fixed)
        status = max(STATUS_MIN, min(STATUS_MAX, rest - COMPANY_WANTED))
        return max(COMPANY_MIN, rest - status), status

    def load(self, keep: str | None = None) -> None:
        table = self.query_one(DataTable)
        message = self.query_one("#ksef-message", KsefProblem)
        try:
            views = self.ctx.credentials.overview(self.ctx.actor, self.user_id)
        except ServiceError as exc:
            message.show_error(str(exc))
            return
        self.views = {row_key(v.company_id, v.environment): v for v in views}
        keep = keep or self.current
        company_w, status_w = self._widths = self._column_widths()
        table.clear(columns=True)
        table.add_column(_("Company"), width=company_w, key="company")
        table.add_column("NIP", width=NIP_W, key="nip")
        table.add_column(_("Env"), width=ENV_W, key="env")
        table.add_column(_("Login"), width=METHOD_W, key="method")
        table.add_column(_("Status"), width=status_w, key="status")
        for key, view in self.views.items():
            table.add_row(*self._cells(view), key=key)
        if not views:
            message.show_note(_("This user belongs to no company yet: add them to a company first."))
            return
        index = list(self.views).index(keep) if keep in self.views else 0
        table.move_cursor(row=index)
        # the table paints first; the form of the row (many widgets) is mounted right after
        self.call_after_refresh(self._show_if_not_shown, list(self.views)[index])

    def _cells(self, view: CredentialView) -> list[Text]:
        state = describe(view, self.clock())
        variable = _STATE_VARIABLE.get(STATE_STYLE.get(state.kind, ""))
        colour = self.app.theme_variables.get(variable, "") if variable else ""
        style = colour[:7] if colour.startswith("#") else ""
        return [
            Text(view.company_name, overflow="ellipsis", no_wrap=True),
            Text(format_nip(view.nip)),
            Text(env_short(view.environment)),
            Text(method_label(view), style="dim" if view.method is None else ""),
            Text(state.text, style=style, overflow="ellipsis", no_wrap=True),
        ]

    def update_row(self, view: CredentialView) -> None:
        key = row_key(view.company_id, view.environment)
        if key not in self.views:
            return
        self.views[key] = view
        table = self.query_one(DataTable)
        for column, cell in zip(("company", "nip", "env", "method", "status"), self._cells(view)):
            table.update_cell(key, column, cell)

    def on_resize(self, event: events.Resize) -> None:
        if self.views and self._widths != self._column_widths():
            self.load()

    @on(DataTable.RowHighlighted, "#ksef-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key is not None and key != self.current:
            self.show_row(key)

    @on(DataTable.RowSelected, "#ksef-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.focus_form()

    # ------------------------------------------------------------------- form

    def panel_widget(self) -> KsefCredentialPanel | None:
        return self._panel

    def _show_if_not_shown(self, key: str) -> None:
        # moving the cursor may already have shown this row (RowHighlighted)
        if self.current != key or self.panel_widget() is None:
            self.show_row(key)

    def show_row(self, key: str) -> None:
        panel = self.panel_widget()
        if panel is not None and panel.busy:
            self.notify(_("A KSeF step is still running for the row below; Esc cancels it."), timeout=3)
            return
        view = self.views.get(key)
        if view is None:
            return
        self.current = key
        form = self.query_one("#ksef-form", VerticalScroll)
        if panel is not None:
            panel.remove()
        self.query_one("#ksef-message", KsefProblem).clear()
        self._panel = KsefCredentialPanel(self.ctx, view, clock=self.clock)
        form.mount(self._panel)
        form.scroll_home(animate=False)

    def focus_form(self) -> None:
        panel = self.panel_widget()
        target = panel.first_field() if panel is not None else None
        if target is not None:
            target.focus()

    @on(CredentialChanged)
    def _credential_changed(self, event: CredentialChanged) -> None:
        event.stop()
        self.update_row(event.view)

    # ---------------------------------------------------------------- actions

    def action_test(self) -> None:
        panel = self.panel_widget()
        if panel is not None:
            panel.test_authorization()

    def action_reload(self) -> None:
        panel = self.panel_widget()
        if panel is not None and panel.busy:
            return
        self.current, keep = None, self.current
        self.load(keep)

    def action_back(self) -> None:
        panel = self.panel_widget()
        if panel is not None and panel.cancel():
            return
        table = self.query_one(DataTable)
        focused = self.focused
        if focused is not None and focused is not table and panel is not None and panel in focused.ancestors:
            table.focus()
            return
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)
