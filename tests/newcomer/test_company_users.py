"""Why 11: no way from a company to its users: the Users filter did not match a company's name or NIP."""

from __future__ import annotations

from ksef_tui.domain.nip import format_nip
from ksef_tui.services.context import AppContext
from ksef_tui.services.users import UserFilter
from ksef_tui.ui.app import KsefApp

from . import walk
from .conftest import settle, wait_until


def _logins(ctx: AppContext, text: str) -> set[str]:
    return {r.login for r in ctx.users.page(ctx.actor, UserFilter(text=text), 0, 500)}


def test_users_filter_matches_the_company_name_and_nip(demo: AppContext):
    name = walk.company_of(demo, "demo-token")
    nip = next(v.nip for v in demo.credentials.overview(demo.actor, next(
        r.id for r in demo.users.page(demo.actor, UserFilter(text="demo-token"), 0, 5) if r.login == "demo-token")))
    assert "demo-token" in _logins(demo, name)
    assert "demo-token" in _logins(demo, name.lower()[:8])
    assert "demo-token" in _logins(demo, format_nip(nip))
    assert "demo-token" in _logins(demo, nip)
    assert demo.users.count(demo.actor, UserFilter(text=name)) == len(_logins(demo, name))
    assert "demo-token" not in _logins(demo, "no such company anywhere")


async def test_from_a_company_name_to_its_users_ksef_screen(demo: AppContext):
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
    from ksef_tui.ui.users.users import UsersScreen

    name = walk.company_of(demo, "demo-token")
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "Users")
        screen = app.screen
        await settle(pilot)
        await pilot.press("slash", *name)
        await wait_until(pilot, lambda: not screen.filter_pending and screen.table.row_count >= 1
                         and "demo-token" in {screen.table.row_at(i).login for i in range(screen.table.row_count)},
                         "the company's users")
        rows = [screen.table.row_at(i).login for i in range(screen.table.row_count)]
        await pilot.press("down")
        screen.table.move_cursor(rows.index("demo-token"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-token's KSeF screen")
        await settle(pilot)
        assert any(v.company_name == name for v in app.screen.views.values())
