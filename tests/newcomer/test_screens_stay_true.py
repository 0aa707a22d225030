"""Why 10: screens went stale (after the dashboard enrolled a certificate, the open user KSeF screen
still showed the old state until F5) and F5 silently dropped typed fields."""

from __future__ import annotations

from textual.widgets import Button, Input

from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, settle, wait_until
from .test_selection import _move_to_certificate


def _demo_view(screen):
    return next(v for v in screen.views.values() if v.environment is Environment.DEMO)


async def test_user_screen_shows_a_change_made_elsewhere_when_shown_again(demo: AppContext):
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-token")
        screen = app.screen
        assert not _demo_view(screen).has_certificate
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard")
        _move_to_certificate(demo, "demo-token")  # as the dashboard's enrollment does
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.screen is screen, "the user's screen again")
        assert isinstance(screen, UserKsefScreen)
        await wait_until(pilot, lambda: _demo_view(screen).has_certificate, "the certificate shown")
        await settle(pilot)
        panel = screen.panel_widget()
        assert panel is not None and panel.view.has_certificate  # the form too, nothing was typed


async def test_f5_asks_before_dropping_what_was_typed_and_a_change_elsewhere_keeps_it(demo: AppContext):
    from ksef_tui.ui.common.dialogs import ConfirmDialog
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-token")
        screen = app.screen
        await wait_until(pilot, lambda: screen.panel_widget() is not None and screen.panel_widget().query("#token-input"),
                         "the token form")
        field = screen.panel_widget().query_one("#token-input", Input)
        field.value = "typed-but-not-used"
        screen.table.focus()
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        focused = app.screen.focused
        assert isinstance(focused, Button) and str(focused.label) == "Keep editing"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "back, nothing dropped")
        await settle(pilot)
        assert field.is_attached and field.value == "typed-but-not-used"
        # changed elsewhere while something is typed: the table says it, the field keeps its text
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard")
        _move_to_certificate(demo, "demo-token")
        await pilot.press("f3")
        await wait_until(pilot, lambda: _demo_view(screen).has_certificate, "the table updated")
        await settle(pilot)
        assert field.is_attached and field.value == "typed-but-not-used"
        assert any("Changed elsewhere meanwhile" in str(n.message) for n in app._notifications)
        # F5 and Reload: the form shows it, the typed text is gone as asked
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and screen.panel_widget() is not None
                         and screen.panel_widget().view.has_certificate, "the form reloaded")
