"""Snapshots at 80x24 and 120x40: the KSeF dashboard, a bulk run in progress, its result summary.

The dashboard's clock is fixed (24 Nov 2026) and the bulk screens are fed fixed progress and
results (no worker, no clock). Update with ``pytest tests/bulk --snapshot-update``, then read the SVGs.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ksef_tui.domain.clock import fixed_clock
from ksef_tui.services.ksef.bulk import CANCELLED, ERROR, FAILED, OK, BulkProgress, BulkReport, RowResult
from ksef_tui.store.models import KsefCredential

from tests.pilot import PanelApp

from .conftest import seed

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def states_ctx(bulk_ctx, limited_sim):
    """12 token users in a few states, fixed dates."""
    targets = seed(bulk_ctx, limited_sim.sim, 12)
    with bulk_ctx.db.session() as s:
        creds = list(s.scalars(select(KsefCredential).order_by(KsefCredential.id)))
        for i, c in enumerate(creds):
            c.token_last4 = f"{i:04d}"  # the simulator's tokens are random: fixed for the snapshot
            if i < 3:
                c.last_auth_ok, c.last_auth_at = False, NOW - dt.timedelta(days=1)
                c.last_auth_error = "KSeF authentication failed with status 450 (bad token): Token unieważniony."
            elif i < 8:
                c.last_auth_ok, c.last_auth_at = True, NOW - dt.timedelta(days=2)
    return bulk_ctx, targets


def _results(targets):
    statuses = [OK, OK, FAILED, OK, ERROR, OK, CANCELLED]
    messages = {OK: "Authorized by KSeF token.", FAILED: "KSeF authentication failed with status 450: Token unieważniony.",
                ERROR: "KSeF answered 503. Temporary; nothing was saved, re-run this row.",
                CANCELLED: "Not run (cancelled)."}
    return [RowResult(t, s, messages[s]) for t, s in zip(targets, statuses)]


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare, states_ctx, size) -> None:
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _targets = states_ctx

    async def run_before(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        screen.counts_table().focus()
        await pilot.press("down", "down", "down", "down", "down", "down", "enter")  # DEMO · last authorization failed
        await pilot.press("space", "down", "space")
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(NOW))), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_bulk_run_in_progress(snap_compare, states_ctx, size) -> None:
    from ksef_tui.ui.ksef.bulk_run import TEST, BulkRunScreen

    ctx, targets = states_ctx
    results = _results(targets)[:5]

    async def run_before(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        screen.running = True
        for i, r in enumerate(results, 1):
            counts = {s: sum(1 for x in results[:i] if x.status == s) for s in (OK, FAILED, ERROR)}
            screen.show_progress(BulkProgress(i, len(targets), counts, 2.5 * i, 2.5 * (len(targets) - i), r))
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, lambda: BulkRunScreen(TEST, targets, autostart=False)), terminal_size=size,
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_bulk_run_summary(snap_compare, states_ctx, size) -> None:
    from ksef_tui.ui.ksef.bulk_run import TEST, BulkRunScreen

    ctx, targets = states_ctx
    targets = targets[:7]
    report = BulkReport("test", _results(targets), cancelled=True, elapsed_s=17.0)

    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.show_report(report)
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, lambda: BulkRunScreen(TEST, targets, autostart=False)), terminal_size=size,
                        run_before=run_before)
