"""Users → (a user) → details: the "may configure KSeF" switch, saved with optimistic locking.

Snapshots at 80x24 and 120x40 as in test_snapshots.py (update with ``--snapshot-update``,
then look at the SVGs).
"""

from __future__ import annotations

import pytest
from textual.widgets import Switch

from ksef_tui.errors import ConflictError, PermissionDenied
from ksef_tui.services.actor import Actor
from ksef_tui.ui.app import KsefApp
from tests.pilot import settle

from .conftest import Office

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def open_detail_of_first_user(pilot) -> None:
    """F3 → Users (sorted by name: Anna Nowak first) → d opens her details."""
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press("d")
    await settle(pilot)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def test_switch_toggles_by_keyboard_saves_and_audits(office: Office) -> None:
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
    from ksef_tui.ui.users.user_detail import UserDetailScreen
    from ksef_tui.ui.users.users import UsersScreen

    ctx, admin = office.ctx, office.ctx.actor
    version = ctx.users.get(admin, office.anna).version
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail_of_first_user(pilot)
        screen = app.screen
        assert isinstance(screen, UserDetailScreen) and screen.user_id == office.anna
        switch = screen.query_one("#in-may_configure", Switch)
        assert switch.has_focus and switch.value is True
        assert "later version" not in text_of(screen, "#user-companies")
        assert "press k" in text_of(screen, "#user-companies")

        await pilot.press("space")
        await settle(pilot)
        anna = ctx.users.get(admin, office.anna)
        assert anna.may_configure_ksef is False and anna.version == version + 1
        entries = [e for e in ctx.audit.entries(admin) if e.action in ("user.ksef_allow", "user.ksef_block")]
        assert len(entries) == 1
        assert (entries[0].action, entries[0].object_id, entries[0].actor_login) == \
            ("user.ksef_block", office.anna, admin.login)
        assert entries[0].before == {"may_configure_ksef": True} and entries[0].after == {"may_configure_ksef": False}
        assert "no longer" in text_of(screen, "#user-message")
        assert "read-only" in text_of(screen, "#user-may-state")

        await pilot.press("enter")  # Enter toggles too: allowed again, a second entry
        await settle(pilot)
        assert ctx.users.get(admin, office.anna).may_configure_ksef is True
        assert [e.action for e in ctx.audit.entries(admin, action="user.ksef_allow")] == ["user.ksef_allow"]

        await pilot.press("k")  # the user's KSeF screen, as Enter on the Users list opens it
        await settle(pilot)
        assert isinstance(app.screen, UserKsefScreen) and app.screen.user_id == office.anna
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)


async def test_concurrent_change_is_a_conflict_and_nothing_is_overwritten(office: Office) -> None:
    ctx, admin = office.ctx, office.ctx.actor
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail_of_first_user(pilot)
        screen = app.screen
        switch = screen.query_one("#in-may_configure", Switch)
        assert switch.value is True
        # meanwhile another administrator renames her (the switch itself untouched)
        other = ctx.users.get(admin, office.anna)
        from ksef_tui.services.users import UserInput

        ctx.users.update(admin, office.anna, other.version, UserInput(
            login="anna", full_name="Anna Nowak-Zielińska", email=other.email))
        before = ctx.users.get(admin, office.anna)

        await pilot.press("space")  # she is blocked on a stale version: refused
        await settle(pilot)
        after = ctx.users.get(admin, office.anna)
        assert after.may_configure_ksef is True and after.version == before.version
        assert after.full_name == "Anna Nowak-Zielińska"
        assert ctx.audit.entries(admin, action="user.ksef_block") == []
        message = text_of(screen, "#user-message")
        assert "Someone else changed this user" in message and "nothing was saved" in message
        assert screen.query_one("#user-message").has_class("-error")
        # reloaded: the screen shows the database's state and the new version
        assert switch.value is True and screen.detail.version == after.version
        assert "Anna Nowak-Zielińska" in text_of(screen, "#detail-title")

        await pilot.press("space")  # now on the current version: saved
        await settle(pilot)
        assert ctx.users.get(admin, office.anna).may_configure_ksef is False
        assert len(ctx.audit.entries(admin, action="user.ksef_block")) == 1


def test_service_set_may_configure_is_for_administrators_with_the_current_version(office: Office) -> None:
    ctx, admin = office.ctx, office.ctx.actor
    anna = ctx.users.get(admin, office.anna)
    client = Actor(id=office.anna, login="anna", role="client")
    with pytest.raises(PermissionDenied):
        ctx.users.set_may_configure(client, office.anna, anna.version, False)
    with pytest.raises(ConflictError):
        ctx.users.set_may_configure(admin, office.anna, anna.version - 1, False)
    same = ctx.users.set_may_configure(admin, office.anna, anna.version, True)  # already allowed: no change
    assert same.version == anna.version and ctx.audit.entries(admin, action="user.ksef_allow") == []
    blocked = ctx.users.set_may_configure(admin, office.anna, anna.version, False)
    assert not blocked.may_configure_ksef and blocked.version == anna.version + 1
    assert len(ctx.audit.entries(admin, action="user.ksef_block")) == 1


@pytest.mark.parametrize("size", SIZES)
def test_user_detail_snapshot(snap_compare, office: Office, size) -> None:
    async def run_before(pilot) -> None:
        await open_detail_of_first_user(pilot)
        await pilot.press("space")  # blocked: the state and the saved message show
        await settle(pilot)

    assert snap_compare(KsefApp(office.ctx), terminal_size=size, run_before=run_before)
