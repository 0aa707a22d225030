"""Pilot helpers shared by the UI tests (``from tests.pilot import settle, wait_until, no_blink``)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, TextArea


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages be handled (no clock involved)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str, rounds: int = 300) -> None:
    """Pause until ``condition`` holds; fail, naming ``what``, after ``rounds`` short pauses."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def no_blink(app: App) -> None:
    """No blinking cursors on any screen: snapshots do not depend on the moment they are taken."""
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False
