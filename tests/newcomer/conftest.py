"""The newcomer's walk (issue 14): the demo exactly as ``ksef-tui demo`` makes it, but small and fast."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ksef_tui.services.context import AppContext
from tests.pilot import no_blink, settle, wait_until  # noqa: F401  (the tests import them from here)


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@pytest.fixture
def demo(monkeypatch) -> Iterator[AppContext]:
    """``ksef-tui demo --login`` with 40 companies and 30 users, simulators without KSeF's pauses."""
    from ksef_tui.demo.environment import demo_session
    from ksef_tui.vault.envelope import MASTER_KEY_ENV

    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)  # the demo sets its own; put back afterwards
    with demo_session(companies=40, users=30, logins=True, fast=True) as ctx:
        yield ctx


def burst(app, *keys: str) -> None:
    """Keys as a password manager's auto-type sends them: all queued at once, nothing handled between."""
    from textual import events

    for key in keys:
        char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))


async def press_button(pilot, selector: str, *, most: int = 25) -> None:
    """As a keyboard user: Tab until ``selector`` has the focus, then Enter (fails if Tab never gets there)."""
    app = pilot.app
    for _ in range(most):
        focused = app.screen.focused
        if focused is not None and focused.is_attached and focused in app.screen.query(selector):
            await pilot.press("enter")
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached {selector}")


async def open_user(pilot, login: str) -> None:
    """F3 Users, / filter by the login, Enter: the user's KSeF screen."""
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    app = pilot.app
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press("slash", *login)
    await wait_until(pilot, lambda: getattr(app.screen.table.cursor_row, "login", None) == login,
                     f"{login} first in the filtered list")
    await pilot.press("down", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), f"{login}'s KSeF screen")
    await settle(pilot)
