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
        await _workers_ended(pilot.app)
        await pilot.pause()
        while mounting(pilot.app):  # a form coming a part per frame
            await pilot.pause(0.02)


async def _workers_ended(app: App) -> None:
    """Every worker the app has now has ended, however it ended. ``workers.wait_for_complete()`` raised
    for a worker cancelled meanwhile (the panel quitting while its opening worker returned, Esc) and
    stopped waiting for the others: whether a worker may end so is for the test to say, not its wait."""
    import asyncio
    import contextlib

    from textual.worker import WorkerState

    async def ended(worker) -> None:
        while worker.state is WorkerState.PENDING:  # started this turn: its task has not run yet
            await asyncio.sleep(0)
        with contextlib.suppress(Exception):  # WorkerCancelled, WorkerFailed
            await worker.wait()

    await asyncio.gather(*(ended(worker) for worker in list(app.workers)))


#: how long a UI condition may take before the test fails: generous, so a slow, shared CI machine
#: does not fail a test; a broken flow still fails (its condition never holds)
TIMEOUT_S = 60.0


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    """The one polling helper of the UI tests: let the app run (its messages, timers and workers)
    until ``condition()`` holds; fail, naming ``what``, after ``timeout`` seconds.

    Then, if the app's screen is not mounted yet, until it is: a screen pushed (a dialog a worker
    opens) is ``app.screen`` at once, before its widgets are composed and its ``on_mount`` gave the
    focus, so ``isinstance(app.screen, Dialog)`` alone let a test query a widget not there yet or
    press a key the dialog's default button had not got (a loaded CI machine)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await pilot.pause(0.02)
    while pilot.app.screen_stack and not pilot.app.screen.is_mounted:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what} (its screen mounted)")
        await pilot.pause(0.02)


def no_blink(app: App) -> None:
    """No blinking cursors on any screen: snapshots do not depend on the moment they are taken."""
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False
