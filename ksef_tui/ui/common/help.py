"""The keys, on ``?`` / F1: built from the bindings themselves, so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ksef_tui.i18n import _
from ksef_tui.ui.common.base import DialogScreen

KEY_WIDTH = 14


def _bindings(items: Iterable[BindingType]) -> list[Binding]:
    return [b for b in items if isinstance(b, Binding)]


class HelpScreen(DialogScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="help.close"),
        Binding("question_mark", "close", _("Close"), show=False, key_display="?",
                id="help.close_question"),
    ]

    def sections(self) -> Sequence[tuple[str, list[Binding]]]:
        from ksef_tui.ui.app import KsefApp
        from ksef_tui.ui.common.list_screen import ListScreen
        from ksef_tui.ui.companies.companies import CompaniesScreen
        from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
        from ksef_tui.ui.widgets.virtual_table import VirtualTable

        return (
            (_("Everywhere"), _bindings(KsefApp.BINDINGS)),
            (_("Lists: Companies, Users"),
             _bindings(VirtualTable.BINDINGS) + _bindings(ListScreen.BINDINGS)),
            (_("Companies"), _bindings(CompaniesScreen.BINDINGS)),
            (_("Company: Additional data"), _bindings(CompanyDetailScreen.BINDINGS)),
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help") as box:
            box.border_title = _("Keys")
            with VerticalScroll(id="help-body"):
                demo = self.demo_text()
                if demo:
                    yield Static(Text(_("Demo"), style="bold"), classes="help-section")
                    yield Static(Text(demo), classes="help-keys", id="help-demo")
                for title, bindings in self.sections():
                    yield Static(Text(title, style="bold"), classes="help-section")
                    yield Static(self._rows(bindings), classes="help-keys")
            yield Static(_("Esc: close    Ctrl+P: all commands"), classes="dialog-hint")

    def demo_text(self) -> str:
        """In ``ksef-tui demo``: its folder and the demo users (nothing otherwise)."""
        from ksef_tui.ui.common.demo_guide import folder_lines, user_lines

        ctx = getattr(self.app, "ctx", None)
        if ctx is None:
            return ""
        return "\n".join(folder_lines(ctx.options) + user_lines(ctx.options))

    def _rows(self, bindings: list[Binding]) -> Text:
        """One line per action: all its keys, then what it does."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for binding in bindings:
            if binding.system:
                continue
            description = binding.tooltip or binding.description
            keys = grouped.setdefault((binding.action, description), [])
            key = self.app.get_key_display(binding)
            if key not in keys:
                keys.append(key)
        text = Text()
        for (_action, description), keys in grouped.items():
            text.append(f"  {', '.join(keys):<{KEY_WIDTH}}", style="bold")
            text.append(f"{description}\n")
        text.rstrip()
        return text

    def action_close(self) -> None:
        self.dismiss(None)
