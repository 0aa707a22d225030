"""Snapshots at 80x24 and 120x40: login, the client's KSeF view, the blocked state, the audit log.

Everything on screen is fixed: the clock (24 Nov 2026, :data:`conftest.T0`), the token (its last
four characters are shown, the rest never), the audit entries' times. Update with
``pytest tests/accounts/test_snapshots.py --snapshot-update``, then look at every SVG.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ksef_tui.domain.environments import Environment
from ksef_tui.services import audit
from ksef_tui.services.accounts import AccountService
from ksef_tui.services.actor import Actor
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp
from tests.pilot import PanelApp, no_blink, settle, wait_until

from .conftest import FAST, NIP_ALFA, NIP_BETA, T0, Office

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
PASSWORD = "Hasło-Anny-2026"
# a well-formed KSeF 2.0 token for Alfa, fixed so the masked tail ("…7e2c") is the same every run
TOKEN = f"20261124-EC-2A1B3C4D5E-6F7A8B9C0D-4E|nip-{NIP_ALFA}|" + "9f3b" * 15 + "7e2c"


@pytest.fixture
def fixed_client_clock(monkeypatch):
    """The client view is made by the app after login: give it the fixed clock."""
    from ksef_tui.ui.ksef import client_ksef

    class FixedClockClient(client_ksef.ClientKsefScreen):
        def __init__(self, ctx, user_id, *, clock=lambda: T0) -> None:
            super().__init__(ctx, user_id, clock=clock)

    monkeypatch.setattr(client_ksef, "ClientKsefScreen", FixedClockClient)


def _login_app(office: Office, fake_time) -> KsefApp:
    accounts = AccountService(office.ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    return KsefApp(AppContext(office.ctx.db, office.ctx.actor), login=True, accounts=accounts)


def _with_token(office: Office) -> None:
    office.ctx.credentials.save_token(office.ctx.actor, office.anna, office.alfa, Environment.DEMO, TOKEN,
                                      permissions=("InvoiceRead", "InvoiceWrite"), status="Active")


def _log_in_as_anna():
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*"anna", "enter", *PASSWORD, "enter")
        await settle(pilot)
        await wait_until(pilot, lambda: pilot.app.current_mode == "client", "the client view")
        await settle(pilot)
        no_blink(pilot.app)
        text = pilot.app.export_screenshot()
        assert TOKEN[:-4] not in text and TOKEN[-12:-4] not in text
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_login(snap_compare, office, fake_time, size) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*"anna", "enter")  # on to the password
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(_login_app(office, fake_time), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_client_ksef_view(snap_compare, office, fake_time, fixed_client_clock, size) -> None:
    _with_token(office)
    assert snap_compare(_login_app(office, fake_time), terminal_size=size, run_before=_log_in_as_anna())


@pytest.mark.parametrize("size", SIZES)
def test_client_blocked(snap_compare, office, fake_time, fixed_client_clock, size) -> None:
    _with_token(office)
    office.ctx.users.serial_set_may_configure(office.ctx.actor, [office.anna], False)
    assert snap_compare(_login_app(office, fake_time), terminal_size=size, run_before=_log_in_as_anna())


def _audit_entries(ctx: AppContext) -> None:
    """A morning in the office, with fixed times (the services stamp the real time)."""
    ewa = Actor(id=None, login="ewa", role="admin")
    anna = Actor(id=None, login="anna", role="client")
    at = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    rows = [
        (ewa, "company.create", "company", "Alfa Sp. z o.o.", None,
         {"name": "Alfa Sp. z o.o.", "nip": NIP_ALFA, "ksef_enabled": True}),
        (ewa, "company.create", "company", "Beta S.A.", None,
         {"name": "Beta S.A.", "nip": NIP_BETA, "ksef_enabled": False}),
        (ewa, "user.create", "user", "anna", None,
         {"login": "anna", "full_name": "Anna Nowak", "role": "client", "may_configure_ksef": True}),
        (ewa, "user.password_set", "user", "anna", None, {"password_set": True}),
        (anna, "user.login", "user", "anna", None, None),
        (anna, "credential.token_set", "credential", f"{NIP_ALFA}/DEMO/user 2", None,
         {"environment": "DEMO", "method": "token", "token_set": True}),
        (ewa, "company.update", "company", "Beta S.A.", {"ksef_enabled": False}, {"ksef_enabled": True}),
        (ewa, "user.ksef_block", "user", "anna", {"may_configure_ksef": True}, {"may_configure_ksef": False}),
        (ewa, "user.ksef_allow", "user", "bob", {"may_configure_ksef": False}, {"may_configure_ksef": True}),
    ]
    with ctx.db.session() as s:
        audit.record(s, [
            audit.audit_values(actor, action, kind, i + 1, label, before, after,
                               at=at + dt.timedelta(minutes=7 * i))
            for i, (actor, action, kind, label, before, after) in enumerate(rows)
        ])


@pytest.mark.parametrize("size", SIZES)
def test_audit_log(snap_compare, ctx, size) -> None:
    from ksef_tui.ui.audit.audit_log import AuditLogScreen

    _audit_entries(ctx)

    async def run_before(pilot) -> None:
        await settle(pilot)
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, AuditLogScreen), terminal_size=size, run_before=run_before)
