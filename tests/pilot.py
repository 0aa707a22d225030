"""Pilot helpers shared by the UI tests (``from tests.pilot import settle, wait_until, no_blink``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, TextArea

from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp


class PanelApp(KsefApp):
    """The real panel (:class:`KsefApp` with its app.tcss, footer and keys) opened on a screen under
    test: ``open_screen()`` is pushed over the first section, as the user would have opened it."""

    CSS_PATH = str(Path(__import__("ksef_tui.ui.app").ui.app.__file__).with_name("app.tcss"))

    def __init__(self, ctx: AppContext, open_screen: Callable[[], Screen] | None = None, **kwargs) -> None:
        super().__init__(ctx, **kwargs)
        self.open_screen = open_screen

    def on_mount(self) -> None:
        if self.open_screen is not None:
            self.push_screen(self.open_screen())


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages be handled (no clock involved)."""
    from ksef_tui.ui.common.frames import mounting

    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        while mounting(pilot.app):  # a form coming a part per frame
            await pilot.pause(0.02)


#: how long a UI condition may take before the test fails: generous, so a slow, shared CI machine
#: does not fail a test; a broken flow still fails (its condition never holds)
TIMEOUT_S = 60.0


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    """The one polling helper of the UI tests: let the app run (its messages, timers and workers)
    until ``condition()`` holds; fail, naming ``what``, after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await pilot.pause(0.02)


def no_blink(app: App) -> None:
    """No blinking cursors on any screen: snapshots do not depend on the moment they are taken."""
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False
