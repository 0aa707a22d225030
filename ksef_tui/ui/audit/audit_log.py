"""The audit log (administrators; F7 or the command palette): filter, read, export CSV.

Read-only: the app never edits or deletes an entry (the database refuses it too).
Filters: user, company, action (exact, or a prefix ending in a dot), dates from/to
(YYYY-MM-DD, UTC). The newest :data:`PAGE` entries are shown; the export has them all.
The columns fit the terminal (the change column takes the rest); the line under the table
shows the highlighted entry in full.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.audit import AuditFilter, AuditRow
from ksef_tui.ui.common.base import PanelScreen

PAGE = 500


def _date(text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    return dt.date.fromisoformat(text)


def _changes(row: AuditRow, limit: int | None = 4) -> str:
    after = row.after or {}
    before = row.before or {}
    keys = sorted(set(after) | set(before))
    parts = []
    for k in keys[:limit]:
        if k in before and k in after:
            parts.append(f"{k}: {before[k]}→{after[k]}")
        elif k in after:
            parts.append(f"{k}={after[k]}")
        else:
            parts.append(f"-{k}")
    return "; ".join(parts)


def column_widths(width: int) -> dict[str, int]:
    """Widths of the table's columns in a screen ``width`` cells wide; "change" takes the rest."""
    if width >= NARROW:
        fixed = {"at": 16, "who": 14, "action": 22, "object": 24}
    else:
        fixed = {"at": 16, "who": 8, "action": 18, "object": 12}
    # each column is padded by one cell on both sides; two cells for the vertical scrollbar
    rest = width - sum(fixed.values()) - 2 * (len(fixed) + 1) - 2
    return fixed | {"change": max(10, rest)}


#: below this width the filters take two lines and the table's columns narrow
NARROW = 100


class AuditLogScreen(PanelScreen[None]):
    SECTION = "audit"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (NARROW, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="audit.back"),
        Binding("f5", "reload", _("Reload"), id="audit.reload"),
        Binding("ctrl+e", "export", _("Export CSV"), id="audit.export",
                tooltip=_("Write the filtered entries to a CSV file")),
    ]

    DEFAULT_CSS = """
    AuditLogScreen {
        #audit-title { height: 1; padding: 0 1; background: $surface; }
        #audit-filters { layout: grid; grid-size: 5 1; grid-columns: 1fr 1fr 1fr 17 17; grid-rows: 1;
                         grid-gutter: 0 1; height: 1; margin: 1 1 0 1; }
        #audit-filters Input { width: 1fr; }
        &.-narrow #audit-filters { grid-size: 3 2; grid-columns: 1fr 1fr 1fr; height: 2; margin: 0 1; }
        #audit-table { height: 1fr; margin: 1 0 0 0; }
        &.-narrow #audit-table { margin: 0; }
        #audit-detail { height: auto; max-height: 3; padding: 0 1; border-top: hkey $primary 40%; }
        #audit-status { height: 1; color: $text-muted; padding: 0 1; }
        #audit-status.-error { color: $text-error; }
    }
    """

    def __init__(self, *, export_dir: Path | None = None, clock=None) -> None:
        super().__init__()
        self.export_dir = export_dir
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.filter = AuditFilter()
        self.rows: list[AuditRow] = []  # shown in the table, newest first
        self.widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(Text(_("Audit log"), style="bold"), id="audit-title")
        with Horizontal(id="audit-filters"):
            yield Input(id="audit-user", compact=True, placeholder=_("user"))
            yield Input(id="audit-company", compact=True, placeholder=_("company or NIP"))
            yield Input(id="audit-action", compact=True, placeholder=_("action, e.g. user."))
            yield Input(id="audit-from", compact=True, placeholder=_("from YYYY-MM-DD"), classes="-date")
            yield Input(id="audit-to", compact=True, placeholder=_("to YYYY-MM-DD"), classes="-date")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="audit-detail", markup=False)
        yield Static(id="audit-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._set_columns(self.size.width or self.app.size.width)
        self.load()
        self.query_one(DataTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        if column_widths(event.size.width) != self.widths:
            self._set_columns(event.size.width)
            self._fill()

    def _set_columns(self, width: int) -> None:
        """(Re)build the columns: the change column takes what the others leave."""
        self.widths = widths = column_widths(width)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key, label in (("at", _("When (UTC)")), ("who", _("Who")), ("action", _("Action")),
                           ("object", _("Object")), ("change", _("Change"))):
            table.add_column(label, key=key, width=widths[key])

    def _read_filter(self) -> AuditFilter | None:
        try:
            return AuditFilter(
                user=self.query_one("#audit-user", Input).value,
                company=self.query_one("#audit-company", Input).value,
                action=self.query_one("#audit-action", Input).value,
                date_from=_date(self.query_one("#audit-from", Input).value),
                date_to=_date(self.query_one("#audit-to", Input).value),
            )
        except ValueError:
            self.say(_("Dates are written YYYY-MM-DD, e.g. 2026-11-24."), error=True)
            return None

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#audit-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def load(self) -> None:
        flt = self._read_filter()
        if flt is None:
            return
        self.filter = flt
        try:
            total = self.ctx.audit.count(self.ctx.actor, flt=flt)
            rows = self.ctx.audit.entries(self.ctx.actor, flt=flt, limit=PAGE)
        except ServiceError as exc:
            self.rows = []
            self._fill()
            self.say(str(exc), error=True)
            return
        self.rows = rows
        self._fill()
        shown = len(rows)
        self.say(_("{n} entries").format(n=total) if shown == total
                 else _("The newest {shown} of {n} entries (the export has them all)").format(shown=shown, n=total))

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(
                Text(r.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")),
                Text(r.actor_login, overflow="ellipsis", no_wrap=True),
                Text(r.action, overflow="ellipsis", no_wrap=True),
                Text(r.object_label, overflow="ellipsis", no_wrap=True),
                Text(_changes(r), overflow="ellipsis", no_wrap=True),
                key=str(r.id),
            )
        self._show_detail(0 if self.rows else None)

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, index: int | None) -> None:
        """Under the table: the highlighted entry in full (the columns may cut it short)."""
        detail = self.query_one("#audit-detail", Static)
        if index is None or not 0 <= index < len(self.rows):
            detail.update("")
            detail.display = False
            return
        r = self.rows[index]
        text = Text()
        text.append(r.action, style="bold")
        text.append(f" · {r.object_label} · {r.actor_login}")
        change = _changes(r, limit=None)
        if change:
            text.append(f": {change}")
        detail.update(text)
        detail.display = True

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.load()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id not in ("audit-from", "audit-to") or len(event.value) in (0, 10):
            self.load()

    def action_reload(self) -> None:
        self.load()

    def action_export(self) -> None:
        flt = self._read_filter()
        if flt is None:
            return
        folder = self.export_dir or Path.home()
        path = folder / f"ksef-tui-audit-{self.clock():%Y%m%d-%H%M%S}.csv"
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                n = self.ctx.audit.export_csv(self.ctx.actor, out, flt)
        except (OSError, ServiceError) as exc:
            self.say(_("Export failed: {reason}").format(reason=exc), error=True)
            return
        self.say(_("Exported {n} entries to {path}").format(n=n, path=path))
        self.notify(_("Exported {n} entries to {path}").format(n=n, path=path), timeout=6)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)
