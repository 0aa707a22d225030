"""The permission screens through the pilot, in the real panel, against the simulator: the company's
KSeF configuration tab, the diagnosis (from the tab, the user's KSeF screen and the dashboard), the
grant dialog carrying out a grant, a withdrawal, the request to the client, the bulk permission check;
and their snapshots at 80x24 and 120x40 (update with ``--snapshot-update``, then read every SVG)."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import pytest
from textual.widgets import Input

from ksef_tui.domain.clock import fixed_clock
from ksef_tui.services.ksef import dashboard as dash
from tests.pilot import PanelApp, no_blink, settle, wait_until

from . import ui_scenario as sc

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@pytest.fixture
def scene(ctx, sim_server, tmp_path):
    ctx.options["downloads_dir"] = str(tmp_path / "downloads")
    ids = sc.build(ctx, sim_server.sim, sim_server.base_url)
    return ctx, sim_server.sim, ids


def _tab(ids):
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    return lambda: CompanyDetailScreen(ids["alfa"], tab="ksef")


def _pane(app):
    from ksef_tui.ui.companies.company_ksef import CompanyKsefPane

    return app.screen.query_one(CompanyKsefPane)


async def _loaded(pilot) -> None:
    await wait_until(pilot, lambda: _pane(pilot.app).pictures and _pane(pilot.app).table.row_count > 0,
                     "the picture on the KSeF tab")
    await settle(pilot)


def _cells(pane, login: str) -> dict[str, str]:
    row = next(r for r in pane.table.loaded_rows() if r.holder.login == login and r.environment is sc.DEMO)
    return {c.key: (c.cell(row).plain if hasattr(c.cell(row), "plain") else c.cell(row)) for c in pane.table.columns}


async def _to_row(pilot, login: str) -> None:
    pane = _pane(pilot.app)
    rows = pane.table.loaded_rows()
    index = next(i for i, r in enumerate(rows) if r.holder.login == login and r.environment is sc.DEMO)
    pane.table.move_cursor(index)
    await pilot.pause()


async def _diagnosed(pilot) -> None:
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DiagnosisScreen)
                     and pilot.app.screen.diagnosis is not None and not pilot.app.screen.running, "a diagnosis")
    await pilot.pause()


def test_the_tab_is_read_when_first_chosen_and_shows_the_picture(scene):
    """Opened on "Additional data", the company screen reads its KSeF configuration only when that tab
    is chosen (not while the form opens), and then shows the same picture."""
    from textual.widgets import TabbedContent

    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen

    ctx, _sim, ids = scene
    app = PanelApp(ctx, lambda: CompanyDetailScreen(ids["alfa"]))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.screen.detail is not None, "the company's form")
            await settle(pilot)
            assert not _pane(app).pictures and _pane(app).table.row_count == 0  # not read yet
            app.screen.query_one(TabbedContent).active = "ksef"
            await _loaded(pilot)
            assert _cells(_pane(app), "piotr")["permissions"] == "InvoiceRead (indirect)"

    asyncio.run(go())


def test_the_tab_shows_the_picture_and_a_grant_fixes_a_user(scene):
    ctx, _sim, ids = scene
    app = PanelApp(ctx, _tab(ids))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await _loaded(pilot)
            pane = _pane(app)
            assert _cells(pane, "piotr")["permissions"] == "InvoiceRead (indirect)"
            assert _cells(pane, "anna")["check"] == "authorized but no permission"
            assert _cells(pane, "ewa")["who"] == "Ewa [bold]Kowalska[/] (ewa)"  # plain text, never markup
            office = next(r for r in pane.table.loaded_rows() if r.holder.kind == "office" and r.environment is sc.DEMO)
            assert office.holder.lines[0].scope == "InvoiceRead" and office.holder.lines[0].can_delegate
            await _to_row(pilot, "anna")
            await pilot.press("d")
            await _diagnosed(pilot)
            diag = app.screen.diagnosis
            assert diag.cause == "no-permission" and diag.actions
            await pilot.press("g")
            await wait_until(pilot, lambda: app.screen.query("#grant-identifier"), "the grant dialog")
            assert app.screen.query_one("#grant-identifier", Input).value == f"Pesel {sc.ANNA}"
            await pilot.click("#grant-ok")
            await wait_until(pilot, lambda: app.screen.query("#message-text"), "KSeF's final answer")
            assert "KSeF carried out the operation" in str(app.screen.query_one("#message-text").render())
            await pilot.press("escape")
            await _diagnosed(pilot)
            assert app.screen.diagnosis.cause == "ok"
            await pilot.press("escape")
            await _loaded(pilot)
            await wait_until(pilot, lambda: _cells(_pane(app), "anna")["check"] == "can log in", "the tab reloaded")

    asyncio.run(go())
    assert "permission.grant_indirect" in ctx.audit.actions(ctx.actor)


def test_withdraw_from_the_tab_and_the_request_to_the_client(scene, tmp_path):
    ctx, _sim, ids = scene
    app = PanelApp(ctx, _tab(ids))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await _loaded(pilot)
            await _to_row(pilot, "piotr")
            await pilot.press("w")
            await wait_until(pilot, lambda: app.screen.query("#choice-list"), "the choice of a permission")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen.query("#message-text"), "KSeF's final answer")
            await pilot.press("escape")
            await wait_until(pilot, lambda: _cells(_pane(app), "piotr")["permissions"] == "missing",
                             "the withdrawn grant gone from the picture")
            await pilot.press("q")
            await wait_until(pilot, lambda: app.screen.query("#request-text"), "the request to the client")
            text = str(app.screen.query_one("#request-text").render())
            assert "NIP 776-281-16-92" in text and "canDelegate" in text
            await pilot.press("s")
            await wait_until(pilot, lambda: list((tmp_path / "downloads").glob("wniosek-ksef-*.txt")), "the saved file")

    asyncio.run(go())
    (saved,) = (tmp_path / "downloads").glob("wniosek-ksef-5265877635-demo-*.txt")
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600 and "Biuro Rachunkowe Bilans" in saved.read_text("utf-8")
    assert "permission.withdraw" in ctx.audit.actions(ctx.actor)


def test_the_dashboard_rows_diagnosis_and_bulk_check(scene):
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, sim, ids = scene
    sim.revoke_permission(ids["entity"])  # the client withdraws: Piotr's chain breaks
    counts = dash.DashboardService(ctx.db).summary(ctx.actor, now=sc.FIXED).counts(sc.DEMO).counts
    assert counts[dash.NO_PERMISSION] == 1 and counts[dash.CHAIN_BROKEN] == 0  # not checked since
    app = PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(sc.FIXED)))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            await pilot.press("n")  # the numbers behind the picture
            screen.rows_table().focus()
            row = next(r for r in screen.counts_table().loaded_rows()
                       if r.environment is sc.DEMO and r.bucket == dash.CERTIFICATE)
            screen.open_bucket(row)
            await pilot.pause()
            await pilot.press("a", "p")  # every certificate row → the bulk permission check, asked first
            await wait_until(pilot, lambda: app.screen.query("#plan-question"), "the question before the check")
            assert str(app.screen.query_one("#plan-question").render()) == "Check in KSeF the permissions of 2 chosen rows?"
            assert "2 will log in to KSeF" in str(app.screen.query_one("#plan-lines").render())
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, BulkRunScreen) and app.screen.report is not None
                             and not app.screen.running, "the bulk permission check")
            codes = {r.target.user_id: r.code for r in app.screen.report.results}
            assert codes == {ids["piotr"]: "chain-broken", ids["anna"]: "no-permission"}
            await pilot.press("escape")
            await settle(pilot)
            assert {r.bucket: r.count for r in screen.counts_table().loaded_rows()
                    if r.environment is sc.DEMO}[dash.CHAIN_BROKEN] == 1
            chain = next(r for r in screen.counts_table().loaded_rows()
                         if r.environment is sc.DEMO and r.bucket == dash.CHAIN_BROKEN)
            screen.open_bucket(chain)
            screen.rows_table().focus()
            await pilot.pause()
            await pilot.press("d")
            await _diagnosed(pilot)
            assert app.screen.diagnosis.cause == "chain-broken"

    asyncio.run(go())


def test_a_key_on_the_users_ksef_screen_opens_the_diagnosis(scene):
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    ctx, _sim, ids = scene
    app = PanelApp(ctx, lambda: UserKsefScreen(ctx, ids["anna"]))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("d")
            await _diagnosed(pilot)
            diag = app.screen.diagnosis
            assert diag.cause == "no-permission" and app.screen.env is sc.DEMO
            assert diag.request is None  # model B, and the client delegated: the office can fix it itself
            await pilot.press("g")
            await wait_until(pilot, lambda: app.screen.query("#grant-identifier"), "the grant dialog")

    asyncio.run(go())


# ---------------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_company_ksef_tab(snap_compare, scene, size):
    ctx, _sim, ids = scene

    async def run_before(pilot) -> None:
        await _loaded(pilot)
        await _to_row(pilot, "anna")

    assert snap_compare(PanelApp(ctx, _tab(ids)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_diagnosis_chain_broken(snap_compare, scene, size):
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

    ctx, sim, ids = scene
    sim.revoke_permission(ids["entity"])

    async def run_before(pilot) -> None:
        await _diagnosed(pilot)

    app = PanelApp(ctx, lambda: DiagnosisScreen(ids["piotr"], ids["alfa"], sc.DEMO, label="piotr"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_grant_dialog(snap_compare, scene, size):
    from ksef_tui.ui.ksef.grant_dialog import GrantDialog

    ctx, _sim, ids = scene

    async def run_before(pilot) -> None:
        await _loaded(pilot)
        pilot.app.push_screen(GrantDialog(ids["anna"], ids["alfa"], sc.DEMO, person="Anna Nowak",
                                          company="Alfa sp. z o.o.", identifier=f"Pesel {sc.ANNA}"))
        await pilot.pause()
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(PanelApp(ctx, _tab(ids)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("bucket", [dash.NO_PERMISSION, dash.CHAIN_BROKEN])
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_dashboard_rows(snap_compare, scene, size, bucket):
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, sim, ids = scene
    sim.revoke_permission(ids["entity"])
    asyncio.run(ctx.diagnosis.diagnose(ctx.actor, ids["piotr"], ids["alfa"], sc.DEMO))

    async def run_before(pilot) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("n")  # the numbers behind the picture
        rows = screen.counts_table().loaded_rows()
        target = next(i for i, r in enumerate(rows) if r.environment is sc.DEMO and r.bucket == bucket)
        await pilot.press(*(["down"] * target), "enter")
        await pilot.pause()

    app = PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(sc.FIXED)))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_serial_grant_from_the_dashboard(scene):
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _sim, ids = scene
    app = PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(sc.FIXED)))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            await pilot.press("n")  # the numbers behind the picture
            await settle(pilot)
            row = next(r for r in screen.counts_table().loaded_rows()
                       if r.environment is sc.DEMO and r.bucket == dash.NO_PERMISSION)
            screen.open_bucket(row)
            screen.rows_table().focus()
            await pilot.pause()
            await pilot.press("a", "o")
            await wait_until(pilot, lambda: app.screen.query("#choice-list"), "the choice of permissions")
            await pilot.press("enter")  # InvoiceRead and InvoiceWrite
            await wait_until(pilot, lambda: app.screen.query("#plan-question"), "the question before the grant")
            lines = str(app.screen.query_one("#plan-lines").render())
            assert "1 will get InvoiceRead, InvoiceWrite for the company of its row" in lines
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, BulkRunScreen) and app.screen.report is not None
                             and not app.screen.running, "the serial grant")
            (result,) = app.screen.report.results
            assert result.status == "ok" and result.target.user_id == ids["anna"]

    asyncio.run(go())
    diag = asyncio.run(ctx.diagnosis.diagnose(ctx.actor, ids["anna"], ids["alfa"], sc.DEMO))
    assert diag.cause == "ok" and diag.permissions == ("InvoiceRead",)  # Alfa delegated InvoiceRead only


def test_ksefs_words_are_shown_as_text_in_the_diagnosis(scene):
    """KSeF's own text (an exception's details) is untrusted: in the diagnosis it is plain text with
    control characters made visible, never markup, never a raw escape."""
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

    ctx, sim, ids = scene
    hostile = "[bold red]Wyzwanie[/] wygasło \x1b[2J\x07 [link=http://x]tu[/link]"
    sim.faults.add(path="/auth/xades-signature", code=21111, details=[hostile], times=None)
    app = PanelApp(ctx, lambda: DiagnosisScreen(ids["piotr"], ids["alfa"], sc.DEMO, label="piotr"))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await _diagnosed(pilot)
            assert app.screen.diagnosis.cause == "challenge-expired"
            shown = app.screen.query_one("#diagnosis-evidence").render()
            assert "[bold red]Wyzwanie[/] wygasło ␛[2J␇ [link=http://x]tu[/link]" in shown.plain
            assert "\x1b" not in shown.plain and "\x07" not in shown.plain
            assert not any("red" in str(span.style) or "link" in str(span.style) for span in shown.spans)

    asyncio.run(go())


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_request_to_the_client(snap_compare, scene, size):
    """The words to send the client when only the client can fix it (the client withdrew its grant)."""
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

    ctx, sim, ids = scene
    sim.revoke_permission(ids["entity"])

    async def run_before(pilot) -> None:
        await _diagnosed(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: pilot.app.screen.query("#request-text"), "the request to the client")
        await pilot.pause()

    app = PanelApp(ctx, lambda: DiagnosisScreen(ids["piotr"], ids["alfa"], sc.DEMO, label="piotr"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("step", ["choice", "plan"])
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_serial_grant(snap_compare, scene, size, step):
    """The dashboard's serial grant: what the office grants, then what it will do to the chosen rows."""
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    ctx, _sim, _ids = scene

    async def run_before(pilot) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("n")  # the numbers behind the picture
        await settle(pilot)
        row = next(r for r in screen.counts_table().loaded_rows()
                   if r.environment is sc.DEMO and r.bucket == dash.CERTIFICATE)
        screen.open_bucket(row)
        screen.rows_table().focus()
        await settle(pilot)
        await pilot.press("a", "o")
        await wait_until(pilot, lambda: pilot.app.screen.query("#choice-list"), "the choice of permissions")
        if step == "plan":
            await pilot.press("down", "enter")  # InvoiceRead only
            await wait_until(pilot, lambda: pilot.app.screen.query("#plan-lines"), "the plan of the grant")
        await pilot.pause()

    app = PanelApp(ctx, lambda: KsefDashboardScreen(clock=fixed_clock(sc.FIXED)))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_diagnosis_speaks_polish(scene):
    """The permission screens through the catalog: the diagnosis in Polish (cause, fix, steps), KSeF's
    own words as KSeF said them."""
    from ksef_tui import i18n
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

    ctx, _sim, ids = scene
    app = PanelApp(ctx, lambda: DiagnosisScreen(ids["anna"], ids["alfa"], sc.DEMO, label="anna"))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await _diagnosed(pilot)
            cause = app.screen.query_one("#diagnosis-cause").render().plain
            hint = app.screen.query_one("#diagnosis-hint").render().plain
            evidence = app.screen.query_one("#diagnosis-evidence").render().plain
            return cause, hint, evidence

    i18n.set_language("pl")
    try:
        cause, hint, evidence = asyncio.run(go())
    finally:
        i18n.set_language("en")
    assert cause.startswith("Przyczyna: no-permission (uwierzytelniony, ale bez uprawnień)")
    assert hint.startswith("Naprawa: Nadaj Anna Nowak pośrednio") and "(biuro może to zrobić)" in hint
    assert "Brak przypisanych uprawnień" in evidence  # KSeF's own words, untranslated
