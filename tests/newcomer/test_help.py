"""Why 8: Help (``?``) was the same page everywhere, covered only the Companies keys (never the
dashboard's t, e, r, f, x, the audit log's ctrl+e, the user's KSeF keys) and showed clients F2/F3/F4/F7
and serial operations they cannot use. Now it lists the keys active where it was opened."""

from __future__ import annotations

from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, settle, wait_until


def _help_text(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(".help-keys, .help-section"))


async def _help(pilot, key: str = "question_mark") -> str:
    from ksef_tui.ui.common.help import HelpScreen

    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "Help")
    text = _help_text(pilot.app)
    await pilot.press("escape")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, HelpScreen), "Help closed")
    return text


SERIAL = "Serial operations on the selected companies"
AUDIT = "Who changed what and when (administrators)"
SECTIONS = ("Users and Companies → Companies", "Users and Companies → Users", "The KSeF section")


async def test_help_lists_the_keys_of_the_screen_it_was_opened_from(demo: AppContext):
    from ksef_tui.ui.audit.audit_log import AuditLogScreen
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        companies = await _help(pilot)
        assert SERIAL in companies and "Select all rows of the filtered list" in companies
        assert "Invert the selection within the filtered list" in companies  # not in the footer: here
        assert AUDIT in companies and all(s in companies for s in SECTIONS)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard")
        await settle(pilot)
        dashboard = await _help(pilot)
        for tooltip in ("Test authorization of the selected rows", "Enroll KSeF certificates for the selected rows",
                        "Ask KSeF which tokens and certificates are revoked, expired or blocked",
                        "Export the open rows as CSV", "Why can't the user of the row under the cursor log in"):
            assert tooltip in dashboard
        assert SERIAL not in dashboard
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditLogScreen), "the audit log")
        await settle(pilot)
        assert "Write the filtered entries to a CSV file" in await _help(pilot)
        await pilot.press("escape", "f2")
        await settle(pilot)
        await open_user(pilot, "demo-token")
        user = await _help(pilot)
        assert "Authorize in KSeF with the saved credential of the selected row" in user
        assert SERIAL not in user
        await pilot.press("escape", "escape", "f2")
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen), "a company")
        await settle(pilot)
        await pilot.press("tab")  # from the KSeF switch to Name, which takes "?" as a character:
        # F1 is the key there, and the footer says so
        footer = " ".join(f"{k.key_display} {k.description}" for k in app.screen.query("FooterKey"))
        assert "f1 Help" in footer
        company = await _help(pilot, "f1")
        assert "Save" in company and "Back to the list (asks before dropping your edits)" in company
        assert SERIAL not in company


async def test_a_client_sees_only_the_keys_a_client_can_use(demo: AppContext):
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen

    app = KsefApp(demo, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"client", "enter", *"client-demo", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen), "the client's view")
        await settle(pilot)
        text = await _help(pilot)
        assert "Quit" in text and "Authorize in KSeF with the saved credential" in text
        assert AUDIT not in text and SERIAL not in text
        assert not any(s in text for s in SECTIONS)
        assert "F7" not in text and "F2" not in text


async def test_keys_left_out_of_the_footer_are_commands_in_the_palette(demo: AppContext):
    from textual.command import CommandPalette

    from ksef_tui.ui.commands.panel import PanelCommands
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard")
        dashboard = app.screen
        await settle(pilot)
        names = {name: help_text for name, help_text, _c in PanelCommands(dashboard).screen_keys()}
        assert names["Ask KSeF which tokens and certificates are revoked, expired or blocked"] == "Key: f"
        assert "Export the open rows as CSV" in names and "Test authorization of the selected rows" not in names
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"revoked, expired")
        await wait_until(pilot, lambda: app.screen.query("CommandList Option") or
                         len(app.screen.query_one("CommandList").options) > 0, "the command found")
        await pilot.press("enter")
        await settle(pilot)
        # run as f would be: with nothing chosen the dashboard says what to do first
        await wait_until(pilot, lambda: any("select rows first" in str(n.message) for n in app._notifications),
                         "the dashboard's answer to f")
        assert app.screen is dashboard
