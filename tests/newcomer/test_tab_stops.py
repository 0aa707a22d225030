"""Why 5 (last part): one Tab after the table landed on an invisible focus stop."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Input, Select, Switch, TextArea

from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, settle


async def test_tab_from_the_users_table_lands_on_a_control_you_can_see(demo: AppContext):
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-token")
        screen = app.screen
        screen.table.focus()
        seen = []
        for _ in range(6):
            await pilot.press("tab")
            await settle(pilot)
            focused = screen.focused
            seen.append(type(focused).__name__)
            controls = (Input, Button, Select, Checkbox, Switch, TextArea, type(screen.table))
            assert isinstance(focused, controls), seen  # a control, not a scrolling container
            assert focused.region.height > 0 and focused.display, seen
