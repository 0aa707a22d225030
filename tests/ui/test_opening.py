"""`ksef-tui` draws its first frame before the database is open (migrations, the vault check and the
services load in a worker), then shows the panel or the login screen as the database says; a
database that cannot be opened still ends the command with its one sentence."""

from __future__ import annotations

import textual.app

from ksef_tui.cli import main
from ksef_tui.services.accounts import AccountService
from ksef_tui.store.errors import StoreError
from ksef_tui.ui.app import KsefApp

from .conftest import wait_until


async def test_the_panel_is_drawn_before_the_database_is_open(seeded_ctx, monkeypatch) -> None:
    seen: list[tuple[str, bool, bool]] = []
    counts: list[str] = []
    real_count = seeded_ctx.companies.count

    def count(actor, flt, **kwargs):
        counts.append(flt.text)
        return real_count(actor, flt, **kwargs)

    monkeypatch.setattr(seeded_ctx.companies, "count", count)

    def opener():  # runs in the worker, after the first frame
        seen.append((type(app.screen).__name__, app.is_open, app.is_panel))
        return seeded_ctx, False

    app = KsefApp(None, opener=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        assert seen == [("OpeningScreen", False, False)]  # drawn; nothing of the panel answered yet
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CompaniesScreen"
                         and app.screen.table.row_count == 300, "the companies, once the database is open")
        assert app.is_panel and app.ctx is seeded_ctx
        assert counts == [""]  # read once, while the screen was built, not again by the screen


async def test_with_passwords_set_the_login_screen_follows(seeded_ctx) -> None:
    from ksef_tui.domain.secret import Secret
    from ksef_tui.services.users import UserFilter

    accounts = AccountService(seeded_ctx.db, clock=seeded_ctx.clock)
    user = seeded_ctx.users.page(seeded_ctx.actor, UserFilter(), 0, 1)[0]
    accounts.set_password(seeded_ctx.actor, user.id, Secret("a long enough password 1"))

    def opener():
        return seeded_ctx, accounts.login_required()

    app = KsefApp(None, opener=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LoginScreen", "the login screen")
        assert not app.is_panel and app.ctx.actor.role == "none"


def test_a_database_that_cannot_be_opened_is_one_sentence(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "ksef.sqlite3"
    path.write_bytes(b"")
    real_run = textual.app.App.run

    def headless(self, *args, **kwargs):
        kwargs.update(headless=True, size=(80, 24))
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(textual.app.App, "run", headless)
    assert main(["--database", f"sqlite:///{path}"]) == 1
    err = capsys.readouterr().err
    assert "is empty (0 bytes)" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert path.stat().st_size == 0


def test_an_opener_that_fails_ends_the_app_with_its_error(seeded_ctx) -> None:
    import asyncio

    def opener():
        raise StoreError("The database x is damaged.")

    app = KsefApp(None, opener=opener)

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.open_error is not None, "the error")

    asyncio.run(run())
    assert isinstance(app.open_error, StoreError) and app.return_code == 1


def test_the_companies_screen_imports_without_the_database_layer() -> None:
    """The panel's first screen (the Companies list) and the app load without SQLAlchemy, SQLModel or
    Alembic: those load in the opening worker, after the first frame."""
    import subprocess
    import sys

    code = ("import sys, ksef_tui.ui.app, ksef_tui.ui.companies.companies; "
            "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

