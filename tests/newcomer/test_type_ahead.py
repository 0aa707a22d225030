"""Why 3: keys typed right after Tab or Enter land in the field the focus moved to (issue 14, item 3)."""

from __future__ import annotations

from textual.widgets import Input

from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import burst, settle, wait_until


async def test_login_tab_then_password_in_one_burst(demo: AppContext) -> None:
    app = KsefApp(demo, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, *"admin", "tab", *"admin-demo")
        await settle(pilot)
        login = app.screen.query_one("#login-name", Input)
        password = app.screen.query_one("#login-password", Input)
        assert login.value == "admin"
        assert password.value == "admin-demo"
        # what is drawn: the login as typed, the password as dots only
        assert login.render_line(0).text.strip() == "admin"
        drawn = password.render_line(0).text
        assert "admin-demo" not in drawn and drawn.strip() == "•" * len("admin-demo")
        burst(app, "enter")
        await wait_until(pilot, lambda: app.current_mode == "companies", "the panel")


async def test_login_enter_moves_to_the_password_before_the_next_key(demo: AppContext) -> None:
    app = KsefApp(demo, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, *"admin", "enter", *"admin-demo", "enter")
        await wait_until(pilot, lambda: app.current_mode == "companies", "the panel after one burst")


async def test_company_form_tab_then_keys_land_in_the_next_field(demo: AppContext) -> None:
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen), "the company")
        await settle(pilot)
        screen = app.screen
        await pilot.press("tab")  # from the KSeF switch (the first control) to Name
        start = screen.focused
        assert isinstance(start, Input)
        before = start.value
        burst(app, "tab", "Q", "Q")
        await settle(pilot)
        assert start.value == before  # nothing appended to the field left behind
        now = screen.focused
        assert isinstance(now, Input) and now is not start and "QQ" in now.value  # where the focus went
