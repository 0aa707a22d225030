"""Users and Companies → Users → (a user) → KSeF (PL "Krajowy System e-Faktur (KSeF)").

One compact table of the user's companies × environments (company, NIP, environment,
login method, status) and, under it, the form of the chosen row. Enter or Tab goes to
the form, ``t`` tests the authorization of the selected row, Esc cancels running work,
then goes back to the table, then back to the users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input, Static, TextArea

from ksef_tui.domain.clock import Clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.context import AppContext
from ksef_tui.services.ksef.views import CredentialView, describe
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.ksef.panel import PAIR, KsefCredentialPanel
from ksef_tui.ui.ksef.status import (
    STATE_STYLE,
    CredentialChanged,
    KsefProblem,
    env_short,
    method_label,
)
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable

# the form follows the table's cursor after it rests this long (seconds)
FORM_DELAY = 0.08

# the status colours are looked up in the current theme
_STATE_VARIABLE = {"$success": "text-success", "$error": "text-error", "$warning": "text-warning",
                   "$text-muted": "foreground-muted"}


def row_key(company_id: int, env: Environment) -> str:
    return f"{company_id}:{env.value}"


@dataclass(frozen=True)
class KsefRow:
    """One row of the table: a company × environment of the user (``id`` is its position)."""

    id: int
    key: str
    view: CredentialView


class _Rows:
    """The table's rows: the user's companies × environments, a few hundred at most."""

    def __init__(self, rows: list[KsefRow]) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list[KsefRow]:
        return self.rows[offset:offset + limit]


class UserKsefScreen(PanelScreen[None]):
    """``UserKsefScreen(ctx, user_id)``: push it from the Users screen (``row``: the row to show first,
    ``row_key(company_id, environment)``)."""

    SECTION = "users"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="user_ksef.back",
                tooltip=_("Cancel the running KSeF step; then back to the table; then back to the users")),
        Binding("t", "test", _("Test"), id="user_ksef.test",
                tooltip=_("Authorize in KSeF with the saved credential of the selected row")),
        Binding("f5", "reload", _("Reload"), id="user_ksef.reload", tooltip=_("Load the table again")),
        Binding("d", "diagnose", _("Why not?"), id="user_ksef.diagnose",
                tooltip=_("Why can't this user log in for the company of the selected row (KSeF permissions)")),
    ]

    def __init__(self, ctx: AppContext, user_id: int, *, clock: Clock | None = None, row: str | None = None) -> None:
        super().__init__(classes="user-ksef")
        self._ctx = ctx
        self.user_id = user_id
        self._first_row = row
        self.clock: Clock = clock or ctx.clock
        self.views: dict[str, CredentialView] = {}
        self.current: str | None = None
        self._rows = _Rows([])
        self._panel: KsefCredentialPanel | None = None
        self._pending: str | None = None
        self._pending_timer: Timer | None = None

    @property
    def ctx(self) -> AppContext:  # given, not taken from the app: any App may host the screen
        return self._ctx

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(id="ksef-title")
        yield VirtualTable(self._columns(), selectable=False, id="ksef-table")
        with VerticalScroll(id="ksef-form", can_focus=False):  # no invisible stop: Tab goes to its fields
            yield KsefProblem(id="ksef-message")
        yield PanelFooter()

    def on_mount(self) -> None:
        self.table.focus()
        self.load(self._first_row)

    # ------------------------------------------------------------------ table

    @property
    def table(self) -> VirtualTable[KsefRow]:
        return self.query_one("#ksef-table", VirtualTable)

    def _columns(self) -> list[Column[KsefRow]]:
        return [
            Column("company", _("Company"), lambda r: r.view.company_name, weight=2, min_width=10),
            Column("nip", "NIP", lambda r: format_nip(r.view.nip), width=14),
            Column("env", _("Env"), lambda r: env_short(r.view.environment), width=5),
            Column("method", _("Login"), self._method_cell, width=6),
            Column("status", _("Status"), self._status_cell, weight=3, min_width=24),
        ]

    def _method_cell(self, row: KsefRow) -> Text:
        return Text(method_label(row.view), style="dim" if row.view.method is None else "")

    def _status_cell(self, row: KsefRow) -> Text:
        state = describe(row.view, self.clock(), self.ctx.token_policy)
        variable = _STATE_VARIABLE.get(STATE_STYLE.get(state.kind, ""))
        colour = self.app.theme_variables.get(variable, "") if variable else ""
        return Text(state.text, style=colour[:7] if colour.startswith("#") else "")

    def cell(self, key: str, column: str) -> str:
        """The text the table shows for a row's column."""
        row = next(r for r in self._rows.rows if r.key == key)
        value = next(c for c in self.table.columns if c.key == column).cell(row)
        return value.plain if isinstance(value, Text) else value

    def load(self, keep: str | None = None) -> None:
        """The user's companies × environments, read in a worker; the form of ``keep`` (or of the
        current row, or the first) follows."""
        self._load(keep or self.current)

    @work(group="user-ksef-load", exclusive=True, exit_on_error=False, description="_load")
    async def _load(self, keep: str | None) -> None:
        import asyncio

        message = self.query_one("#ksef-message", KsefProblem)
        try:
            user, views = await asyncio.to_thread(self._read)
        except ServiceError as exc:
            message.show_error(str(exc))
            return
        self.query_one("#ksef-title", Static).update(Content.assemble(
            (user.full_name, "bold"), f" ({user.login}) → ", (self.title_words(), "bold")))
        self.views = {row_key(v.company_id, v.environment): v for v in views}
        self._rows = _Rows([KsefRow(i, key, view) for i, (key, view) in enumerate(self.views.items())])
        table = self.table
        table.load(self._rows)
        if not views:
            message.show_note(self.empty_note())
            return
        index = list(self.views).index(keep) if keep in self.views else 0
        table.move_cursor(index)
        # the table paints first; the form of the row (many widgets) is mounted right after
        self.call_after_refresh(self._show_if_not_shown, list(self.views)[index])

    def title_words(self) -> str:
        return _("KSeF authorization")

    def empty_note(self) -> str:
        return _("This user belongs to no company yet: add them to a company first.")

    def _read(self):  # in a thread
        return (self.ctx.users.get(self.ctx.actor, self.user_id),
                self.ctx.credentials.overview(self.ctx.actor, self.user_id))

    def update_row(self, view: CredentialView) -> None:
        key = row_key(view.company_id, view.environment)
        if key not in self.views:
            return
        self.views[key] = view
        rows = self._rows.rows
        index = next(i for i, r in enumerate(rows) if r.key == key)
        rows[index] = KsefRow(index, key, view)
        self.table.reload()

    @on(VirtualTable.CursorMoved, "#ksef-table")
    def _highlighted(self, event: VirtualTable.CursorMoved) -> None:
        key = event.row.key if event.row is not None else None
        if key is None or key == self.current:
            self._pending = None
            return
        # The form (dozens of widgets) follows the cursor once it rests: the table repaints at
        # once, and holding an arrow key does not mount a form for every row it passes.
        self._pending = key
        if self._pending_timer is not None:
            self._pending_timer.stop()
        self._pending_timer = self.set_timer(FORM_DELAY, self._show_pending)

    def _show_pending(self) -> None:
        self._pending_timer = None
        key, self._pending = self._pending, None
        if key is not None and key != self.current:
            self.show_row(key)

    @on(VirtualTable.RowActivated, "#ksef-table")
    def _selected(self, event: VirtualTable.RowActivated) -> None:
        event.stop()
        self._show_pending()  # Enter before the form followed the cursor: show it now
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
        pair = [self.views[k] for k in (row_key(view.company_id, env) for env in PAIR) if k in self.views]
        self._panel = KsefCredentialPanel(self.ctx, view, clock=self.clock, pair=pair)
        form.mount(self._panel)
        form.scroll_home(animate=False)

    def focus_form(self) -> None:
        """Into the row's form, once it is all there (Enter right after the cursor moved: it is coming)."""
        panel = self.panel_widget()
        if panel is None:
            return

        def focus() -> None:
            target = panel.first_field() if panel is self.panel_widget() else None
            if target is not None:
                target.focus()

        panel.when_ready(focus)

    @on(CredentialChanged)
    def _credential_changed(self, event: CredentialChanged) -> None:
        event.stop()
        self.update_row(event.view)

    # ---------------------------------------------------------------- actions

    def action_test(self) -> None:
        panel = self.panel_widget()
        if panel is not None:
            panel.test_authorization()

    def action_diagnose(self) -> None:
        from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

        row = self.table.cursor_row
        if row is None or not self.ctx.actor.is_admin:
            return
        view = row.view
        self.app.push_screen(DiagnosisScreen(self.user_id, view.company_id, view.environment,
                                             label=view.company_name), lambda _r: self.action_reload())

    def typed(self) -> bool:
        """Something typed in the row's form and not used yet (a token, a file name, a password)."""
        panel = self.panel_widget()
        if panel is None or not panel.is_attached:
            return False
        return any(field.value for field in panel.query(Input)) or any(
            area.text.strip() for area in panel.query(TextArea))

    def action_reload(self) -> None:
        """F5: the table and the form again; what was typed in the form is asked about, never dropped
        silently."""
        self._reload_asking()

    @work(group="user-ksef-leave", exclusive=True, exit_on_error=False, description="_reload_asking")
    async def _reload_asking(self) -> None:
        from ksef_tui.ui.common.dialogs import ConfirmDialog

        panel = self.panel_widget()
        if panel is not None and panel.busy:
            return
        if self.typed() and not await self.app.push_screen_wait(ConfirmDialog(
                _("Reload and drop what you typed in the form?"), yes=_("Reload"), no=_("Keep editing"),
                title=_("Unsaved changes"), default_no=True)):
            return
        self.reload_now()

    def reload_now(self) -> None:
        self.current, keep = None, self.current
        self.load(keep)

    def on_screen_resume(self) -> None:
        """Shown again (back from the dashboard, another section, a dialog): what changed meanwhile
        elsewhere (a bulk run, another administrator) is shown, without dropping what was typed."""
        if self.views:
            self._check_changed()

    @work(group="user-ksef-changed", exclusive=True, exit_on_error=False, description="_check_changed")
    async def _check_changed(self) -> None:
        import asyncio

        try:
            _user, views = await asyncio.to_thread(self._read)
        except ServiceError:
            return
        fresh = {row_key(v.company_id, v.environment): v for v in views}
        if fresh == self.views or not self.is_attached:
            return
        panel = self.panel_widget()
        if set(fresh) == set(self.views) and panel is not None and (panel.busy or self.typed()):
            for view in fresh.values():  # the table says it; the form keeps what was typed
                self.update_row(view)
            self.notify(_("Changed elsewhere meanwhile: the table shows it now. F5 shows it in the form too "
                          "(it asks about what you typed)."), timeout=8)
            return
        self.reload_now()

    def action_back(self) -> None:
        panel = self.panel_widget()
        if panel is not None and panel.cancel():
            return
        table = self.table
        focused = self.focused
        if focused is not None and focused is not table and panel is not None and panel in focused.ancestors:
            table.focus()
            return
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)
