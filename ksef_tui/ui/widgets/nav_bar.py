"""The panel's navigation line: Users and Companies → Companies, Users; KSeF."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from ksef_tui.i18n import _

# (mode, label, key) in the order of the panel's menu; the keys are the app's bindings.
SECTIONS: tuple[tuple[str, str], ...] = (("companies", "F2"), ("users", "F3"), ("ksef", "F4"))


def section_label(mode: str) -> str:
    return {"companies": _("Companies"), "users": _("Users"), "ksef": _("KSeF")}[mode]


class NavItem(Label):
    """One clickable section; keyboard users press its F-key."""

    def __init__(self, mode: str, key: str, active: bool) -> None:
        super().__init__(f"{section_label(mode)} {key}", classes="nav-item")
        self.mode = mode
        self.set_class(active, "-active")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.app.switch_mode(self.mode)


class NavBar(Horizontal):
    """Top line: the sections (the current one highlighted), the actor."""

    DEFAULT_CSS = """
    NavBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
        & > .nav-group { color: $text-muted; padding: 0 0 0 1; }
        & > .nav-item { padding: 0 1; }
        & > .nav-item:hover { background: $boost; }
        & > .nav-item.-active { background: $primary; color: $text; text-style: bold; }
        & > .nav-sep { color: $text-muted; }
        & > .nav-spacer { width: 1fr; }
        & > .nav-actor { color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, current: str, actor_login: str = "") -> None:
        super().__init__()
        self.current = current
        self.actor_login = actor_login

    def compose(self) -> ComposeResult:
        yield Label(_("Users and Companies:"), classes="nav-group")
        for mode, key in SECTIONS[:2]:
            yield NavItem(mode, key, mode == self.current)
        yield Label("│", classes="nav-sep")
        mode, key = SECTIONS[2]
        yield NavItem(mode, key, mode == self.current)
        yield Label("", classes="nav-spacer")
        if self.actor_login:
            yield Label(self.actor_login, classes="nav-actor", markup=False)
