"""Company → "Additional data": inline validation, save with version, conflict, leaving."""

from __future__ import annotations

from textual.widgets import Input, Static, Switch

from ksef_tui.services.companies import CompanyInput
from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.common.dialogs import ConfirmDialog
from ksef_tui.ui.companies.companies import CompaniesScreen
from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

from .conftest import rows, settle, wait_until


async def open_first(pilot) -> CompanyDetailScreen:
    await pilot.press("enter")
    # the screen draws its frame first, then the form with the company read meanwhile
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CompanyDetailScreen)
                     and pilot.app.screen.detail is not None, "the company's form")
    screen = pilot.app.screen
    assert isinstance(screen, CompanyDetailScreen)
    return screen


def error_text(screen: CompanyDetailScreen, field: str) -> str:
    return str(screen.query_one(f"#err-{field}", Static).render())


def message(screen: CompanyDetailScreen) -> str:
    return str(screen.query_one("#form-message", Static).render())


async def test_enter_opens_additional_data_with_the_company(app: KsefApp, seeded_ctx) -> None:
    first = rows(seeded_ctx, limit=1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot)
        assert screen.company_id == first.id
        assert screen.query_one("#tabs").active == "additional"
        assert screen.query_one("#in-name", Input).value == first.name
        assert screen.query_one("#in-ksef_enabled", Switch).value == first.ksef_enabled
        assert not screen.is_dirty


async def test_a_reload_while_the_form_is_coming_shows_the_newer_reading(app: KsefApp, seeded_ctx) -> None:
    """F5 while the form's rows are still being mounted: once they are all there, the form shows what
    that reload read (here: a name another administrator saved just before it), not the first reading."""
    first = rows(seeded_ctx, limit=1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen := CompanyDetailScreen(first.id))
        await wait_until(pilot, lambda: screen._form_built, "the first reading")
        detail = seeded_ctx.companies.get(seeded_ctx.actor, first.id)
        seeded_ctx.companies.update(seeded_ctx.actor, first.id, detail.version, CompanyInput(
            name="Apteka Zmieniona Sp. z o.o.", nip=detail.nip, regon=detail.regon, address=detail.address,
            ksef_enabled=detail.ksef_enabled, notes=detail.notes))
        screen.load()  # as F5 does (nothing typed yet)
        await wait_until(pilot, lambda: screen.detail is not None
                         and screen.detail.name == "Apteka Zmieniona Sp. z o.o.", "the newer reading")
        await pilot.pause()
        assert screen.query_one("#in-name", Input).value == "Apteka Zmieniona Sp. z o.o."
        assert not screen.is_dirty


async def test_invalid_nip_shows_the_error_under_the_field(app: KsefApp, seeded_ctx) -> None:
    first = rows(seeded_ctx, limit=1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot)
        nip = screen.query_one("#in-nip", Input)
        nip.focus()
        nip.value = "526-000-00-00"
        await pilot.pause()
        assert error_text(screen, "nip") == ""  # not while typing the first time
        await pilot.press("tab")  # leaving the field
        assert "wrong check digit" in error_text(screen, "nip")
        assert screen.query_one("#field-nip").has_class("-invalid")
        await pilot.press("ctrl+s")
        assert "Correct the marked fields" in message(screen)
        assert app.focused is nip
        nip.value = first.nip  # fixed: the error goes away as you type
        await pilot.pause()
        assert error_text(screen, "nip") == ""
    assert seeded_ctx.companies.get(seeded_ctx.actor, first.id).version == first.version


async def test_save_uses_the_loaded_version_and_updates(app: KsefApp, seeded_ctx) -> None:
    first = rows(seeded_ctx, limit=1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot)
        screen.query_one("#in-name", Input).value = "Apteka Nowa Sp. z o.o."
        screen.query_one("#in-ksef_enabled", Switch).value = True
        await pilot.pause()
        assert screen.is_dirty
        await pilot.press("ctrl+s")
        await settle(pilot)  # the UPDATE runs in a thread (the save worker)
        assert message(screen) == "Saved."
        assert not screen.is_dirty
        await pilot.press("escape")  # nothing unsaved: straight back
        await settle(pilot)  # Back is a worker (it may ask first)
        assert isinstance(app.screen, CompaniesScreen)
    saved = seeded_ctx.companies.get(seeded_ctx.actor, first.id)
    assert saved.name == "Apteka Nowa Sp. z o.o."
    assert saved.ksef_enabled
    assert saved.version == first.version + 1


async def test_conflict_keeps_the_edits_and_says_reload(app: KsefApp, seeded_ctx) -> None:
    first = rows(seeded_ctx, limit=1)[0]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot)
        screen.query_one("#in-name", Input).value = "My edit"
        # someone else saves the same company meanwhile
        other = seeded_ctx.companies.get(seeded_ctx.actor, first.id)
        seeded_ctx.companies.update(seeded_ctx.actor, first.id, other.version, CompanyInput(
            name="Their edit", nip=other.nip, address=other.address, ksef_enabled=other.ksef_enabled))
        await pilot.press("ctrl+s")
        await settle(pilot)  # the refused UPDATE comes back from the save worker's thread
        assert "Someone else changed this company; reload" in message(screen)
        assert screen.query_one("#form-message").has_class("-error")
        assert screen.query_one("#in-name", Input).value == "My edit"
        await pilot.press("f5")  # reload asks first, the edits are unsaved
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question before reloading")
        await pilot.press("y")
        await settle(pilot)  # the company read again in a thread, then shown
        assert screen.query_one("#in-name", Input).value == "Their edit"
    assert seeded_ctx.companies.get(seeded_ctx.actor, first.id).name == "Their edit"


async def test_escape_with_unsaved_changes_asks(app: KsefApp, seeded_ctx) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot)
        screen.query_one("#in-notes", Input).value = "call on Monday"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the unsaved-changes question")
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert app.screen is screen
        assert screen.query_one("#in-notes", Input).value == "call on Monday"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("y")  # discard
        await settle(pilot)  # the Back worker, answered, closes the screen
        assert isinstance(app.screen, CompaniesScreen)
