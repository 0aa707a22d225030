"""Faults the panel meets, told in a sentence and survived: the dashboard's CSV export to a folder it
cannot write stopped the panel (WorkerFailed); a list that could not be read showed the raw SQL and its
parameters in a notification."""

from __future__ import annotations

from sqlalchemy import text

from ksef_tui.ui.app import KsefApp
from tests.pilot import settle, wait_until

from .screen_text import shown, told


async def test_a_dashboard_export_to_a_folder_that_cannot_be_written_is_a_sentence(panel, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    panel.ctx.options["downloads_dir"] = str(blocker / "exports")
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("n")  # the numbers behind the dashboard's picture
        await settle(pilot)
        await pilot.press("enter")  # the first count, opened
        await settle(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: told(app, "Nothing was exported"), "the export's failure told")
        assert "a part of the path is not a folder" in told(app, "Nothing was exported")
        assert app.is_running and app.return_code is None
    assert blocker.read_text() == "a file where the folder should be"


async def test_a_list_that_cannot_be_read_says_so_without_sql(panel):
    app = KsefApp(panel.ctx)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        with panel.ctx.db.engine.begin() as conn:  # the table vanishes under the panel (a damaged database)
            conn.execute(text("ALTER TABLE company RENAME TO company_gone"))
        await pilot.press("slash", "A")  # a new query: the filter typed
        await wait_until(pilot, lambda: told(app, "The list could not be read"), "the list's failure told")
        screen = told(app, "The list could not be read") + shown(app)
        assert "refused the operation; nothing was changed (log entry" in screen
        assert "SELECT" not in screen and "FROM" not in screen and "company_gone" not in screen
        assert "[parameters" not in screen and "OperationalError" not in screen and "no such table" not in screen
        assert app.is_running
