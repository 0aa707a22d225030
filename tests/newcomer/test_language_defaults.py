"""Why 12, 13, 14: Polish leftovers (the command palette and the Ctrl+C prompt in English, "PRODUCTION"
where the seed says "Środowisko produkcyjne", "(space przełącza)"), English plurals, and the defaults
(opening a company focused Name with its text selected, so the first key replaced the name; "Discard"
was the default button of the unsaved-changes dialog)."""

from __future__ import annotations

from textual.widgets import Button, Input, Switch

from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from . import walk
from .conftest import settle, wait_until


def test_polish_panel_speaks_polish_in_the_palette_the_quit_prompt_and_environment_names(tmp_path):
    found = walk.run_in_language("pl", "language_leftovers", tmp_path)
    assert found["quit"] == ["Chcesz wyjść?", "Naciśnij ^q, aby zamknąć panel."]
    assert found["palette_placeholder"] == "Szukaj poleceń…"
    assert found["system_commands"] == ["Motyw", "Wyjdź"]
    assert found["form_titles"] == ["Środowisko demo", "Środowisko produkcyjne"]
    assert found["panel_titles"][0].endswith("· Środowisko demo")


def test_english_keeps_ksef_names_and_the_palette_has_only_what_an_office_needs(tmp_path):
    found = walk.run_in_language("en", "language_leftovers", tmp_path)
    assert found["quit"] == ["Do you want to quit?", "Press ^q to quit the panel."]
    assert found["palette_placeholder"] == "Search for commands…"
    assert found["system_commands"] == ["Theme", "Quit"]
    assert found["form_titles"] == ["DEMO", "PRODUCTION"]


def test_polish_catalog_says_spacja_not_space():
    from ksef_tui import i18n

    i18n.set_language("pl")
    assert i18n._("Permissions of the new token (space toggles):") == "Uprawnienia nowego tokena (spacja przełącza):"


def test_english_plural_for_one_user():
    from ksef_tui.ui.users.users import UsersScreen

    screen = UsersScreen.__new__(UsersScreen)
    assert screen.serial_question(False, 1) == "Block KSeF self-service for 1 user?"
    assert screen.serial_question(True, 2) == "Allow 2 users to configure KSeF themselves?"


async def test_company_opens_on_the_ksef_switch_and_unsaved_changes_default_to_keep_editing(demo: AppContext):
    from ksef_tui.ui.common.dialogs import ConfirmDialog
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen), "the company")
        await settle(pilot)
        screen = app.screen
        name = screen.query_one("#in-name", Input)
        before = name.value
        assert isinstance(screen.focused, Switch)  # the first useful control
        await pilot.press("x")  # a stray key replaces nothing
        assert name.value == before
        await pilot.press("tab", *" changed")
        await wait_until(pilot, lambda: name.value != before, "the edit")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the unsaved-changes question")
        focused = app.screen.focused
        assert isinstance(focused, Button) and str(focused.label) == "Keep editing"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "back in the form")
        assert name.value.endswith(" changed")


async def test_an_empty_database_says_how_to_fill_it_and_a_filter_says_it_matched_nothing(ctx: AppContext):
    from ksef_tui.ui.users.users import UsersScreen

    app = KsefApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "ksef-tui import companies FILE.csv" in screen.table.empty_text
        await pilot.press("slash", *"nothing")
        await wait_until(pilot, lambda: not screen.filter_pending and "match the filter" in screen.table.empty_text,
                         "the filter's empty text")
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "Users")
        await settle(pilot)
        assert "ksef-tui import users FILE.csv" in app.screen.table.empty_text
