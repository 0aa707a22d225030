"""The keys, on ``?`` / F1: built from the bindings active where it was opened, so it cannot drift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ksef_tui.i18n import _
from ksef_tui.ui.common.base import DialogScreen

KEY_WIDTH = 14


class HelpScreen(DialogScreen[None]):
    """The keys of the screen it was opened from, as they are now: the bindings active there (the focused
    widget's, its screen's) with their descriptions, then the keys that work everywhere. Keys the user
    cannot use there are not listed (a client sees no section keys, no audit log, no serial operations)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="help.close"),
        Binding("question_mark", "close", _("Close"), show=False, key_display="?",
                id="help.close_question"),
    ]

    def __init__(self, screen: Screen | None = None) -> None:
        super().__init__()
        self.under = screen

    def sections(self) -> Sequence[tuple[str, list[Binding]]]:
        """("This screen", its keys), ("Everywhere", the app's keys that work there)."""
        under = self.under if self.under is not None else self.app.screen
        by_node: dict[int, list[Binding]] = {}  # the focused widget's first, the screen's, the app's last
        everywhere: list[Binding] = []
        for active in under.active_bindings.values():
            if active.binding.system or active.binding.id is None:  # Textual's own (scrolling, editing)
                continue
            if active.node is self.app:
                everywhere.append(active.binding)
            elif type(active.node).__module__.startswith("ksef_tui."):  # not a text field's editing keys
                by_node.setdefault(id(active.node), []).append(active.binding)
        # the screen's own keys first (filter, serial operations), the moves within a table after them
        here = [binding for group in reversed(by_node.values()) for binding in group]
        found = [(_("This screen"), here)] if here else []
        return [*found, (_("Everywhere"), everywhere)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help") as box:
            box.border_title = _("Keys")
            with VerticalScroll(id="help-body"):
                sections = list(self.sections())
                for title, bindings in sections[:-1]:
                    yield Static(Text(title, style="bold"), classes="help-section")
                    yield Static(self._rows(bindings), classes="help-keys")
                demo = self.demo_text()
                if demo:
                    yield Static(Text(_("Demo"), style="bold"), classes="help-section")
                    yield Static(Text(demo), classes="help-keys", id="help-demo")
                for title, bindings in sections[-1:]:
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
