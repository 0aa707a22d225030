"""UI fixtures on top of the shared ``ctx`` / ``seeded_ctx`` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from ksef_tui.services.companies import CompanyFilter, CompanyRow
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp


@pytest.fixture
def app(seeded_ctx: AppContext) -> KsefApp:
    return KsefApp(seeded_ctx)


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages be handled (no clock involved)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str,
                     rounds: int = 200) -> None:
    """Pause until ``condition`` holds (debounce timers, workers); fail after many rounds."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    raise AssertionError(f"never happened: {what}")


def no_blink(app: KsefApp) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    for area in app.screen.query(TextArea):
        area.cursor_blink = False


def rows(ctx: AppContext, flt: CompanyFilter = CompanyFilter(), limit: int = 1000) -> list[CompanyRow]:
    return ctx.companies.page(ctx.actor, flt, 0, limit)
