"""The audit log (administrators; F7 or the command palette): filter, read, export CSV.

Read-only: the app never edits or deletes an entry (the database refuses it too).
Filters: user, company, action (exact, or a prefix ending in a dot), dates from/to
(YYYY-MM-DD, UTC). Like the Companies list, the table draws only the rows on screen, from
SQL pages fetched in a thread; a filter is counted in a worker, one query in flight (keys
typed meanwhile are folded into one query for the latest text). The export streams in a
thread worker with a progress dialog; Esc cancels it and leaves no file. The columns fit
the terminal (the change column takes the rest); the line under the table shows the
highlighted entry in full.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from ksef_tui.errors import OperationCancelled, ServiceError
from ksef_tui.i18n import _, ngettext
from ksef_tui.services.actor import Actor
from ksef_tui.services.audit import AuditFilter, AuditRow, AuditService, CredentialOwner
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.common.dialogs import ProgressDialog
from ksef_tui.ui.common.file_picker import downloads_dir
from ksef_tui.ui.messages import LoadFailed, RowsLoaded, SerialProgress
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE, Column, VirtualTable

#: the export's progress dialog is updated at most this often
PROGRESS_EVERY_S = 0.1


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


#: below this width the filters take two lines
NARROW = 100


@dataclass(frozen=True)
class AuditSource:
    """The filtered log, newest first, addressed by position (read in threads: ``background``)."""

    service: AuditService
    actor: Actor
    filter: AuditFilter
    background: ClassVar[bool] = True

    def count(self) -> int:
        return self.service.count(self.actor, flt=self.filter)

    def page(self, offset: int, limit: int) -> list[AuditRow]:
        return self.service.entries(self.actor, flt=self.filter, offset=offset, limit=limit)


@dataclass
class ExportFinished(Message):
    """The export worker ended: ``count`` entries in ``path``, or ``error``."""

    path: Path
    count: int = 0
    error: str | None = None
    cancelled: bool = False


class AuditLogScreen(PanelScreen[None]):
    SECTION = "audit"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (NARROW, "-wide")]  # type: ignore[misc]  # Textual reads it per class

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
        self._clock = clock
        self.filter = AuditFilter()
        self._generation = 0
        # at most one filter query in flight; typing meanwhile asks for one more when it returns
        self._in_flight = False
        self._filter_again = False
        self._export_cancel = threading.Event()
        self._progress: ProgressDialog | None = None

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(Text(_("Audit log"), style="bold"), id="audit-title")
        with Horizontal(id="audit-filters"):
            yield Input(id="audit-user", compact=True, placeholder=_("user"))
            yield Input(id="audit-company", compact=True, placeholder=_("company or NIP"))
            yield Input(id="audit-action", compact=True, placeholder=_("action, e.g. user."))
            yield Input(id="audit-from", compact=True, placeholder=_("from YYYY-MM-DD"), classes="-date")
            yield Input(id="audit-to", compact=True, placeholder=_("to YYYY-MM-DD"), classes="-date")
        yield VirtualTable[AuditRow](self._columns(), selectable=False, empty_text=_("No entries match the filter."),
                                     id="audit-table")
        yield Static(id="audit-detail", markup=False)
        yield Static(id="audit-status", markup=False)
        yield PanelFooter()

    def _columns(self) -> list[Column[AuditRow]]:
        """The change column takes what the others leave; at 80 columns the others narrow."""
        return [
            Column("at", _("When (UTC)"), lambda r: r.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"), width=16),
            Column("who", _("Who"), lambda r: r.actor_login, weight=2, min_width=8),
            Column("action", _("Action"), lambda r: r.action, weight=3, min_width=12),
            Column("object", _("Object"), lambda r: r.object_label, weight=3, min_width=12),
            Column("change", _("Change"), _changes, weight=5, min_width=10),
        ]

    @property
    def table(self) -> VirtualTable[AuditRow]:
        return self.query_one("#audit-table", VirtualTable)

    def on_mount(self) -> None:
        self.load()
        self.table.focus()

    # ------------------------------------------------------------------ filter

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

    @property
    def filter_pending(self) -> bool:
        """A filter query is running, or one more is due when it returns."""
        return self._in_flight or self._filter_again

    def load(self) -> None:
        """Count and fetch the first page for the current filter in a worker (one at a time)."""
        if not self.is_attached:
            return  # closed meanwhile (a query that was running has come back)
        if self._in_flight:
            self._filter_again = True
            return
        flt = self._read_filter()
        if flt is None:
            return
        self.filter = flt
        self._filter_again = False
        self._in_flight = True
        self._generation += 1
        self._count_rows(AuditSource(self.ctx.audit, self.ctx.actor, flt), self._generation)

    @work(thread=True, exclusive=True, group="audit-rows", exit_on_error=False, description="_count_rows")
    def _count_rows(self, source: AuditSource, generation: int) -> None:
        try:
            count = source.count()
            first_page = source.page(0, PAGE_SIZE)
        except ServiceError as exc:
            self.post_message(LoadFailed(str(exc)))
            return
        self.post_message(RowsLoaded(generation, source, count, first_page))

    @on(VirtualTable.RowActivated, "#audit-table")
    def _open_object(self, event: VirtualTable.RowActivated) -> None:
        """Enter on an entry about a user or a company opens it (its KSeF screen, its form); on one
        about a user's KSeF setting, that user's KSeF screen on the setting's row."""
        row: AuditRow = event.row
        if row.object_type == "credential":
            self._open_credential(row)
            return
        if row.object_id is None:
            return
        if row.object_type == "user":
            from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

            self.app.push_screen(UserKsefScreen(self.ctx, row.object_id))
        elif row.object_type == "company":
            from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

            self.app.push_screen(CompanyDetailScreen(row.object_id))

    @work(thread=True, exclusive=True, group="audit-open", exit_on_error=False, description="_open_credential")
    def _open_credential(self, row: AuditRow) -> None:
        try:
            owner = self.ctx.audit.credential_owner(self.ctx.actor, row)
        except ServiceError as exc:
            self.app.call_from_thread(self.say, str(exc), error=True)
            return
        self.app.call_from_thread(self._open_owner, owner)

    def _open_owner(self, owner: CredentialOwner | None) -> None:
        from ksef_tui.domain.environments import Environment
        from ksef_tui.ui.ksef.user_ksef import UserKsefScreen, row_key

        if owner is None:
            self.say(_("The user of this KSeF setting no longer exists."), error=True)
            return
        row = None
        if (owner.company_id is not None and owner.environment is not None
                and owner.environment in {e.value for e in Environment}):
            row = row_key(owner.company_id, Environment(owner.environment))
        self.app.push_screen(UserKsefScreen(self.ctx, owner.user_id, row=row))

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self._in_flight = False
        self.table.load(message.source, count=message.count, first_page=message.first_page)
        self.say(ngettext("{n} entry", "{n} entries", message.count).format(n=message.count))
        if self._filter_again:
            self.load()  # typed while this one ran: the latest text next

    def on_load_failed(self, message: LoadFailed) -> None:
        message.stop()
        self._in_flight = False
        self.table.load(_Empty(), count=0)
        self.say(message.message, error=True)
        if self._filter_again:
            self.load()

    @on(VirtualTable.CursorMoved, "#audit-table")
    def _highlighted(self, event: VirtualTable.CursorMoved) -> None:
        self._show_detail(event.row)

    def _show_detail(self, row: AuditRow | None) -> None:
        """Under the table: the highlighted entry in full (the columns may cut it short)."""
        detail = self.query_one("#audit-detail", Static)
        if row is None:
            detail.update("")
            detail.display = False
            return
        text = Text()
        text.append(row.action, style="bold")
        text.append(f" · {row.object_label} · {row.actor_login}")
        change = _changes(row, limit=None)
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

    # ------------------------------------------------------------------ export

    def action_export(self) -> None:
        flt = self._read_filter()
        if flt is None or self._progress is not None:
            return
        folder = self.export_dir or downloads_dir(self.ctx.options)  # the demo's own folder in the demo
        path = folder / f"ksef-tui-audit-{(self._clock or self.ctx.clock)():%Y%m%d-%H%M%S}.csv"
        self._export_cancel = threading.Event()
        self._export(path, flt, self._export_cancel)
        self._progress = ProgressDialog(_("Exporting the audit log…"), max(1, self.table.row_count),
                                        self._export_cancel)
        self.app.push_screen(self._progress)

    @work(thread=True, exclusive=True, group="audit-export", exit_on_error=False, description="_export")
    def _export(self, path: Path, flt: AuditFilter, cancel: threading.Event) -> None:
        worker = get_current_worker()
        shown = [0.0]

        def progress(done: int, total: int) -> None:
            # at most ten updates a second (a batch is 1,000 entries: a million would be 1,000
            # repaints of the dialog on the event loop), and the last one
            now = time.monotonic()
            if now - shown[0] >= PROGRESS_EVERY_S or done >= total:
                shown[0] = now
                self.post_message(SerialProgress(done, total))

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            n = self.ctx.audit.export_file(self.ctx.actor, path, flt, progress=progress,
                                           should_cancel=lambda: cancel.is_set() or worker.is_cancelled)
        except OperationCancelled:
            self.post_message(ExportFinished(path, cancelled=True))
        except (OSError, ServiceError) as exc:
            self.post_message(ExportFinished(path, error=str(exc)))
        else:
            self.post_message(ExportFinished(path, count=n))

    def on_serial_progress(self, message: SerialProgress) -> None:
        message.stop()
        if self._progress is not None and self._progress.is_attached:
            self._progress.advance(message.done, message.total)

    def on_export_finished(self, message: ExportFinished) -> None:
        message.stop()
        if self._progress is not None:
            if self.app.screen is self._progress:
                self._progress.dismiss(None)
            self._progress = None
        if message.cancelled:
            self.say(_("Export cancelled; no file was written."))
        elif message.error is not None:
            self.say(_("Export failed: {reason}").format(reason=message.error), error=True)
        else:
            done = _("Exported {n} entries to {path}").format(n=message.count, path=message.path)
            self.say(done)
            self.notify(done, timeout=6, markup=False)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)


class _Empty:
    def count(self) -> int:
        return 0

    def page(self, offset: int, limit: int) -> Sequence[AuditRow]:
        return []
