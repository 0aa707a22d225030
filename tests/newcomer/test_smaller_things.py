"""Why 15, the smaller things: the Users list said "Firms" where everything else says "Companies", and its
"KSeF" column meant "may configure KSeF themselves"; focus on dropdowns was nearly invisible; a result
("Saved", an authorization's steps) stayed beside fields edited since; after a resize a stray character
stayed at the end of the footer."""

from __future__ import annotations

import contextlib

import pytest
from textual.widgets import Input, Select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, press_button, settle, wait_until
from .test_results_visible import _to_row


@pytest.mark.parametrize(("language", "headers", "legend"), [
    ("en", ["Login", "Full name", "E-mail", "Role", "Active", "Self-service", "Companies"],
     "Self-service: may configure KSeF themselves"),
    ("pl", ["Login", "Imię i nazwisko", "E-mail", "Rola", "Aktyw.", "Samodzielnie", "Firmy"],
     "Samodzielnie: może sam konfigurować KSeF"),
])
async def test_users_list_says_companies_and_names_the_self_service_column(ctx: AppContext, language, headers,
                                                                          legend):
    from ksef_tui import i18n
    from ksef_tui.ui.users.users import UsersScreen

    i18n.set_language(language)  # the column headers are looked up when the list is built
    app = KsefApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "Users")
        await settle(pilot)
        assert [c.label for c in app.screen.table.columns] == headers
        assert app.screen.status_extra() == legend


@contextlib.asynccontextmanager
async def _user_row(ctx: AppContext, login: str, env: Environment):
    """The panel at 80x24, ``login``'s KSeF screen on the row of ``env``: the pilot and the row's form."""
    app = KsefApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, login)
        await _to_row(pilot, env)
        yield pilot, app.screen.panel_widget()


def _background(select: Select):
    from textual.widgets._select import SelectCurrent

    return select.query_one(SelectCurrent).visual_style.background


async def test_a_focused_dropdown_stands_out(demo: AppContext):
    async with _user_row(demo, "demo-token", Environment.DEMO) as (pilot, panel):
        app = pilot.app
        method, version = panel.query_one("#panel-method", Select), panel.query_one("#panel-version", Select)
        blurred = _background(method)
        for _ in range(25):  # Tab to the login method's dropdown, as a keyboard user does
            if app.screen.focused is method:
                break
            await pilot.press("tab")
        assert app.screen.focused is method
        await pilot.pause()
        focused = _background(method)
        assert _background(version) == blurred  # the other dropdown, without the focus, as before
        # the focus is seen at a glance: not a tint of a few per cent
        assert sum(abs(a - b) for a, b in zip(focused.rgb, blurred.rgb, strict=True)) > 120, (focused, blurred)


async def test_certificate_result_and_steps_go_when_a_field_is_edited(demo: AppContext):
    from ksef_tui.ui.ksef.status import KsefProblem, KsefSteps

    downloads = demo.options["downloads_dir"]
    async with _user_row(demo, "demo-cert", Environment.DEMO) as (pilot, panel):
        panel.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
        await settle(pilot)
        form = panel.query_one("#cert-demo")
        for field, name in (("#cert-file", "demo-cert-DEMO.crt"), ("#key-file", "demo-cert-DEMO.key")):
            form.query_one(field, Input).focus()
            await pilot.press(*f"{downloads}/{name}")
        await press_button(pilot, "#cert-authorize")
        result, steps = form.query_one("#cert-result", KsefProblem), form.query_one("#cert-steps", KsefSteps)
        await wait_until(pilot, lambda: result.kind == "ok", "the certificate authorized and saved")
        await settle(pilot)
        assert result.kind == "ok" and steps.display, "the result stays after the form clears the password"
        form.query_one("#cert-password", Input).focus()
        await pilot.press("x")  # a further edit
        await settle(pilot)
        assert result.kind == "" and not steps.display, (result.plain, steps.plain)


async def test_the_last_test_result_goes_when_a_new_token_is_typed(demo: AppContext):
    from ksef_tui.ui.ksef.status import KsefProblem, KsefSteps

    async with _user_row(demo, "demo-token", Environment.DEMO) as (pilot, panel):
        result, steps = panel.query_one("#test-result", KsefProblem), panel.query_one("#test-steps", KsefSteps)
        await pilot.press("t")
        await wait_until(pilot, lambda: result.kind == "ok", "the authorization tested")
        await settle(pilot)
        assert steps.display
        panel.query_one("#token-input", Input).focus()
        await pilot.press("a")
        await settle(pilot)
        assert result.kind == "" and not steps.display, (result.plain, steps.plain)


@pytest.mark.parametrize("width", [80, 45])
async def test_no_stray_character_at_the_end_of_the_footer_after_a_resize(ctx: AppContext, width):
    """The command palette's key is docked right over the other keys: the footer's last cell is its own
    (a narrower terminal puts the other keys under it: a letter of theirs showed there)."""
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.resize_terminal(width, 24)
        await settle(pilot)
        await pilot.pause()
        widget, _region = app.screen.get_widget_at(width - 1, 23)
        assert widget.has_class("-command-palette"), widget


async def test_saved_goes_from_the_company_form_when_it_is_edited_again(seeded_ctx: AppContext):
    from textual.widgets import Static

    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    app = KsefApp(seeded_ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen), "the company")
        await settle(pilot)
        message = app.screen.query_one("#form-message", Static)
        await pilot.press("space", "ctrl+s")  # the KSeF switch, saved
        await wait_until(pilot, lambda: str(message.render()) == "Saved.", "Saved.")
        await pilot.press("tab", *" Bis")  # a further edit of the name
        await settle(pilot)
        assert str(message.render()) == "", "'Saved.' is not about the name typed since"
