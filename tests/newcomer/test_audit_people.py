"""Why 9: the audit log could not answer "what happened to this user": objects were internal ids
("DEMO/user 442/company 258") and the user filter matched only who made the change. Why 11: Enter on a
dashboard row did nothing."""

from __future__ import annotations

import re

from ksef_tui.services.audit import AuditFilter
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from . import walk
from .conftest import settle, wait_until


def test_credential_entries_name_the_user_and_the_company_and_the_user_filter_finds_them(demo: AppContext):
    company = walk.company_of(demo, "demo-token")
    about = demo.audit.entries(demo.actor, flt=AuditFilter(user="demo-token"), offset=0, limit=100)
    credential = [e for e in about if e.object_type == "credential"]
    assert credential, "the demo's authorizations of demo-token, found by the user filter"
    assert all(e.actor_login != "demo-token" for e in credential)  # made by someone else: found as the object
    for entry in credential:
        assert entry.object_label.startswith(f"demo-token · {company} (NIP ")
        assert entry.object_label.endswith((" · DEMO", " · PRODUCTION", " · TEST"))
    everything = demo.audit.entries(demo.actor, flt=AuditFilter(), offset=0, limit=5000)
    assert not [e.object_label for e in everything if re.search(r"\b(user|company) \d+", e.object_label)]
    by_company = demo.audit.entries(demo.actor, flt=AuditFilter(company=company), offset=0, limit=100)
    assert {e.object_type for e in by_company} >= {"credential"}


async def test_enter_in_the_audit_log_opens_the_user_and_a_dashboard_row_opens_its_user(demo: AppContext):
    from textual.widgets import Input

    from ksef_tui.domain.environments import Environment
    from ksef_tui.ui.audit.audit_log import AuditLogScreen
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditLogScreen), "the audit log")
        screen = app.screen
        await settle(pilot)
        screen.query_one("#audit-user", Input).focus()
        await pilot.press(*"demo-new")
        await wait_until(pilot, lambda: not screen.filter_pending and screen.table.row_count > 0
                         and all("demo-new" in (r.actor_login + r.object_label) for r in
                                 [screen.table.row_at(i) for i in range(screen.table.row_count)]), "demo-new's entries")
        rows = [screen.table.row_at(i) for i in range(screen.table.row_count)]
        user_rows = [i for i, r in enumerate(rows) if r.object_type == "user"]
        assert user_rows, "demo-new's own entries (created, allowed KSeF)"
        index = user_rows[0]
        screen.table.focus()
        screen.table.move_cursor(index)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-new's KSeF screen")
        await settle(pilot)
        await pilot.press("escape")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard")
        await settle(pilot)
        dashboard = app.screen
        await pilot.press("n")  # the numbers behind the picture
        await settle(pilot)
        counts = dashboard.counts_table()
        rows = counts.source.rows
        counts.focus()
        counts.move_cursor(next(i for i, r in enumerate(rows) if r.environment is Environment.DEMO and r.bucket == "token"))
        await pilot.press("enter")
        await settle(pilot)
        row = dashboard.rows_table().cursor_row
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "the row's user")
        assert app.screen.user_id == row.user_id


async def _open_credential_entry(app, pilot, login: str, env_value: str):
    """F7, the user filter ``login``, Enter on the newest entry about ``login``'s KSeF setting for
    ``env_value``: the entry opened."""
    from textual.widgets import Input

    from ksef_tui.ui.audit.audit_log import AuditLogScreen

    await pilot.press("f7")
    await wait_until(pilot, lambda: isinstance(app.screen, AuditLogScreen), "the audit log")
    screen = app.screen
    await settle(pilot)
    screen.query_one("#audit-user", Input).focus()
    await pilot.press(*login)

    def found() -> list[int]:
        rows = [screen.table.row_at(i) for i in range(screen.table.row_count)]
        return [i for i, r in enumerate(rows) if r.object_type == "credential"
                and r.object_label.startswith(f"{login} · ") and r.object_label.endswith(f" · {env_value}")]

    await wait_until(pilot, lambda: not screen.filter_pending and bool(found()), f"{login}'s KSeF entries")
    screen.table.focus()
    screen.table.move_cursor(found()[0])
    await pilot.press("enter")
    return screen


async def test_enter_on_an_entry_about_a_users_ksef_setting_opens_that_users_ksef_screen_on_its_row(
        demo: AppContext):
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.users import UserFilter
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen, row_key

    user = next(r for r in demo.users.page(demo.actor, UserFilter(text="demo-cert"), 0, 5) if r.login == "demo-cert")
    setting = next(v for v in demo.credentials.overview(demo.actor, user.id)
                   if v.environment is Environment.PRODUCTION)
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_credential_entry(app, pilot, "demo-cert", "PRODUCTION")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-cert's KSeF screen")
        screen = app.screen
        await settle(pilot)
        assert screen.user_id == user.id
        assert screen.current == row_key(setting.company_id, Environment.PRODUCTION)  # the entry's row


async def test_an_entry_about_a_removed_ksef_setting_opens_its_users_screen(demo: AppContext):
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.users import UserFilter
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    user = next(r for r in demo.users.page(demo.actor, UserFilter(text="demo-token"), 0, 5) if r.login == "demo-token")
    setting = next(v for v in demo.credentials.overview(demo.actor, user.id) if v.environment is Environment.DEMO)
    demo.credentials.remove(demo.actor, user.id, setting.company_id, Environment.DEMO)
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_credential_entry(app, pilot, "demo-token", "DEMO")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-token's KSeF screen")
        assert app.screen.user_id == user.id
