"""`ksef-tui demo --login`: demo accounts with published passwords; the demo's clients log in."""

from __future__ import annotations

import pytest

from ksef_tui.domain.environments import Environment
from ksef_tui.services.accounts import AccountService
from ksef_tui.services.actor import Actor
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp
from tests.pilot import settle, wait_until

from .conftest import FAST


@pytest.fixture
def demo_ctx(ksef_ctx: AppContext, ksef_servers, tmp_path, fake_time):
    """A small demo database (as ``ksef-tui demo --login`` makes it) on the session's simulators."""
    from ksef_tui.demo.environment import DemoKsef, add_demo_logins
    from ksef_tui.demo.seed import seed_demo

    seed_demo(ksef_ctx.db, ksef_ctx.actor, companies=20, users=10)
    accounts = AccountService(ksef_ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)
    logins = add_demo_logins(ksef_ctx, DemoKsef(ksef_servers, tmp_path / "Downloads"), accounts=accounts)
    return ksef_ctx, accounts, {d.login: d for d in logins}


def login_app(ctx: AppContext, accounts: AccountService) -> KsefApp:
    # as the CLI does: the same context (with its options), the login screen first
    return KsefApp(AppContext(ctx.db, ctx.actor, options=ctx.options), login=True, accounts=accounts)


async def log_in(pilot, login: str, password: str) -> None:
    await settle(pilot)
    await pilot.press(*login, "enter", *password, "enter")
    await settle(pilot)


async def test_demo_client_logs_in_to_a_configured_credential(demo_ctx) -> None:
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen

    ctx, accounts, logins = demo_ctx
    client = logins["client"]
    app = login_app(ctx, accounts)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        hint = str(app.screen.query_one("#login-demo-hint").render())
        for d in logins.values():
            assert f"{d.login} / {d.password}" in hint
        assert "blocked client" in hint and "administrator" in hint
        await log_in(pilot, client.login, client.password)
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen), "the client view")
        screen = app.screen
        assert app.ctx.actor.login == "client" and not app.ctx.actor.is_admin
        assert not screen.blocked
        assert len({v.company_id for v in screen.views.values()}) == 2  # her companies with KSeF on
        assert any(v.environment is Environment.DEMO and v.has_token for v in screen.views.values())


async def test_demo_blocked_client_sees_a_read_only_form(demo_ctx) -> None:
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen

    ctx, accounts, logins = demo_ctx
    app = login_app(ctx, accounts)
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "blocked", logins["blocked"].password)
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen), "the client view")
        await settle(pilot)
        assert app.screen.blocked and app.screen.panel_widget().disabled
        assert "Ewa Administratorka" in str(app.screen.query_one("#client-blocked").render())


async def test_demo_administrator_gets_the_panel(demo_ctx) -> None:
    ctx, accounts, logins = demo_ctx
    app = login_app(ctx, accounts)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "admin", logins["admin"].password)
        await wait_until(pilot, lambda: app.current_mode == "companies", "the panel")
        assert app.ctx.actor.is_admin and app.ctx.actor.login == "admin"


async def test_the_real_login_screen_shows_no_demo_accounts(ctx: AppContext, fake_time) -> None:
    from ksef_tui.services.users import UserInput

    user = ctx.users.create(ctx.actor, UserInput(login="client", full_name="Jan Klient"))
    accounts = AccountService(ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)
    accounts.set_password(ctx.actor, user.id, "client-demo")
    app = KsefApp(AppContext(ctx.db, Actor.local_admin()), login=True, accounts=accounts)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "login"
        assert not app.screen.query("#login-demo-hint")
        assert "client-demo" not in app.export_screenshot()
