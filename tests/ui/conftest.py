"""UI fixtures on top of the shared ``ctx`` / ``seeded_ctx`` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from ksef_tui.services.companies import CompanyFilter, CompanyRow
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp
from tests.pilot import no_blink, settle  # noqa: F401  (the tests import them from here)


@pytest.fixture
def app(seeded_ctx: AppContext) -> KsefApp:
    return KsefApp(seeded_ctx)


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str,
                     rounds: int = 200) -> None:
    """Pause until ``condition`` holds (debounce timers, workers); fail after many rounds."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    raise AssertionError(f"never happened: {what}")


def rows(ctx: AppContext, flt: CompanyFilter = CompanyFilter(), limit: int = 1000) -> list[CompanyRow]:
    return ctx.companies.page(ctx.actor, flt, 0, limit)
