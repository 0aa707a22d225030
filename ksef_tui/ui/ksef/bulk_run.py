"""A serial KSeF operation in progress: progress bar, ETA, a result per row, Esc cancels,
``f`` re-runs only the rows that failed. The work runs in a thread worker (its own event loop);
the screen only shows :class:`~ksef_tui.services.ksef.bulk.BulkProgress` and the results."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import ProgressBar, Static

from ksef_tui.i18n import _, ngettext
from ksef_tui.services.ksef.bulk import BulkProgress, BulkReport, RowResult, Target
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.ksef.cert_types import types_text
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable

TEST, ENROLL, REVOKE, REFRESH, PERMISSIONS, GRANT = "test", "enroll", "revoke", "refresh", "permissions", "grant"
TITLES = {TEST: _("Test authorization"), ENROLL: _("Enroll KSeF certificate"),
          REVOKE: _("Revoke KSeF tokens"), REFRESH: _("Refresh from KSeF"),
          PERMISSIONS: _("Check KSeF permissions"), GRANT: _("Grant through the office")}
#: shown only here, never a result: a Profil Zaufany file prepared, its signed twin not yet processed
WAITING = "waiting"


@dataclass(frozen=True)
class ResultRow:
    id: int
    result: RowResult


class _ListSource:
    def __init__(self, rows: Sequence[ResultRow]) -> None:
        self.rows = list(rows)

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list[ResultRow]:
        return self.rows[offset:offset + limit]


def _status_text(status: str) -> str:
    return {"ok": _("ok"), "failed": _("failed"), "error": _("error"), "skipped": _("skipped"),
            "cancelled": _("cancelled"), WAITING: _("waiting")}.get(status, status)


def _status_cell(row: ResultRow) -> Text:
    style = {"ok": "green", "failed": "red", "error": "yellow", "skipped": "dim", "cancelled": "dim",
             WAITING: "cyan"}
    return Text(_status_text(row.result.status), style=style.get(row.result.status, ""))


def _seconds(value: float | None) -> str:
    if value is None:
        return "--:--"
    value = round(value)
    return f"{value // 60:d}:{value % 60:02d}"


class BulkRunScreen(PanelScreen[BulkReport | None]):
    """``BulkRunScreen(operation, targets, folder=None)``; dismissed with the final report."""

    SECTION = "ksef"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_or_close", _("Cancel / close"), id="bulk.cancel"),
        Binding("f", "rerun_failed", _("Re-run failed"), id="bulk.rerun"),
    ]

    def __init__(self, operation: str, targets: Sequence[Target], *, folder: Path | None = None,
                 autostart: bool = True, scopes: tuple[str, ...] = (),
                 types: tuple[str, ...] = ("Authentication",)) -> None:
        super().__init__()
        self.operation = operation
        self.scopes = scopes  # GRANT: the permissions the office grants
        #: the KSeF certificate types an enrollment requests (Authentication, Offline)
        self.types = types
        self.targets = list(targets)
        self.folder = folder
        self.autostart = autostart
        self.cancel = threading.Event()
        self.results: dict[tuple, RowResult] = {}
        self.report: BulkReport | None = None
        self.running = False
        #: Profil Zaufany files prepared by an enrollment (by row key), and the rows still waiting for theirs
        self.files: dict[tuple, Any] = {}
        self.waiting: set[tuple] = set()

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        title = TITLES.get(self.operation, self.operation)
        if self.operation == ENROLL:
            title = f"{title} · {types_text(self.types)}"
        yield Static(Text(title), id="bulk-title", classes="placeholder-title")
        yield ProgressBar(total=max(1, len(self.targets)), show_eta=False, id="bulk-progress")
        yield Static("", id="bulk-status")
        if self.operation == ENROLL:
            yield Static("", id="bulk-files")
        yield VirtualTable[ResultRow](
            [Column("status", _("Result"), _status_cell, width=10),
             Column("row", _("User · company"), lambda r: r.result.target.label, weight=2, min_width=16),
             Column("message", _("What happened"), lambda r: (r.result.message + (" " + r.result.hint if r.result.hint else "")),
                    weight=4, min_width=20)],
            empty_text=_("No row finished yet"), id="bulk-results")
        yield PanelFooter()

    def on_mount(self) -> None:
        self._show_status(None)
        self._show_files()
        if self.autostart:
            self.start(self.targets)

    # ------------------------------------------------------------------ display

    def _show_status(self, progress: BulkProgress | None) -> None:
        status = self.query_one("#bulk-status", Static)
        total = len(self.targets)
        if self.report is not None and not self.running:
            c = self.report.counts
            text = _("Finished{cancelled}: {ok} ok, {failed} failed, {error} temporary errors, {skipped} skipped, "
                     "{cancelled_n} not run ({elapsed}). {rerun}").format(
                cancelled=_(" (cancelled)") if self.report.cancelled else "", ok=c["ok"], failed=c["failed"],
                error=c["error"], skipped=c["skipped"], cancelled_n=c["cancelled"],
                elapsed=_seconds(self.report.elapsed_s),
                rerun=_("f: re-run the {n} rows that did not succeed.").format(n=len(self.report.rerun_targets()))
                if self.report.rerun_targets() else "")
        elif progress is None:
            text = _("{n} rows; starting…").format(n=total)
            if self.folder is not None:
                text += " " + _("Profil Zaufany files go to {folder}; save the signed files there.").format(
                    folder=self.folder)
        else:
            c = progress.counts
            text = _("{done} of {total} · {ok} ok · {failed} failed · {error} errors · elapsed {elapsed} · "
                     "ETA {eta} · Esc cancels").format(
                done=progress.done, total=progress.total, ok=c.get("ok", 0), failed=c.get("failed", 0),
                error=c.get("error", 0), elapsed=_seconds(progress.elapsed_s), eta=_seconds(progress.eta_s))
        status.update(Text(text))

    def _show_files(self) -> None:
        if self.operation != ENROLL:
            return
        line = self.query_one("#bulk-files", Static)
        line.display = bool(self.files)
        if not self.files:
            return
        n = len(self.files)
        text = ngettext("Profil Zaufany: {n} file prepared in {folder}.",
                        "Profil Zaufany: {n} files prepared in {folder}.", n).format(n=n, folder=self.folder)
        if self.running:
            if self.ctx.options.get("demo"):
                text += " " + _("In the demo they are signed within a second, as <name>-signed.xml beside them.")
            text += " " + _("Sign each one with Profil Zaufany (at gov.pl) or a qualified signature and save the signed "
                            "file into the same folder (any name); "
                            "each is processed as it arrives. Waiting for {waiting} of {n}.").format(
                waiting=len(self.waiting), n=n)
        line.update(Text(text))

    def show_files(self, files: Sequence[Any]) -> None:
        """The enrollment wrote Profil Zaufany files (:class:`~ksef_tui.services.ksef.certificate_move.PendingFile`)."""
        for f in files:
            self.files[f.target.key] = f
            self.waiting.add(f.target.key)
        self._show_files()
        self._reload()

    def _waiting_row(self, target: Target) -> RowResult:
        f = self.files[target.key]
        return RowResult(target, WAITING, _(
            "Waiting for the signed file: sign {file} with Profil Zaufany at gov.pl and save it into the folder "
            "before {when}.").format(file=f.path.name, when=f.expires_at.astimezone().strftime("%H:%M")))

    def show_progress(self, progress: BulkProgress) -> None:
        if progress.last is not None:
            self.results[progress.last.target.key] = progress.last
            self.waiting.discard(progress.last.target.key)
        self.query_one("#bulk-progress", ProgressBar).update(total=max(1, progress.total), progress=progress.done)
        self._show_status(progress)
        self._show_files()
        self._reload()

    def show_report(self, report: BulkReport) -> None:
        self.running = False
        self.report = report if self.report is None or report.operation != "rerun" else self.report.merged(report)
        for r in report.results:
            self.results[r.target.key] = r
        self.waiting.clear()
        self.query_one("#bulk-progress", ProgressBar).update(total=max(1, len(self.targets)),
                                                             progress=len(self.targets))
        self._show_status(None)
        self._show_files()
        self._reload()

    def _reload(self) -> None:
        rows = [ResultRow(i, self._waiting_row(t) if t.key in self.waiting else self.results[t.key])
                for i, t in enumerate(self.targets) if t.key in self.waiting or t.key in self.results]
        self.query_one("#bulk-results", VirtualTable).load(_ListSource(rows), keep_cursor=True)

    def on_unmount(self) -> None:
        # a screen taken away mid-run (the panel quitting) stops its run: the thread worker would
        # otherwise keep watching the Profil Zaufany folder and hold the panel's exit
        self.cancel.set()

    # ------------------------------------------------------------------ work

    def start(self, targets: Sequence[Target], *, rerun: bool = False) -> None:
        self.cancel = threading.Event()
        self.running = True
        self._run(list(targets), rerun)

    @work(thread=True, exclusive=True, group="bulk", description="_run")
    def _run(self, targets: list[Target], rerun: bool) -> None:
        import asyncio

        from ksef_tui.services.ksef.bulk import KsefBulk, run_bulk
        from ksef_tui.services.ksef.certificate_move import CertificateMove

        ctx = self.ctx

        def progress(p: BulkProgress) -> None:
            self.app.call_from_thread(self.show_progress, p)

        def files(prepared: list) -> None:
            if prepared:
                self.app.call_from_thread(self.show_files, prepared)

        async def go() -> BulkReport:
            if self.operation == PERMISSIONS:
                from ksef_tui.services.ksef.permission_check import PermissionCheck

                async with PermissionCheck(ctx.permissions, ctx.actor) as check:
                    return await run_bulk(self.operation, targets, check.check_row, cancel=self.cancel,
                                          on_progress=progress)
            if self.operation == GRANT:
                from ksef_tui.services.ksef.permission_check import SerialGrant

                async with SerialGrant(ctx.permissions, ctx.actor, self.scopes) as grant:
                    done = await run_bulk(self.operation, targets, grant.grant_row, cancel=self.cancel,
                                          on_progress=progress, concurrency=1)
                    await grant.finish()
                    return done
            async with KsefBulk(ctx.credentials, ctx.actor) as bulk:
                if self.operation == ENROLL:
                    return await CertificateMove(bulk, types=self.types).enroll(targets, self.folder or Path.cwd(),
                                                              cancel=self.cancel, on_progress=progress,
                                                              on_files=files)
                move = CertificateMove(bulk)
                op = {TEST: bulk.test_authorization, REFRESH: bulk.refresh_from_ksef,
                      REVOKE: move.revoke_token}[self.operation]
                return await run_bulk(self.operation, targets, op, cancel=self.cancel, on_progress=progress)

        report = asyncio.run(go())
        if rerun:
            report = BulkReport("rerun", report.results, report.cancelled, report.elapsed_s)
        self.app.call_from_thread(self.show_report, report)

    # ------------------------------------------------------------------ keys

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.cancel.set()
            self.notify(_("Cancelling: rows in flight stop without saving anything."))
            return
        self.dismiss(self.report)

    def action_rerun_failed(self) -> None:
        if self.running or self.report is None:
            return
        again = self.report.rerun_targets()
        if not again:
            self.notify(_("No row to re-run."))
            return
        self.start(again, rerun=True)
