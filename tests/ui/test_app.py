"""App shell: sections, help, command palette provider, users list, bindings."""

from __future__ import annotations

from textual.binding import Binding

from ksef_tui.services.users import UserFilter
from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.commands.panel import PanelCommands
from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu
from ksef_tui.ui.common.help import HelpScreen
from ksef_tui.ui.common.list_screen import ListScreen
from ksef_tui.ui.companies.companies import CompaniesScreen
from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen
from ksef_tui.ui.users.user_detail import UserDetailScreen
from ksef_tui.ui.users.users import UsersScreen
from ksef_tui.ui.widgets.virtual_table import VirtualTable

from .conftest import settle, wait_until


async def test_function_keys_switch_sections_and_keep_the_selection(app: KsefApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, CompaniesScreen)
        await pilot.press("space")
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, KsefDashboardScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, CompaniesScreen)
        assert len(app.screen.selection) == 1


async def test_users_list_filter_select_and_detail(app: KsefApp, seeded_ctx) -> None:
    actor = seeded_ctx.actor
    expected = seeded_ctx.users.count(actor, UserFilter(text="anna"))
    assert 0 < expected < 90
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await settle(pilot)  # the Users rows: read ahead in a thread, or by the rows worker
        screen = app.screen
        assert isinstance(screen, UsersScreen)
        assert screen.table.row_count == 90
        await pilot.press("slash", *"anna")
        await wait_until(pilot, lambda: screen.table.row_count == expected, "users filtered")
        await pilot.press("escape", "a")
        await settle(pilot)
        assert screen.selection == set(seeded_ctx.users.ids(actor, UserFilter(text="anna")))
        await pilot.press("i")
        await settle(pilot)
        assert screen.selection == set()
        first = screen.table.cursor_row
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, UserDetailScreen)
        assert app.screen.user_id == first.id  # type: ignore[union-attr]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("enter")  # Users → the user → KSeF
        await pilot.pause()
        from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

        assert isinstance(app.screen, UserKsefScreen)


async def test_help_lists_the_keys_of_the_bindings(app: KsefApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-keys"))
        assert "Serial operations on the selected companies" in text
        assert "Select all rows of the filtered list" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CompaniesScreen)


def _ui_classes() -> list[type]:
    """Every class defined in the modules of ksef_tui.ui."""
    import importlib
    import inspect
    import pkgutil

    import ksef_tui.ui

    found = []
    for info in pkgutil.walk_packages(ksef_tui.ui.__path__, "ksef_tui.ui."):
        module = importlib.import_module(info.name)
        found += [c for _n, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == info.name]
    return found


def test_every_modal_is_a_dialog_screen_centred_over_a_dimmed_screen() -> None:
    from textual.screen import ModalScreen

    from ksef_tui.ui.common.base import DialogScreen

    modals = [c for c in _ui_classes() if issubclass(c, ModalScreen)]
    assert HelpScreen in modals and len(modals) >= 8
    assert [c for c in modals if not issubclass(c, DialogScreen)] == []


async def test_help_is_centred_over_the_screen_it_was_opened_from(app: KsefApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        box = app.screen.query_one("#help").region
        assert abs(box.x - (120 - box.right)) <= 1 and abs(box.y - (40 - box.bottom)) <= 1
        assert app.screen.styles.background.a < 1  # the list under it stays visible, dimmed


def test_every_binding_has_an_id_and_no_unsafe_keys() -> None:
    from ksef_tui.ui.common import dialogs

    classes = [KsefApp, VirtualTable, ListScreen, CompaniesScreen, UsersScreen, CompanyDetailScreen,
               UserDetailScreen, HelpScreen, dialogs.ConfirmDialog, dialogs.MessageDialog,
               dialogs.SerialMenu, dialogs.ProgressDialog, dialogs.SerialResultDialog, dialogs.PlanDialog]
    for cls in classes:
        for binding in cls.BINDINGS:
            assert isinstance(binding, Binding), cls
            assert binding.id, (cls, binding.key)
            for key in binding.key.split(","):
                assert key not in ("ctrl+m", "ctrl+i", "ctrl+h"), (cls, key)


async def test_command_palette_provider_offers_our_commands(app: KsefApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        provider = PanelCommands(app.screen)
        names = [name for name, _help, _cb in provider.commands()]
        assert "Go to Users" in names
        assert "Enable KSeF for the selected companies" in names
        hits = [hit async for hit in provider.search("enable ksef")]
        assert hits and "Enable KSeF" in str(hits[0].match_display)
        # the command runs the same flow as the key: straight to the confirmation
        await pilot.press("space")
        app.serial_ksef(True)
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("escape")
        await pilot.pause()
        app.action_goto("users")
        await pilot.pause()
        assert isinstance(app.screen, UsersScreen)


async def test_serial_menu_escape_does_nothing(app: KsefApp, seeded_ctx) -> None:
    before = seeded_ctx.audit.count(seeded_ctx.actor)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space", "o")  # the menu comes after the selection is copied in a thread
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the serial menu")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CompaniesScreen)
    assert seeded_ctx.audit.count(seeded_ctx.actor) == before


async def test_the_users_keymap_file_changes_keys_by_binding_id(seeded_ctx) -> None:
    from ksef_tui.ui.audit.audit_log import AuditLogScreen
    from ksef_tui.ui.keymap import keymap_path

    path = keymap_path()  # the config folder of this test's home
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('"app.audit_log" = "f8"\n"list.select_all" = 7\n', encoding="utf-8")
    app = KsefApp(seeded_ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert any("list.select_all" in n.message for n in app._notifications)  # a bad value is told
        await pilot.press("f7")  # the audit log's own key no longer opens it
        await settle(pilot)
        assert isinstance(app.screen, CompaniesScreen)
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, AuditLogScreen)


async def test_the_panel_loads_the_ksef_libraries_in_a_thread_once_nobody_types(app: KsefApp) -> None:
    """ui/common/gc_policy.py: after the first idle full pass with the list at rest, the KSeF
    libraries are imported in a worker thread (never on the event loop) and then set aside."""
    from ksef_tui.ui.common import gc_policy

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        policy = app.gc_policy
        assert not policy.preloaded
        policy.last_input -= gc_policy.IDLE_S  # nobody typed for a while
        assert policy.when_idle(app)
        preload = [w for w in app.workers if w.description == "preload"]
        assert len(preload) == 1 and preload[0]._thread_worker
        await settle(pilot)
        policy.when_idle(app)  # the policy's next look
        assert policy.preloaded
