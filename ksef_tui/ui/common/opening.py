"""What the panel draws while it opens the database: its first frame comes before SQLAlchemy, the
migrations check, the vault check and the KSeF code are loaded (all in a thread worker of
:class:`~ksef_tui.ui.app.KsefApp`); then the section (or the login screen) replaces it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from ksef_tui.i18n import _


class OpeningScreen(Screen[None]):
    """The panel's name and "Opening the database…", until the database is open."""

    DEFAULT_CSS = """
    OpeningScreen { align: center middle; }
    OpeningScreen #opening { width: auto; height: auto; }
    OpeningScreen #opening-title { text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="opening"):
            yield Static("ksef-tui", id="opening-title")
            yield Static(_("Opening the database…"), id="opening-text")
