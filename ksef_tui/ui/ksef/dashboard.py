"""The KSeF dashboard: per environment, how many credentials are in which state; Enter on a count
opens its rows, which can be selected (space, ``a`` for the whole bucket) for serial operations.

Counts and rows come from SQL (:class:`~ksef_tui.services.ksef.dashboard.DashboardService`); the
selection is a ``set`` of row ids kept here, so it survives switching buckets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.services.ksef.bulk import targets_from_rows
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.common.file_picker import downloads_dir
from ksef_tui.ui.ksef.bulk_run import ENROLL, REFRESH, REVOKE, TEST, BulkRunScreen
from ksef_tui.ui.ksef.status import ksef_status_label
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable


@dataclass(frozen=True)
class BucketRow:
    id: int
    environment: Environment
    bucket: str
    label: str
    count: int
    reasons: str = ""


class _ListSource:
    def __init__(self, rows: list) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list:
        return self.rows[offset:offset + limit]


@dataclass(frozen=True)
class BucketSource:
    service: dash.DashboardService
    actor: object
    environment: Environment
    bucket: str
    now: dt.datetime

    def count(self) -> int:
        return self.service.count(self.actor, self.environment, self.bucket, now=self.now)  # type: ignore[arg-type]

    def page(self, offset: int, limit: int) -> list[dash.DashboardRow]:
        return self.service.page(self.actor, self.environment, self.bucket, offset, limit, now=self.now)  # type: ignore[arg-type]


def _state(row: dash.DashboardRow) -> str:
    if row.credential_id is None:
        return _("not configured")
    if row.last_auth_ok is False:
        return _("failed: {reason}").format(reason=row.last_auth_error or "?")
    if row.last_auth_ok:
        return _("ok {when}").format(when=row.last_auth_at.strftime("%Y-%m-%d") if row.last_auth_at else "")
    return _("never tested")


def _method(row: dash.DashboardRow) -> str:
    if row.method == "token":
        return _("token …{last4}").format(last4=row.token_last4 or "") + (f" {ksef_status_label(row.token_status)}" if row.token_status else "")
    if row.method == "certificate":
        return _("cert to {when}").format(when=row.cert_valid_to.strftime("%Y-%m-%d") if row.cert_valid_to else "?")
    return "-"


class KsefDashboardScreen(PanelScreen[None]):
    SECTION = "ksef"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "select_bucket", _("Select all"), id="dashboard.select_all",
                tooltip=_("Select every row of the open count")),
        Binding("t", "bulk('test')", _("Test"), id="dashboard.test", tooltip=_("Test authorization of the selected rows")),
        Binding("e", "bulk('enroll')", _("Enroll cert"), id="dashboard.enroll",
                tooltip=_("Enroll KSeF certificates for the selected rows")),
        Binding("r", "revoke", _("Revoke tokens"), id="dashboard.revoke",
                tooltip=_("Revoke the KSeF tokens of selected rows already moved to a certificate")),
        Binding("f", "bulk('refresh')", _("Refresh"), id="dashboard.refresh",
                tooltip=_("Ask KSeF which tokens and certificates are revoked, expired or blocked")),
        Binding("p", "bulk('permissions')", _("Permissions"), id="dashboard.permissions",
                tooltip=_("Check the KSeF permissions of the selected rows (who may log in for which company)")),
        Binding("d", "diagnose", _("Why not?"), id="dashboard.diagnose",
                tooltip=_("Why can't the user of the row under the cursor log in for its company")),
        Binding("x", "export", _("CSV"), id="dashboard.export", tooltip=_("Export the open rows as CSV")),
        Binding("g", "reload", _("Reload"), show=False, id="dashboard.reload"),
    ]

    def __init__(self, ctx=None, *, now: dt.datetime | None = None) -> None:
        super().__init__()
        self._ctx = ctx
        self._now = now
        self.selection: set[int] = set()
        self.opened: BucketRow | None = None

    @property
    def ctx(self):  # type: ignore[override]
        return self._ctx or super().ctx

    @property
    def service(self) -> dash.DashboardService:
        return dash.DashboardService(self.ctx.db)

    def now(self) -> dt.datetime:
        return self._now or dt.datetime.now(dt.UTC)

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static("", id="dashboard-title", classes="placeholder-title")
        yield VirtualTable[BucketRow](
            [Column("env", _("Environment"), lambda r: r.environment.value, width=11),
             Column("state", _("State"), lambda r: r.label, weight=3, min_width=20),
             Column("count", _("Count"), lambda r: str(r.count), width=7, justify="right"),
             Column("why", _("Reasons"), lambda r: r.reasons, weight=2, min_width=10, hide_below=100)],
            empty_text=_("No KSeF credentials"), id="dashboard-counts")
        yield Static("", id="dashboard-rows-title")
        yield VirtualTable[dash.DashboardRow](
            [Column("login", _("User"), lambda r: r.login, weight=1, min_width=10),
             Column("company", _("Company"), lambda r: r.company_name, weight=2, min_width=12),
             Column("nip", _("NIP"), lambda r: r.nip, width=10, hide_below=90),
             Column("method", _("Login"), _method, width=18),
             Column("state", _("Last authorization"), _state, weight=2, min_width=12, hide_below=70)],
            selection=self.selection, empty_text=_("Enter on a count opens its rows"), id="dashboard-rows")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    def counts_table(self) -> VirtualTable:
        return self.query_one("#dashboard-counts", VirtualTable)

    def rows_table(self) -> VirtualTable:
        return self.query_one("#dashboard-rows", VirtualTable)

    def reload(self) -> None:
        summary = self.service.summary(self.ctx.actor, now=self.now())
        self.query_one("#dashboard-title", Static).update(Text(_(
            "KSeF dashboard · KSeF tokens stop working after 31 Dec 2026: {n} days left").format(n=summary.token_days_left)))
        rows: list[BucketRow] = []
        for env in summary.environments:
            for _i, bucket in enumerate(dash.BUCKETS):
                reasons = ""
                if bucket == dash.FAILING and env.reasons:
                    reasons = "; ".join(f"{r.count}× {r.text}" for r in env.reasons[:3])
                rows.append(BucketRow(len(rows), env.environment, bucket, dash.bucket_label(bucket, summary.today),
                                      env.counts.get(bucket, 0), reasons))
        self.counts_table().load(_ListSource(rows), keep_cursor=True)
        if self.opened is not None:
            self.open_bucket(next((r for r in rows if r.environment is self.opened.environment
                                   and r.bucket == self.opened.bucket), self.opened))

    def open_bucket(self, row: BucketRow) -> None:
        self.opened = row
        self.query_one("#dashboard-rows-title", Static).update(Text(
            f"{row.environment.value} · {row.label} ({row.count}) · " + _("{n} selected").format(n=len(self.selection))))
        self.rows_table().load(BucketSource(self.service, self.ctx.actor, row.environment, row.bucket, self.now()))

    def on_virtual_table_row_activated(self, event: VirtualTable.RowActivated) -> None:
        if event.table.id == "dashboard-counts":
            self.open_bucket(event.row)
            self.rows_table().focus()

    def on_virtual_table_selection_changed(self, event: VirtualTable.SelectionChanged) -> None:
        if self.opened is not None:
            self.open_bucket_title()

    def open_bucket_title(self) -> None:
        row = self.opened
        if row is not None:
            self.query_one("#dashboard-rows-title", Static).update(Text(
                f"{row.environment.value} · {row.label} ({row.count}) · " + _("{n} selected").format(n=len(self.selection))))

    # ------------------------------------------------------------------ actions

    def action_reload(self) -> None:
        self.reload()

    def action_select_bucket(self) -> None:
        if self.opened is None:
            return
        self.selection.update(self.service.keys(self.ctx.actor, self.opened.environment, self.opened.bucket,
                                                now=self.now()))
        self.rows_table().refresh_selection()
        self.open_bucket_title()

    def _targets(self):
        ids = set(self.selection)
        if not ids:
            row = self.rows_table().cursor_row
            if row is None:
                self.notify(_("Open a count and select rows first (space, or a for all)."), severity="warning")
                return []
            ids = {row.id}
        return targets_from_rows(self.service.rows_for(self.ctx.actor, ids))

    def pz_folder(self) -> Path:
        return downloads_dir(self.ctx.options) / "ksef-tui-profil-zaufany"

    def action_bulk(self, operation: str) -> None:
        targets = self._targets()
        if not targets:
            return
        folder = self.pz_folder() if operation == ENROLL else None
        self.app.push_screen(BulkRunScreen(operation, targets, folder=folder), lambda _r: self.reload())

    def action_diagnose(self) -> None:
        from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

        row = self.rows_table().cursor_row
        if row is None:
            self.notify(_("Open a count and put the cursor on a row first."), severity="warning")
            return
        self.app.push_screen(DiagnosisScreen(row.user_id, row.company_id, row.environment,
                                             label=f"{row.login} · {row.company_name}"), lambda _r: self.reload())

    def action_revoke(self) -> None:
        from ksef_tui.ui.common.dialogs import ConfirmDialog

        targets = self._targets()
        if not targets:
            return
        question = _("Revoke in KSeF the KSeF tokens of {n} selected rows? Only rows that already log in with a "
                     "certificate are touched; a revoked token cannot be used again.").format(n=len(targets))

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(BulkRunScreen(REVOKE, targets), lambda _r: self.reload())

        self.app.push_screen(ConfirmDialog(question, yes=_("Revoke {n} tokens").format(n=len(targets)),
                                           title=_("Revoke KSeF tokens")), answered)

    def action_export(self) -> None:
        if self.opened is None:
            self.notify(_("Open a count first (Enter)."), severity="warning")
            return
        self._export(self.opened)

    @work(thread=True, exclusive=True, group="dashboard-export", exit_on_error=False)
    def _export(self, row: BucketRow) -> None:
        from ksef_tui.files import atomic_open, problem_text

        folder = downloads_dir(self.ctx.options)
        path = folder / f"ksef-{row.environment.value.lower()}-{row.bucket}-{self.now():%Y%m%d-%H%M}.csv"
        try:  # whole (0600) or not at all; an unwritable or full folder is a message, never a crash
            with atomic_open(path, "w", newline="") as out:
                n = self.service.export_csv(self.ctx.actor, row.environment, row.bucket, out, now=self.now(),
                                            only=set(self.selection) or None)
        except Exception as exc:
            self.app.call_from_thread(self.notify, problem_text(exc, "the dashboard export failed"),
                                      title=_("Nothing was exported"), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, _("{n} rows written to {path}").format(n=n, path=path), markup=False)


__all__ = ["REFRESH", "TEST", "KsefDashboardScreen"]
