"""`ksef-tui` on a SQLite database at the newest schema where nobody must log in: its first frame is the
Companies list with its rows, read with the standard library before the database is opened (the opener
still runs after it: SQLAlchemy, the migrations check, the vault check). Keys pressed meanwhile wait for
the database, never lost, never run without it. Anything else (a login, an old schema) opens as ever."""

from __future__ import annotations

import pytest
import textual.app

from ksef_tui.cli import main
from ksef_tui.services.accounts import AccountService
from ksef_tui.ui.app import KsefApp

from .conftest import wait_until


@pytest.fixture(autouse=True)
def _pilot_after_first_loads():
    """Here keys are pressed while the database opens (the opener is held): the pilot comes at once,
    not after the first loads (tests/conftest.py), which include the opening itself."""
    yield


async def _companies_shown(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: type(app.screen).__name__ == "CompaniesScreen" and bool(app.screen.query("#table"))
                     and app.screen.table.row_count > 0, "the Companies list")


def _sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the first view reads SQLite only (PostgreSQL: the opening screen, as above)")


def _first_view(db_url: str):
    from ksef_tui.cli.panel import read_ahead

    return read_ahead(db_url)


def _held_opener(ctx, login: bool = False):
    """An opener that waits until the test lets it finish: what the panel does meanwhile is seen."""
    import threading

    release = threading.Event()

    def opener():
        assert release.wait(60)
        return ctx, login

    return opener, release


def _frames(monkeypatch, until):
    """The real `ksef-tui` headless: the screens of the frames it hands to the driver, until one for which
    ``until(app)`` holds has been drawn and the database is open."""
    seen: list[tuple[str, int, bool]] = []
    real_run = textual.app.App.run

    def headless(self, *args, **kwargs):
        display = self._display

        reached: list[bool] = []

        def done() -> None:  # the database open may draw nothing new: looked at between frames too
            if reached and self.is_open:
                self.exit()

        def shown(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is None or self._batch_count:
                return
            table = self.screen.query("#table")
            rows = table.first().row_count if table and table.first().loaded_rows() else 0
            if not seen:
                self.set_interval(0.02, done)
            seen.append((type(self.screen).__name__, rows, self.is_open))
            if until(self):  # a frame showed what the test waits for
                reached.append(True)
            done()

        self._display = shown
        kwargs.update(headless=True, size=(120, 40))
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(textual.app.App, "run", headless)
    return seen


def test_ksef_tui_draws_the_companies_rows_in_its_first_frame(seeded_ctx, db_url, monkeypatch) -> None:
    _sqlite_only(db_url)
    seen = _frames(monkeypatch, lambda app: True)
    assert main(["--database", db_url]) == 0
    assert seen[0] == ("CompaniesScreen", 300, False)  # the rows, before the database was opened


def test_the_rows_read_ahead_are_the_services_and_keys_wait_for_the_database(seeded_ctx, db_url) -> None:
    import asyncio

    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    _sqlite_only(db_url)
    page = seeded_ctx.companies.page(seeded_ctx.actor, CompanyFilter(), 0, 100)
    opener, release = _held_opener(seeded_ctx)
    app = KsefApp(None, opener=opener, first_view=_first_view(db_url))

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _companies_shown(pilot)
            screen = app.screen
            assert type(screen).__name__ == "CompaniesScreen" and not app.is_open and app.is_panel
            assert screen.table.row_count == 300 and list(screen.table.loaded_rows()) == page
            assert app.actor.is_admin  # the local administrator's panel, as the context will say
            await pilot.press("down", "space", "enter")  # select the second row (the cursor goes on), open the third
            await pilot.pause()
            assert app.screen is screen and screen.selection == {page[1].id}  # the detail waits for the database
            release.set()
            await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen)
                             and app.screen.detail is not None, "the company opened")
            assert app.is_open and app.ctx is seeded_ctx and app.screen.company_id == page[2].id

    asyncio.run(run())


async def test_select_all_filter_and_another_section_pressed_before_the_database_is_open(seeded_ctx, db_url) -> None:
    from ksef_tui.services.companies import CompanyFilter

    _sqlite_only(db_url)
    apteka = seeded_ctx.companies.count(seeded_ctx.actor, CompanyFilter(text="apteka"))
    opener, release = _held_opener(seeded_ctx)
    app = KsefApp(None, opener=opener, first_view=_first_view(db_url))
    async with app.run_test(size=(120, 40)) as pilot:
        await _companies_shown(pilot)
        screen = app.screen
        await pilot.press("question_mark")  # Help needs no database
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "back on the list")
        await pilot.press("a")  # select all: its ids wait for the database
        await pilot.press("slash", *"apteka")
        await pilot.press("f3")  # Users: built once the database is open
        await pilot.pause()
        assert app.screen is screen and not app.is_open
        release.set()
        await wait_until(pilot, lambda: type(app.screen).__name__ == "UsersScreen", "the Users section")
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen is screen and not screen.filter_pending
                         and screen.table.row_count == apteka, "the filtered companies")
        assert len(screen.selection) == 300


