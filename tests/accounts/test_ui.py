"""Pilot: login, the client's own KSeF view, blocking, the administrator's serial operation, audit log."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ksef_tui.domain.environments import Environment
from ksef_tui.services.accounts import AccountService
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp
from tests.pilot import settle, wait_until

from .conftest import FAST, NIP_ALFA, Office

PASSWORD = "Hasło-Anny-2026"


def client_app(office: Office, fake_time) -> KsefApp:
    accounts = AccountService(office.ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    accounts.set_password(office.ctx.actor, office.ewa, PASSWORD + "-ewa")
    return KsefApp(AppContext(office.ctx.db, office.ctx.actor), login=True, accounts=accounts)


async def log_in(pilot, login: str, password: str) -> None:
    await pilot.press(*login, "enter")  # to the password
    await pilot.press(*password, "enter")
    await settle(pilot)


async def test_client_logs_in_configures_token_then_is_blocked(office: Office, ksef_servers, fake_time):
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen
    from ksef_tui.ui.ksef.token_form import TokenInput

    admin = office.ctx.actor
    sim = ksef_servers[Environment.DEMO].app.state.sim
    token = sim.issue_ksef_token(context_nip=NIP_ALFA)
    app = client_app(office, fake_time)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.current_mode == "login"
        assert not app.check_action("goto", ("companies",))
        await pilot.press("f2")  # no way around the login
        assert app.current_mode == "login"
        await log_in(pilot, "anna", PASSWORD)
        # the view's rows are read by its worker and its form follows them: the screen alone is not enough
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen) and app.screen.panel_widget() is not None
                         and app.screen.panel_widget().ready, "the client view and its form")
        screen = app.screen
        assert app.ctx.actor.login == "anna" and not app.ctx.actor.is_admin
        # only her company with KSeF on (Gamma is off), and nothing of the panel
        assert {v.company_id for v in screen.views.values()} == {office.alfa}
        await pilot.press("f2", "f3", "f4", "f7")
        assert app.screen is screen and app.current_mode == "client"
        await pilot.press("enter")  # to the form of the first row (Alfa, DEMO)
        token_input = screen.query_one(TokenInput)
        from textual import events

        token_input.focus()
        token_input.post_message(events.Paste(token))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        view = office.ctx.credentials.get(admin, office.anna, office.alfa, Environment.DEMO)
        assert view.token_last4 == token[-4:]
        assert office.ctx.audit.entries(admin, action="credential.token_set")[0].actor_login == "anna"
        assert not screen.blocked and not screen.panel_widget().disabled

        # the administrator blocks her: after a reload her form is read-only, and says whom to ask
        office.ctx.users.serial_set_may_configure(admin, [office.anna], False)
        await pilot.press("escape", "f5")
        await settle(pilot)
        assert screen.blocked and screen.has_class("-blocked")
        assert screen.panel_widget().disabled
        notice = str(screen.query_one("#client-blocked").render())
        assert "read-only" in notice and "Ewa Admin" in notice and "ewa@biuro.example.pl" in notice
        text = app.export_screenshot()
        assert token[:-4] not in text


async def test_five_wrong_passwords_show_lockout(office: Office, fake_time):
    app = client_app(office, fake_time)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"anna", "enter")
        for _ in range(5):
            await pilot.press(*"wrong-password", "enter")
            await settle(pilot)
        message = str(app.screen.query_one("#login-message").render())
        assert "blocked" in message and "try again in 30 s" in message
        assert sum(fake_time.slept) > 2  # each wrong password cost a growing delay
        assert app.current_mode == "login"


async def test_administrator_logs_in_to_the_panel_and_unblocks_three(office: Office, fake_time):
    from ksef_tui.ui.common.dialogs import PlanDialog
    from ksef_tui.ui.users.users import UserSerialMenu, UserSerialResultDialog

    ctx = office.ctx
    admin = ctx.actor
    ctx.users.serial_set_may_configure(admin, [office.anna, office.bob, office.ewa], False)
    app = client_app(office, fake_time)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await log_in(pilot, "ewa", PASSWORD + "-ewa")
        await wait_until(pilot, lambda: app.current_mode == "companies", "the panel")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("space", "space", "space")
        users = app.screen
        assert users.selection == {office.anna, office.bob, office.ewa}
        await pilot.press("o")  # the menu comes after the selection is copied in a thread
        await wait_until(pilot, lambda: isinstance(app.screen, UserSerialMenu), "the serial menu")
        await pilot.press("enter")  # "Allow" is first
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        assert "Allow 3 users" in app.screen.question
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UserSerialResultDialog)
        assert len(app.screen.result.changed) == 3
        await pilot.press("escape", "f7")
        await settle(pilot)
        from ksef_tui.ui.audit.audit_log import AuditLogScreen

        assert isinstance(app.screen, AuditLogScreen)
        table = app.screen.table
        assert table.row_count >= 3
        app.screen.query_one("#audit-action", Input).value = "user.ksef_allow"
        await wait_until(pilot, lambda: table.row_count == 3 and not app.screen.filter_pending, "the filtered log")
    assert all(ctx.users.get(admin, u).may_configure_ksef for u in (office.anna, office.bob, office.ewa))
    entries = ctx.audit.entries(admin, action="user.ksef_allow")
    assert {e.actor_login for e in entries} == {"ewa"}


async def test_audit_log_exports_csv(office: Office, tmp_path):
    from ksef_tui.ui.audit.audit_log import AuditLogScreen

    app = KsefApp(office.ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(AuditLogScreen(export_dir=tmp_path))
        await settle(pilot)
        app.screen.query_one("#audit-company", Input).value = "alfa"
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
    files = list(tmp_path.glob("ksef-tui-audit-*"))
    assert len(files) == 1 and files[0].suffix == ".csv" and files[0].stat().st_mode & 0o777 == 0o600
    lines = files[0].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,at_utc,actor,action") and len(lines) == 2 and "Alfa" in lines[1]


def test_a_cancelled_audit_export_leaves_no_file(office: Office, tmp_path):
    from ksef_tui.errors import OperationCancelled

    ctx = office.ctx
    seen = []
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(OperationCancelled):
        ctx.audit.export_file(ctx.actor, folder / "log.csv", progress=lambda done, total: seen.append(done),
                              should_cancel=lambda: bool(seen))
    assert seen and list(folder.iterdir()) == []
