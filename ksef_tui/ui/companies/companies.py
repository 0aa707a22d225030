"""Users and Companies → Companies: the list, its filters and the serial operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label

from ksef_tui.domain.nip import format_nip
from ksef_tui.i18n import _, ngettext
from ksef_tui.services.company_list import CompanyFilter, CompanyRow
from ksef_tui.ui.common.dialogs import SerialMenu, SerialResultDialog
from ksef_tui.ui.common.serial import SerialListScreen
from ksef_tui.ui.common.sources import CompanySource, WaitingCompanySource
from ksef_tui.ui.ksef.status import env_short
from ksef_tui.ui.widgets.virtual_table import Column

# The KSeF filter cycles through these: all, KSeF on, KSeF off.
KSEF_FILTERS: tuple[bool | None, ...] = (None, True, False)


def ksef_filter_label(value: bool | None) -> str:
    if value is None:
        return _("KSeF: all")
    return _("KSeF: on") if value else _("KSeF: off")


def ksef_cell(row: CompanyRow) -> Text:
    return Text(_("on"), style="bold") if row.ksef_enabled else Text(_("off"))


def offline_cell(row: CompanyRow) -> Text:
    """Where the company is offline-ready (a member holds an active Offline certificate): "PROD DEMO"."""
    if not row.offline_ready:
        return Text("—", style="dim")
    return Text(" ".join(env_short(e) for e in row.offline_ready), style="bold")


class CompaniesScreen(SerialListScreen[CompanyRow]):
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

    def filter_placeholder(self) -> str:
        return _("/ Filter by name or NIP")

    def empty_text(self) -> str:
        if not (self.query("#filter") and self.filter_text.strip()) and self.ksef_filter is None:  # an empty database: how to fill it
            return _("No companies yet: import them with ksef-tui import companies FILE.csv (README: Command line).")
        return _("No companies match the filter.")

    def columns(self) -> Sequence[Column[CompanyRow]]:
        return [
            Column("name", _("Name"), lambda r: r.name, min_width=16),
            Column("nip", _("NIP"), lambda r: format_nip(r.nip), width=13),
            Column("ksef", _("KSeF"), ksef_cell, width=4),
            Column("offline", _("Offline"), offline_cell, width=9),
        ]

    def rows_read_ahead(self):
        return self.panel.take_first_rows()  # read while the panel opened the database

    def opening_source(self) -> CompanySource:
        return CompanySource(self.ctx.companies, self.ctx.actor, CompanyFilter())

    def make_source(self) -> CompanySource | WaitingCompanySource:
        flt = CompanyFilter(text=self.filter_text, ksef=self.ksef_filter)
        if not self.panel.is_open:  # shown before the database is open: the source waits for it
            return WaitingCompanySource(self.panel.wait_for_context, flt)
        return CompanySource(self.ctx.companies, self.ctx.actor, flt)

    def compose_toolbar_end(self) -> ComposeResult:
        yield Label(ksef_filter_label(None), id="ksef-filter")

    def open_row(self, row: CompanyRow) -> None:
        from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

        self.panel.when_open(lambda: self.app.push_screen(CompanyDetailScreen(row.id)))

    # ---------------------------------------------------------------- filter

    def action_cycle_ksef_filter(self) -> None:
        index = KSEF_FILTERS.index(self.ksef_filter)
        self.ksef_filter = KSEF_FILTERS[(index + 1) % len(KSEF_FILTERS)]
        label = self.query_one("#ksef-filter", Label)
        label.update(ksef_filter_label(self.ksef_filter))
        label.set_class(self.ksef_filter is not None, "-active")
        self.apply_filter()

    # ------------------------------------------------------ serial operations

    def serial_menu(self, selected: int) -> SerialMenu:
        return SerialMenu(selected)

    def serial_question(self, flag: bool, n: int) -> str:
        return (ngettext("Enable KSeF for {n} company?", "Enable KSeF for {n} companies?", n) if flag
                else ngettext("Disable KSeF for {n} company?", "Disable KSeF for {n} companies?", n)).format(n=n)

    def serial_preview(self, ids, flag, hidden):
        ctx = self.panel.wait_for_context()  # in a thread
        return ctx.companies.serial_preview(ctx.actor, ids, flag, hidden)

    def serial_lines(self, flag: bool, preview) -> list[str]:
        lines = []
        if preview.to_change:
            lines.append((ngettext("{n} will have KSeF switched on", "{n} will have KSeF switched on",
                                   preview.to_change) if flag else
                          ngettext("{n} will have KSeF switched off", "{n} will have KSeF switched off",
                                   preview.to_change)).format(n=preview.to_change))
        if preview.already:
            lines.append((ngettext("{n} already has KSeF on: skipped, nothing to do",
                                   "{n} already have KSeF on: skipped, nothing to do", preview.already) if flag else
                          ngettext("{n} already has KSeF off: skipped, nothing to do",
                                   "{n} already have KSeF off: skipped, nothing to do", preview.already)
                          ).format(n=preview.already))
        if preview.missing:
            lines.append(ngettext("{n} no longer exists: skipped", "{n} no longer exist: skipped",
                                  preview.missing).format(n=preview.missing))
        return lines

    def serial_yes(self, flag: bool) -> str:
        return _("Enable") if flag else _("Disable")

    def serial_progress_title(self, flag: bool) -> str:
        return _("Enabling KSeF…") if flag else _("Disabling KSeF…")

    def serial_tooltip(self, has_selection: bool) -> str:
        return (_("Enable or disable KSeF for the selected companies") if has_selection
                else _("Select companies first (space, a)"))

    def serial_run(self, ids, flag, progress, should_cancel, seen):
        ctx = self.panel.wait_for_context()  # in a thread
        return ctx.companies.serial_set_ksef(ctx.actor, ids, flag, progress=progress,
                                             should_cancel=should_cancel, expected_versions=seen)

    def serial_result_dialog(self, flag: bool, result) -> SerialResultDialog:
        return SerialResultDialog(flag, result)
