"""Another program holds the database's write lock (another ksef-tui, a backup): saving a token crashed
the panel and its crash screen showed part of the token; a wrong password left the login at
"Checking…" for good. Now each is one sentence saying the database is busy, and nothing is changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from ksef_tui.domain.environments import Environment
from ksef_tui.services.accounts import AccountService
from ksef_tui.services.context import AppContext
from ksef_tui.store.engine import open_database
from ksef_tui.store.errors import StoreError
from ksef_tui.ui.app import KsefApp
from tests.accounts.conftest import FAST, Office, fake_time, office  # noqa: F401  (fixtures)
from tests.pilot import settle, wait_until

TOKEN_SECRET = "5ecre7" * 10 + "abcd"
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + TOKEN_SECRET


@pytest.fixture
def locked(ctx) -> Iterator[AppContext]:
    """A context whose database another program holds the write lock of (waiting 0.3 s for it)."""
    url = ctx.db.url
    if make_url(url).get_backend_name() != "sqlite":
        pytest.skip("the lock of a SQLite file")
    holder = sqlite3.connect(make_url(url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    db = open_database(url, busy_timeout_s=0.3)
    try:
        yield AppContext(db, ctx.actor)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        db.dispose()


def test_saving_a_token_while_the_database_is_locked_is_a_sentence(panel, locked):
    with pytest.raises(StoreError) as caught:
        locked.credentials.save_token(locked.actor, panel.user_id, panel.alfa, Environment.DEMO, TOKEN)
    message = str(caught.value)
    assert "busy" in message and "Nothing was changed" in message
    assert TOKEN_SECRET[:8] not in message and "SELECT" not in message and "UPDATE" not in message


async def test_a_wrong_password_while_the_database_is_locked_is_told_not_left_checking(office, fake_time):  # noqa: F811
    accounts = AccountService(office.ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)
    accounts.set_password(office.ctx.actor, office.anna, "Correct-Horse-Battery-9")
    url = office.ctx.db.url
    if make_url(url).get_backend_name() != "sqlite":
        pytest.skip("the lock of a SQLite file")
    db = open_database(url, busy_timeout_s=0.3)
    app = KsefApp(AppContext(db, office.ctx.actor), login=True,
                  accounts=AccountService(db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST))
    holder = sqlite3.connect(make_url(url).database, isolation_level=None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            holder.execute("BEGIN IMMEDIATE")  # another program starts writing
            await pilot.press(*"anna", "enter")
            await pilot.press(*"wrong-password", "enter")

            def message() -> str:
                return str(app.screen.query_one("#login-message").render())

            await wait_until(pilot, lambda: "busy" in message(), "the sentence about the busy database")
            assert "Checking" not in message()
            assert app.current_mode == "login" and app.is_running
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        db.dispose()
