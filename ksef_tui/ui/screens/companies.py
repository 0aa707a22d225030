"""Users and Companies → Companies: the list, its filters and the serial operations."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Label
from textual.worker import get_current_worker

from ksef_tui.domain.nip import format_nip
from ksef_tui.i18n import _
from ksef_tui.services.companies import CompanyFilter, CompanyRow
from ksef_tui.services.errors import OperationCancelled, ServiceError
from ksef_tui.ui.messages import SerialFinished, SerialProgress
from ksef_tui.ui.screens.dialogs import (
    ConfirmDialog,
    MessageDialog,
    ProgressDialog,
    SerialMenu,
    SerialResultDialog,
)
from ksef_tui.ui.screens.list_screen import ListScreen
from ksef_tui.ui.sources import CompanySource
from ksef_tui.ui.widgets.virtual_table import Column

log = logging.getLogger(__name__)

# The KSeF filter cycles through these: all, KSeF on, KSeF off.
KSEF_FILTERS: tuple[bool | None, ...] = (None, True, False)


def ksef_filter_label(value: bool | None) -> str:
    if value is None:
        return _("KSeF: all")
    return _("KSeF: on") if value else _("KSeF: off")


def ksef_cell(row: CompanyRow) -> Text:
    return Text(_("on"), style="bold") if row.ksef_enabled else Text(_("off"))


class CompaniesScreen(ListScreen[CompanyRow]):
    SECTION = "companies"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "cycle_ksef_filter", _("KSeF"), id="companies.ksef_filter",
                tooltip=_("Show all companies, those with KSeF on, those with KSeF off")),
        Binding("o", "serial_menu", _("Serial ops"), id="companies.serial",
                tooltip=_("Serial operations on the selected companies")),
        Binding("f6", "serial_menu", _("Serial operations"), show=False,
                id="companies.serial_f6"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ksef_filter: bool | None = None
        self._cancel = threading.Event()
        self._progress: ProgressDialog | None = None

    def filter_placeholder(self) -> str:
        return _("/ Filter by name or NIP")

    def empty_text(self) -> str:
        return _("No companies match the filter.")

    def columns(self) -> Sequence[Column[CompanyRow]]:
        return [
            Column("name", _("Name"), lambda r: r.name, min_width=16),
            Column("nip", _("NIP"), lambda r: format_nip(r.nip), width=13),
            Column("ksef", _("KSeF"), ksef_cell, width=4),
        ]

    def make_source(self) -> CompanySource:
        flt = CompanyFilter(text=self.filter_text, ksef=self.ksef_filter)
        return CompanySource(self.ctx.companies, self.ctx.actor, flt)

    def compose_toolbar_start(self) -> ComposeResult:
        yield Button(_("Serial operations ▾"), id="serial", compact=True, disabled=True,
                     tooltip=_("Select companies first (space, a)"))

    def compose_toolbar_end(self) -> ComposeResult:
        yield Label(ksef_filter_label(None), id="ksef-filter")

    def open_row(self, row: CompanyRow) -> None:
        from ksef_tui.ui.screens.company_detail import CompanyDetailScreen

        self.app.push_screen(CompanyDetailScreen(row.id))

    # ---------------------------------------------------------------- filter

    def action_cycle_ksef_filter(self) -> None:
        index = KSEF_FILTERS.index(self.ksef_filter)
        self.ksef_filter = KSEF_FILTERS[(index + 1) % len(KSEF_FILTERS)]
        label = self.query_one("#ksef-filter", Label)
        label.update(ksef_filter_label(self.ksef_filter))
        label.set_class(self.ksef_filter is not None, "-active")
        self.apply_filter()

    # ------------------------------------------------------------- selection

    def selection_changed(self) -> None:
        super().selection_changed()
        button = self.query_one("#serial", Button)
        if button.disabled == bool(self.selection):
            button.disabled = not self.selection
            button.tooltip = (
                _("Enable or disable KSeF for the selected companies")
                if self.selection else _("Select companies first (space, a)")
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "serial_menu" and not self.selection:
            return None  # shown dimmed in the footer
        return super().check_action(action, parameters)

    # ------------------------------------------------------ serial operations

    @on(Button.Pressed, "#serial")
    def _serial_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_serial_menu()

    def action_serial_menu(self) -> None:
        self.run_serial_operation(None)

    @work(exclusive=True, group="serial-dialogs")
    async def run_serial_operation(self, enabled: bool | None) -> None:
        """Menu (unless ``enabled`` is given), confirmation, then the thread worker."""
        ids = frozenset(self.selection)
        if not ids:
            self.notify(_("Select companies first (space, a)."), severity="warning")
            return
        if enabled is None:
            enabled = await self.app.push_screen_wait(SerialMenu(len(ids)))
            if enabled is None:
                return
        question = (
            _("Enable KSeF for {n} companies?") if enabled else _("Disable KSeF for {n} companies?")
        ).format(n=len(ids))
        confirmed = await self.app.push_screen_wait(
            ConfirmDialog(question, yes=_("Enable") if enabled else _("Disable"),
                          title=_("Serial operations"))
        )
        if not confirmed:
            return
        self._cancel = threading.Event()
        title = _("Enabling KSeF…") if enabled else _("Disabling KSeF…")
        self._progress = ProgressDialog(title, len(ids), self._cancel)
        await self.app.push_screen(self._progress)
        # the versions the user saw: a row another administrator changed since is skipped
        wanted = set(ids)
        seen = {row.id: row.version for row in self.table.loaded_rows() if row.id in wanted}
        self._serial_worker(sorted(ids), enabled, self._cancel, seen)

    @work(thread=True, exclusive=True, group="serial", exit_on_error=False)
    def _serial_worker(self, ids: list[int], enabled: bool, cancel: threading.Event,
                       seen: dict[int, int] | None = None) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(SerialProgress(done, total))

        def should_cancel() -> bool:
            return cancel.is_set() or worker.is_cancelled

        try:
            result = self.ctx.companies.serial_set_ksef(
                self.ctx.actor, ids, enabled, progress=progress, should_cancel=should_cancel,
                expected_versions=seen,
            )
        except OperationCancelled as exc:
            self.post_message(SerialFinished(enabled, error=str(exc), cancelled=True))
        except ServiceError as exc:
            self.post_message(SerialFinished(enabled, error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - the transaction rolled back; say so
            log.exception("serial operation failed")
            self.post_message(SerialFinished(enabled, error=str(exc) or type(exc).__name__))
        else:
            self.post_message(SerialFinished(enabled, result=result))

    def on_serial_progress(self, message: SerialProgress) -> None:
        if self._progress is not None and self._progress.is_attached:
            self._progress.advance(message.done, message.total)

    def on_serial_finished(self, message: SerialFinished) -> None:
        if self._progress is not None:
            if self.app.screen is self._progress:
                self._progress.dismiss(None)
            self._progress = None
        self.table.reload()
        self.update_status()
        if message.result is not None:
            self.app.push_screen(SerialResultDialog(message.enabled, message.result))
        elif message.cancelled:
            self.app.push_screen(MessageDialog(_("Cancelled"), _("Cancelled; nothing was changed.")))
        else:
            self.app.push_screen(MessageDialog(
                _("Serial operation failed"),
                _("Nothing was changed: {reason}").format(reason=message.error),
                error=True,
            ))