async def test_a_serial_operation_chosen_before_the_database_is_open(seeded_ctx, db_url) -> None:
    from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu

    _sqlite_only(db_url)
    opener, release = _held_opener(seeded_ctx)
    app = KsefApp(None, opener=opener, first_view=_first_view(db_url))
    async with app.run_test(size=(120, 40)) as pilot:
        await _companies_shown(pilot)
        await pilot.press("space", "o")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the menu")
        await pilot.press("enter")  # Enable KSeF: what it will do is read once the database is open
        await pilot.pause()
        assert not isinstance(app.screen, PlanDialog)
        release.set()
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the plan")
        assert "Enable KSeF for 1 company?" in app.screen.question


def test_with_passwords_set_no_row_is_ever_drawn_before_login(seeded_ctx, db_url, monkeypatch) -> None:
    from ksef_tui.domain.secret import Secret
    from ksef_tui.services.users import UserFilter

    _sqlite_only(db_url)
    user = seeded_ctx.users.page(seeded_ctx.actor, UserFilter(), 0, 1)[0]
    AccountService(seeded_ctx.db).set_password(seeded_ctx.actor, user.id, Secret("a long enough password 1"))
    seen = _frames(monkeypatch, lambda app: type(app.screen).__name__ == "LoginScreen")
    assert main(["--database", db_url]) == 0
    assert seen[0][0] == "OpeningScreen" and seen[-1][0] == "LoginScreen"
    assert all(name != "CompaniesScreen" and rows == 0 for name, rows, _open in seen)


async def test_a_password_set_after_the_first_view_leaves_nothing_behind_the_login(seeded_ctx, db_url) -> None:
    _sqlite_only(db_url)
    opener, release = _held_opener(seeded_ctx, login=True)  # as if someone set one meanwhile
    app = KsefApp(None, opener=opener, first_view=_first_view(db_url))
    async with app.run_test(size=(120, 40)) as pilot:
        await _companies_shown(pilot)
        await pilot.press("f3")  # waits for the database, then is not for whoever logs in
        release.set()
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LoginScreen", "the login screen")
        await pilot.pause()
        assert not app.is_panel and app.ctx.actor.role == "none"
        assert "companies" not in app._screen_stacks and type(app.screen).__name__ == "LoginScreen"


def test_an_older_schema_opens_as_ever_and_is_migrated(tmp_path, monkeypatch) -> None:
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.migrate import HEAD, current_revision, upgrade_to

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db = open_database(url, migrate=False)
    upgrade_to(db, "0008")
    db.dispose()
    seen = _frames(monkeypatch, lambda app: type(app.screen).__name__ == "CompaniesScreen")
    assert main(["--database", url]) == 0
    assert seen[0][0] == "OpeningScreen" and seen[-1][0] == "CompaniesScreen"
    db = open_database(url, migrate=False)
    assert current_revision(db) == HEAD
    db.dispose()


def test_the_first_view_reads_one_page_of_the_list() -> None:
    from ksef_tui.cli.panel import FIRST_PAGE
    from ksef_tui.ui.widgets.virtual_table import PAGE_SIZE

    assert FIRST_PAGE == PAGE_SIZE


async def test_a_first_view_read_late_replaces_the_opening_screen(seeded_ctx, db_url) -> None:
    from concurrent.futures import Future

    from ksef_tui.services.company_list import first_view

    _sqlite_only(db_url)
    late: Future = Future()  # a cold disk: not read within the grace
    opener, release = _held_opener(seeded_ctx)
    app = KsefApp(None, opener=opener, first_view=late)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: type(app.screen).__name__ == "OpeningScreen", "the opening screen")
        late.set_result(first_view(db_url, limit=100))
        await _companies_shown(pilot)
        screen = app.screen
        assert not app.is_open and screen.table.row_count == 300
        release.set()
        await wait_until(pilot, lambda: app.is_open, "the database open")
        await pilot.pause()
        assert app.screen is screen and app.is_panel


async def test_a_first_view_read_after_the_database_opened_changes_nothing(seeded_ctx, db_url) -> None:
    from concurrent.futures import Future

    from ksef_tui.services.company_list import first_view

    _sqlite_only(db_url)
    late: Future = Future()
    app = KsefApp(None, opener=lambda: (seeded_ctx, False), first_view=late)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.is_open and type(app.screen).__name__ == "CompaniesScreen"
                         and bool(app.screen.query("#table")) and app.screen.table.row_count == 300,
                         "the panel, opened as ever")
        screen = app.screen
        late.set_result(first_view(db_url, limit=100))
        await pilot.pause(0.1)
        assert app.screen is screen and not app.early


def test_a_database_that_fails_to_open_after_its_rows_ends_the_app_with_its_error(seeded_ctx, db_url) -> None:
    import asyncio
    import threading

    from ksef_tui.store.errors import StoreError

    _sqlite_only(db_url)
    release = threading.Event()

    def opener():  # e.g. the vault check: a wrong master key
        assert release.wait(60)
        raise StoreError("The master key does not open this database.")

    app = KsefApp(None, opener=opener, first_view=_first_view(db_url))

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _companies_shown(pilot)
            await pilot.press("a", "space", "o")  # waiting for the database when it fails
            release.set()
            await wait_until(pilot, lambda: app.open_error is not None, "the error")

    asyncio.run(run())
    assert isinstance(app.open_error, StoreError) and app.return_code == 1
