"""Snapshots of the main screens at 80x24 (the smallest terminal we support) and 120x40.

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and then open
and read every SVG that changed.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.common.dialogs import PlanDialog

from .conftest import no_blink, settle, wait_until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def _select_three(pilot: Pilot) -> None:
    await pilot.press("space", "space", "down", "space")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_companies_with_selection(snap_compare, seeded_ctx, size) -> None:
    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=_select_three)


@pytest.mark.parametrize("size", SIZES)
def test_serial_confirmation(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _select_three(pilot)
        await pilot.press("o", "enter")  # Serial operations → Enable KSeF
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PlanDialog), "the confirmation")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_serial_result_summary(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _select_three(pilot)
        await pilot.press("o", "enter", "enter")
        await settle(pilot)

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_additional_data_with_validation_error(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "detail", None) is not None, "the company's form")
        no_blink(pilot.app)  # type: ignore[arg-type]
        nip = pilot.app.screen.query_one("#in-nip", Input)
        nip.focus()
        nip.value = "526-000-00-00"  # wrong check digit
        await pilot.press("tab")  # leaving the field shows its error
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_users_list(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("down", "space")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)
