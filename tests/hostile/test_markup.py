"""Markup in untrusted names is text: a company named ``[@click=app.quit]`` quit the app on a click in
the Profil Zaufany wizard's title, ``[/]`` stopped the panel, ``[PL]`` vanished. Through the real panel:
the names must be shown literally, in titles as in bodies, and nothing may stop."""

from __future__ import annotations

from sqlalchemy import text
from textual.widgets import Button

from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard
from tests.pilot import settle, wait_until
from tests.ui_ksef.conftest import host

from .screen_text import shown

COMPANY = "Alfa [@click=app.quit]Klik[/] [PL] [/]"
PERSON = "Anna [b]Nowak[/b] [/] [PL]"


def _rename(panel) -> None:
    with panel.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE company SET name = :n WHERE id = :i"), {"n": COMPANY, "i": panel.alfa})
        conn.execute(text("UPDATE user_account SET full_name = :n WHERE id = :i"), {"n": PERSON, "i": panel.user_id})


async def test_the_profil_zaufany_wizard_title_shows_a_name_with_markup_as_text(panel):
    _rename(panel)
    app = host(panel)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#token-wizard", Button).press()
        await wait_until(pilot, lambda: isinstance(app.screen, ProfilZaufanyWizard), "the wizard")
        await settle(pilot)
        assert "Get access token — " + COMPANY in shown(app)
        assert app.is_running


async def test_names_with_markup_are_text_on_every_screen_they_appear(panel):
    _rename(panel)
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: COMPANY in shown(app), "the company in the list")
        await pilot.press("enter")  # the company's form: its title and its fields
        await settle(pilot)
        assert COMPANY in shown(app)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f3")  # the users
        await wait_until(pilot, lambda: PERSON in shown(app), "the user in the list")
        await pilot.press("enter")  # the user's KSeF screen
        await wait_until(pilot, lambda: COMPANY in shown(app), "the user's KSeF screen")
        assert PERSON in shown(app)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("d")  # the user's details
        await settle(pilot)
        assert PERSON in shown(app)
        await pilot.press("f4")  # the KSeF section: the dashboard's picture
        await settle(pilot)
        await pilot.press("n")  # the numbers behind it
        await settle(pilot)
        await pilot.press("enter")  # its first group (not configured): the rows with the names
        await wait_until(pilot, lambda: COMPANY in shown(app), "the dashboard's rows")
        assert app.is_running
