"""The token policy shown and edited in the panel (issue 11 item 2): saved in the settings file (0600),
used at once by the dashboard, audited; the environment variable still wins; bad input is said."""

from __future__ import annotations

import stat

from textual.widgets import Button, Input, Static

from ksef_tui.domain.clock import fixed_clock
from ksef_tui.settings import get_settings
from tests.pilot import PanelApp, settle, wait_until

from .conftest import seed


async def test_the_office_sets_and_resets_the_token_end_date(bulk_ctx, limited_sim, monkeypatch):
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen
    from ksef_tui.ui.ksef.policy_dialog import TokenPolicyDialog

    seed(bulk_ctx, limited_sim.sim, 2)
    bulk_ctx.clock = fixed_clock("2026-12-03")
    app = PanelApp(bulk_ctx, lambda: KsefDashboardScreen())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "work until 30 Nov 2027 (announced by MF, Sep 2026" in str(screen.query_one("#dashboard-policy", Static).render())
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenPolicyDialog), "the policy dialog")
        dialog = app.screen
        dialog.query_one("#policy-last-day", Input).value = "31.12.2026"
        dialog.query_one("#save", Button).press()
        await pilot.pause()
        assert "YYYY-MM-DD" in str(dialog.query_one("#policy-problem", Static).render())  # said, nothing saved
        assert not get_settings().settings_file.exists()
        dialog.query_one("#policy-last-day", Input).value = "2026-12-31"
        dialog.query_one("#save", Button).press()
        await pilot.pause()
        assert "Say where the date comes from" in str(dialog.query_one("#policy-problem", Static).render())
        dialog.query_one("#policy-source", Input).value = "Rozporządzenie MF"
        dialog.query_one("#policy-source-date", Input).value = "2026-12-01"
        dialog.query_one("#save", Button).press()
        await wait_until(pilot, lambda: app.screen is screen, "back on the dashboard")
        await settle(pilot)
        line = str(screen.query_one("#dashboard-policy", Static).render())
        assert "work until 31 Dec 2026 (set by the office: Rozporządzenie MF, 1 Dec 2026)" in line
        assert "DEMO: 2 tokens stop working by 31 Dec 2026" in str(screen.query_one("#dashboard-title", Static).render())
        path = get_settings().settings_file
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "last_day = 2026-12-31" in path.read_text("utf-8")
        assert bulk_ctx.audit.count(bulk_ctx.actor, action="settings.token_policy") == 1
        # back to the announced default
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, TokenPolicyDialog), "the policy dialog")
        app.screen.query_one("#default", Button).press()
        await wait_until(pilot, lambda: app.screen is screen, "back on the dashboard")
        await settle(pilot)
        assert "30 Nov 2027 (announced by MF" in str(screen.query_one("#dashboard-policy", Static).render())
        assert "token_policy" not in path.read_text("utf-8")
