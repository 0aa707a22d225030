"""Companies list: keyboard selection, filters, serial operations (checked through the services)."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Button, Input, Static

from ksef_tui.domain.nip import make_nip
from ksef_tui.services import companies as companies_module
from ksef_tui.services.companies import CompanyFilter, CompanyInput, CompanyService
from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.common.dialogs import (
    MessageDialog,
    PlanDialog,
    ProgressDialog,
    SerialMenu,
    SerialResultDialog,
)
from ksef_tui.ui.companies.companies import CompaniesScreen
from ksef_tui.ui.widgets.virtual_table import VirtualTable

from .conftest import rows, settle, wait_until


def companies(app: KsefApp) -> CompaniesScreen:
    screen = app.screen
    assert isinstance(screen, CompaniesScreen)
    return screen


def status(app: KsefApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def visible_names(app: KsefApp) -> list[str]:
    table = app.screen.query_one(VirtualTable)
    return [table.row_at(i).name for i in range(min(table.row_count, 30))]  # type: ignore[union-attr]


async def test_opens_on_companies_with_the_first_page(app: KsefApp, seeded_ctx) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        assert screen.table.row_count == 300
        assert screen.table.has_focus
        assert visible_names(app)[:5] == [r.name for r in rows(seeded_ctx, limit=5)]
        assert "0 selected of 300" in status(app)
        await pilot.pause()


async def test_select_three_and_enable_ksef_by_serial_operation(app: KsefApp, seeded_ctx) -> None:
    actor = seeded_ctx.actor
    off = rows(seeded_ctx, CompanyFilter(ksef=False))
    before_on = set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True)))
    audit_before = seeded_ctx.audit.count(actor, action="company.ksef_enable")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("k", "k")  # all -> on -> off
        await settle(pilot)
        assert companies(app).table.row_count == len(off)
        await pilot.press("space", "space", "space")
        chosen = {r.id for r in off[:3]}
        assert companies(app).selection == chosen
        assert "3 selected of" in status(app)

        await pilot.press("o")  # the menu comes after the selection is copied in a thread
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the serial menu")
        await pilot.press("enter")  # "Enable KSeF" is first
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        assert "Enable KSeF for 3 companies?" in app.screen.question
        assert app.screen.lines == ["3 will have KSeF switched on"]  # what will happen, nothing skipped
        await pilot.press("enter")  # the focused "Enable" button
        await settle(pilot)
        assert isinstance(app.screen, SerialResultDialog)
        assert sorted(app.screen.result.changed) == sorted(chosen)

    after_on = set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True)))
    assert after_on == before_on | chosen
    assert seeded_ctx.audit.count(actor, action="company.ksef_enable") == audit_before + 3
    entries = seeded_ctx.audit.entries(actor, action="company.ksef_enable", limit=3)
    assert {e.object_id for e in entries} == chosen


async def test_serial_operations_disabled_without_selection(app: KsefApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        assert screen.query_one("#serial", Button).disabled
        await pilot.press("o")
        await pilot.press("f6")
        await settle(pilot)  # each key starts the serial worker, which says what to do and ends
        assert app.screen is screen  # nothing opens; it says what to do instead (issue 14)
        assert [str(n.message) for n in app._notifications][-1] == "Select companies first (space, a)."
        await pilot.press("space")
        assert not screen.query_one("#serial", Button).disabled
        assert screen.status_line.has_class("-has-selection")


async def test_select_all_takes_only_the_filtered_rows(app: KsefApp, seeded_ctx) -> None:
    expected = set(seeded_ctx.companies.ids(seeded_ctx.actor, CompanyFilter(text="apteka")))
    assert 0 < len(expected) < 300
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"apteka", "enter")  # enter filters at once and returns to the list
        await settle(pilot)
        screen = companies(app)
        assert screen.table.has_focus
        assert screen.table.row_count == len(expected)
        await pilot.press("a")
        await settle(pilot)
        assert screen.selection == expected
        assert f"{len(expected)} selected of {len(expected)}" in status(app)


async def test_filter_as_you_type_with_polish_letters_and_escape_leaves_input(
    app: KsefApp, seeded_ctx
) -> None:
    expected = seeded_ctx.companies.count(seeded_ctx.actor, CompanyFilter(text="łąka"))
    assert 0 < expected < 300
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        await pilot.press("slash", *"ŁĄKA")
        await wait_until(pilot, lambda: screen.table.row_count == expected, "filtered")
        assert all("łąka" in n.lower() for n in visible_names(app))
        await pilot.press("escape")
        assert screen.table.has_focus
        assert screen.filter_input.value == "ŁĄKA"


async def test_keystrokes_typed_during_a_slow_filter_fold_into_one_query(
    app: KsefApp, seeded_ctx, monkeypatch
) -> None:
    """The first keystroke filters at once; those typed while its query runs make it stale (it is
    told to stop) and become one query for the latest text."""
    service = seeded_ctx.companies
    counted: list[str] = []
    stops: list = []
    release = threading.Event()
    real_count = service.count

    def slow_count(actor, flt=CompanyFilter(), *, should_cancel=None):  # noqa: B008 - as the service has it
        counted.append(flt.text)
        if flt.text == "a":
            stops.append(should_cancel)
            assert release.wait(10)
        return real_count(actor, flt, should_cancel=should_cancel)

    monkeypatch.setattr(service, "count", slow_count)
    expected = real_count(seeded_ctx.actor, CompanyFilter(text="apt"))
    assert 0 < expected < 300
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        counted.clear()
        await pilot.press("slash", "a")
        await wait_until(pilot, lambda: counted == ["a"], "the first query started without waiting")
        assert stops and not stops[0]()
        await pilot.press("p", "t")
        assert screen.filter_pending and counted == ["a"]
        await wait_until(pilot, lambda: stops[0](), "typing on made the running query stale")
        release.set()
        await wait_until(pilot, lambda: not screen.filter_pending and screen.table.row_count == expected, "apt")
        assert counted == ["a", "apt"]
        assert all("apt" in n.lower() for n in visible_names(app))
        assert not app._notifications  # a stale query stopped is no error


async def test_filter_by_nip_with_separators(app: KsefApp, seeded_ctx) -> None:
    target = rows(seeded_ctx, limit=1)[0]
    dashed = f"{target.nip[:3]}-{target.nip[3:6]}"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *dashed, "enter")
        await settle(pilot)
        screen = companies(app)
        ids = {screen.table.row_at(i).id for i in range(screen.table.row_count)}  # type: ignore[union-attr]
        assert target.id in ids
        assert screen.table.row_count < 300


async def test_selection_survives_filtering(app: KsefApp, seeded_ctx) -> None:
    first_two = {r.id for r in rows(seeded_ctx, limit=2)}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        await pilot.press("space", "space")
        await pilot.press("slash", *"zzzz-no-such-company", "enter")
        await settle(pilot)
        assert screen.table.row_count == 0
        assert screen.selection == first_two
        assert "2 selected (2 hidden by the filter) of 0" in status(app)


async def test_shift_arrows_extend_and_shrink(app: KsefApp, seeded_ctx) -> None:
    ids = [r.id for r in rows(seeded_ctx, limit=4)]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        await pilot.press("shift+down", "shift+down")
        assert screen.selection == set(ids[:3])
        await pilot.press("shift+up")
        assert screen.selection == set(ids[:2])
        await pilot.press("down", "down", "space")  # a fresh toggle further down
        assert screen.selection == {*ids[:2], ids[3]}


async def test_invert_within_filtered_rows(app: KsefApp, seeded_ctx) -> None:
    flt = CompanyFilter(text="apteka")
    filtered = seeded_ctx.companies.ids(seeded_ctx.actor, flt)
    outside = next(r.id for r in rows(seeded_ctx) if r.id not in set(filtered))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        screen.selection.add(outside)  # selected before filtering: stays selected
        await pilot.press("slash", *"apteka", "enter")
        await settle(pilot)
        await pilot.press("space", "space")
        await pilot.press("i")
        await settle(pilot)
        assert screen.selection == (set(filtered) - set(filtered[:2])) | {outside}


async def test_escape_clears_the_selection(app: KsefApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        await pilot.press("space", "space", "a")
        await settle(pilot)
        assert len(screen.selection) == 300
        await pilot.press("escape")
        assert screen.selection == set()
        assert "0 selected of 300" in status(app)
        assert screen.query_one("#serial", Button).disabled


async def test_ksef_filter_cycles_all_on_off(app: KsefApp, seeded_ctx) -> None:
    actor = seeded_ctx.actor
    on = seeded_ctx.companies.count(actor, CompanyFilter(ksef=True))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        await pilot.press("k")
        await settle(pilot)
        assert screen.table.row_count == on
        await pilot.press("k")
        await settle(pilot)
        assert screen.table.row_count == 300 - on
        await pilot.press("k")
        await settle(pilot)
        assert screen.table.row_count == 300


async def test_failure_in_the_middle_changes_nothing_and_says_so(
    app: KsefApp, seeded_ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = seeded_ctx.actor
    off = rows(seeded_ctx, CompanyFilter(ksef=False), limit=3)
    before = set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True)))
    audit_before = seeded_ctx.audit.count(actor)
    calls = {"n": 0}
    original = CompanyService._apply_chunk

    def failing_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk I/O error")
        return original(*args, **kwargs)

    monkeypatch.setattr(companies_module, "CHUNK", 1)
    monkeypatch.setattr(CompanyService, "_apply_chunk", staticmethod(failing_chunk))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = companies(app)
        screen.selection.update(r.id for r in off)
        screen.selection_changed()
        screen.run_serial_operation(True)
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("y")
        await settle(pilot)
        assert calls["n"] == 2  # it really failed in the middle
        assert isinstance(app.screen, MessageDialog)
        assert app.screen.error
        # an unexpected error: a sentence naming the log entry, never the exception's own text
        assert app.screen.message.startswith("Nothing was changed: An unexpected error (RuntimeError); the details "
                                             "are in the log ")
    assert set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True))) == before
    assert seeded_ctx.audit.count(actor) == audit_before


async def test_escape_cancels_a_running_serial_operation(
    app: KsefApp, seeded_ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = seeded_ctx.actor
    before = set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True)))
    original = CompanyService.serial_set_ksef
    started = threading.Event()

    def slow(self, actor, ids, enabled, progress=None, should_cancel=None, **kwargs):
        started.set()
        for _ in range(500):  # waits for Esc (at most ~5 s), then runs the real thing
            if should_cancel and should_cancel():
                break
            threading.Event().wait(0.01)
        return original(self, actor, ids, enabled, progress, should_cancel, **kwargs)

    monkeypatch.setattr(CompanyService, "serial_set_ksef", slow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("k", "k")
        await settle(pilot)
        await pilot.press("space", "space")
        companies(app).run_serial_operation(True)
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ProgressDialog), "progress shown")
        await pilot.press("escape")
        await settle(pilot)
        assert started.is_set()
        assert isinstance(app.screen, MessageDialog)
        assert "nothing was changed" in app.screen.message.lower()
    assert set(seeded_ctx.companies.ids(actor, CompanyFilter(ksef=True))) == before


async def test_the_list_is_read_again_once_a_serial_operation_ends_not_while_it_runs(
    app: KsefApp, seeded_ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Returning from the plan to start the operation does not read the list (at 1,000,000 rows a
    count and a million ids, beside the operation); its end does, and shows the new state. A declined
    plan reads the list again, as any return to it does."""
    off = rows(seeded_ctx, CompanyFilter(ksef=False))
    original_set, original_count = CompanyService.serial_set_ksef, CompanyService.count
    started, release = threading.Event(), threading.Event()
    counts: list[str] = []

    def held(self, actor, ids, enabled, progress=None, should_cancel=None, **kwargs):
        started.set()
        release.wait(60)
        return original_set(self, actor, ids, enabled, progress, should_cancel, **kwargs)

    def counted(self, *args, **kwargs):
        counts.append(threading.current_thread().name)
        return original_count(self, *args, **kwargs)

    monkeypatch.setattr(CompanyService, "serial_set_ksef", held)
    monkeypatch.setattr(CompanyService, "count", counted)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("k", "k")  # KSeF off: the list shrinks when the operation ends
        await settle(pilot)
        screen = companies(app)
        await pilot.press("space", "space")
        screen.run_serial_operation(True)
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("n")  # declined: back to the list, read again
        await wait_until(pilot, lambda: app.screen is screen and bool(counts), "the list read after No")
        await settle(pilot)
        counts.clear()
        screen.run_serial_operation(True)
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ProgressDialog) and started.is_set(), "running")
        await pilot.pause()
        assert counts == []  # not read while it runs
        release.set()
        await wait_until(pilot, lambda: isinstance(app.screen, SerialResultDialog), "the summary")
        # read again at its end: the two enabled companies leave the KSeF-off list
        await wait_until(pilot, lambda: bool(counts) and screen.table.row_count == len(off) - 2, "the new state")


async def test_company_name_with_markup_renders(app: KsefApp, seeded_ctx) -> None:
    seeded_ctx.companies.create(
        seeded_ctx.actor, CompanyInput(name="ACME [/]", nip=make_nip("111111111") or "")
    )
    seeded_ctx.companies.create(
        seeded_ctx.actor, CompanyInput(name="[bold]Bold[/bold] & [link=x]co", nip=make_nip("222222222") or "")
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"acme", "enter")
        await settle(pilot)
        table = companies(app).table
        assert table.row_count == 1
        assert "ACME [/]" in table.render_line(1).text
        companies(app).filter_input.value = "bold"
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert "[bold]Bold[/bold] & [link=x]co" in table.render_line(1).text
        await pilot.press("enter")  # the detail screen shows it too
        await settle(pilot)  # its title comes with the company, read in a thread by the screen's worker
        app.save_screenshot()  # renders the whole screen without a markup error
        assert "[bold]Bold[/bold]" in str(app.screen.query_one("#detail-title", Static).render())
