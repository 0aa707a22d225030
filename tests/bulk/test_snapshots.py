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
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def states_ctx(bulk_ctx, limited_sim):
    """12 users in a few states, fixed dates: 3 failing tokens, 3 tested tokens, 2 tested certificates
    (ending Feb and Oct 2027), 4 tokens never tested; every token issued in 2025 (fixed references)."""
    targets = seed(bulk_ctx, limited_sim.sim, 12)
    with bulk_ctx.db.session() as s:
        creds = list(s.scalars(select(KsefCredential).order_by(KsefCredential.id)))
        for i, c in enumerate(creds):
            c.token_last4 = f"{i:04d}"  # the simulator's tokens are random: fixed for the snapshot
            c.token_reference = f"20251010-EC-1DCE3E30{i:02d}-12ECB5B36E-45"  # issued before 2027, whatever today is
            if i < 3:
                c.last_auth_ok, c.last_auth_at = False, NOW - dt.timedelta(days=1)
                c.last_auth_error = "KSeF authentication failed with status 450 (bad token): Token unieważniony."
            elif i < 8:
                c.last_auth_ok, c.last_auth_at = True, NOW - dt.timedelta(days=2)
            if i in (6, 7):
                c.method, c.cert_blob, c.cert_serial = "certificate", b"sealed", f"00000000000000{i:02d}"
                c.cert_valid_to = dt.datetime(2027, 2 if i == 6 else 10, 15, tzinfo=dt.UTC)
    return bulk_ctx, targets


def _results(targets):
    statuses = [OK, OK, FAILED, OK, ERROR, OK, CANCELLED]
    messages = {OK: "Authorized by KSeF token.", FAILED: "KSeF authentication failed with status 450: Token unieważniony.",
                ERROR: "KSeF answered 503. Temporary; nothing was saved, re-run this row.",
                CANCELLED: "Not run (cancelled)."}
    return [RowResult(t, s, messages[s]) for t, s in zip(targets, statuses, strict=False)]  # the rows not run yet have no status


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare, states_ctx, size) -> None:
    """The picture under the default token policy (24 Nov 2026)."""
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _targets = states_ctx
    assert snap_compare(PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(NOW))), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_after_the_policy_date(snap_compare, states_ctx, size) -> None:
    """1 Dec 2027: the tokens expired by policy (not "0 days left"), one certificate too."""
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _targets = states_ctx
    later = fixed_clock(dt.datetime(2027, 12, 1, 9, 0, tzinfo=dt.UTC))
    assert snap_compare(PanelApp(ctx, lambda: KsefDashboardScreen(clock=later)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_numbers(snap_compare, states_ctx, size) -> None:
    """The numbers one key away (n): the counts, a count opened, two rows selected."""
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _targets = states_ctx

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press("n")
        await pilot.press(*["down"] * 8, "enter")  # DEMO · last authorization failed
        await pilot.press("space", "down", "space")
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(NOW))), terminal_size=size,
                        run_before=run_before)


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
