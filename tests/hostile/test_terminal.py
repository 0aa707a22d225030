"""The terminal as an attacker's channel, both ways.

In: a bracketed paste holding an ESC became keystrokes after it (Textual's parser reads an ESC inside
a paste as the start of a key sequence): here a paste into a company's name moved the focus and typed
into the next field. Out: a control character in untrusted text (a name written by another tool, a file
name, KSeF's words) reached the terminal raw (``ESC ] 2`` retitles the window, ``ESC [ 2 J`` blanks
it). Both through the real panel: the events come from the parser the terminal driver creates."""

from __future__ import annotations

from sqlalchemy import text
from textual.drivers import linux_driver, web_driver
from textual.events import Key, Paste
from textual.widgets import Input, Switch

from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
from tests.pilot import settle, wait_until

PASTE = "\x1b[200~Nowa\x1b\t \x1b]52;c;ZXZpbA==\x07 Firma\x1b[201~"
TITLE = "\x1b]2;PWNED\x07"
CLEAR = "\x1b[2J"


def _events_from_the_terminal(driver_module, data: str) -> list:
    """What the panel's terminal driver makes of ``data`` (the parser it creates, fed as it feeds)."""
    parser = driver_module.XTermParser()
    events = [*parser.feed(data[:9]), *parser.feed(data[9:])]  # a read boundary inside the paste
    return events


async def open_first_company(pilot) -> CompanyDetailScreen:
    """The panel's first company, its form open and loaded."""
    app = pilot.app
    await settle(pilot)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen) and app.screen.detail is not None,
                     "the company's form")
    return app.screen


async def test_a_paste_with_an_escape_inserts_text_and_presses_no_key(panel):
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_company(pilot)
        name, nip = screen.query_one("#in-name", Input), screen.query_one("#in-nip", Input)
        switch = screen.query_one("#in-ksef_enabled", Switch)
        name.focus()
        name.value = ""
        await pilot.pause()
        before = (nip.value, switch.value)
        for module in (linux_driver, web_driver):  # the terminal and ksef-tui serve
            events = _events_from_the_terminal(module, PASTE)
            assert not [e for e in events if isinstance(e, Key)], "pasted text became keystrokes"
            assert [type(e) for e in events] == [Paste]
        for event in events:
            app.post_message(event)
        await settle(pilot)
        assert app.focused is name
        assert name.value.startswith("Nowa␛") and "Firma" in name.value and "\x1b" not in name.value
        assert (nip.value, switch.value) == before


async def test_control_characters_in_untrusted_text_never_reach_the_terminal(panel):
    """A name written before the rule (or by another tool) holds escapes: the panel draws them visibly
    (the company's form shows it in its title and its name field)."""
    with panel.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE company SET name = :n WHERE id = :i"),
                     {"n": f"A Evil{TITLE}Corp{CLEAR}\x9b31m", "i": panel.alfa})
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first_company(pilot)
        await settle(pilot)
        shown = app.export_screenshot()
        assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown
        assert "Evil␛]2;PWNED␇Corp␛[2J" in shown


async def test_a_file_name_with_escapes_in_the_picker_is_drawn_visibly(panel, tmp_path):
    """A file someone left in the Downloads folder, named to retitle the window and blank the screen."""
    from ksef_tui.ui.common.file_picker import FilePickerScreen

    (tmp_path / f"faktura{TITLE}{CLEAR}.xml").write_text("<x/>")
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(FilePickerScreen(tmp_path))
        await wait_until(pilot, lambda: "faktura" in app.export_screenshot(), "the file in the picker")
        shown = app.export_screenshot()
        assert "\x1b" not in shown and "\x07" not in shown
        assert "faktura␛]2;PWNED␇␛[2J" in shown
