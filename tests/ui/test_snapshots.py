"""Snapshots of the main screens at 80x24 (the smallest terminal we support) and 120x40.

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and then open
and read every SVG that changed.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu

from .conftest import no_blink, settle, wait_until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def _select_three(pilot: Pilot) -> None:
    await pilot.press("space", "space", "down", "space")
    await pilot.pause()


async def _serial_menu(pilot: Pilot) -> None:
    """``o``: the menu comes from the serial worker, after the selection is copied in a thread (a key
    pressed before it is there goes to the list)."""
    await pilot.press("o")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SerialMenu), "the serial menu")


def _list_read_again(app) -> bool:
    """The list is read again when the serial menu closes (back on it, as from any screen): its rows
    worker and the worker fetching the page on screen have finished, the first row is there. (Not
    settle: the serial worker waits for the answer to the dialog.)"""
    busy = [w for w in app.workers if w.group in ("rows", "virtual-table-pages") and not w.is_finished]
    return not busy and app.companies_screen().table.row_at(0) is not None


@pytest.mark.parametrize("size", SIZES)
def test_companies_with_selection(snap_compare, seeded_ctx, size) -> None:
    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=_select_three)


@pytest.mark.parametrize("size", SIZES)
def test_serial_confirmation(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _select_three(pilot)
        await _serial_menu(pilot)
        await pilot.press("enter")  # Serial operations → Enable KSeF
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PlanDialog), "the confirmation")
        await wait_until(pilot, lambda: _list_read_again(pilot.app), "the list under it read again")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_serial_result_summary(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _select_three(pilot)
        await _serial_menu(pilot)
        await pilot.press("enter")  # Enable KSeF
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PlanDialog), "the confirmation")
        await pilot.press("enter")
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
        await settle(pilot)  # the Users rows: read ahead in a thread, or by the rows worker
        await pilot.press("down", "space")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, seeded_ctx, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(KsefApp(seeded_ctx), terminal_size=size, run_before=run_before)
