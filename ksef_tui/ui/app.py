"""The Textual application: the panel's sections as modes, help, command palette."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor
from ksef_tui.services.ksef.preload import load_ksef_libraries
from ksef_tui.ui.commands.panel import PanelCommands
from ksef_tui.ui.common.gc_policy import GcPolicy
from ksef_tui.ui.common.help import HelpScreen
from ksef_tui.ui.common.opening import ContextGate, OpeningScreen, arrived, first_rows, rows_read_ahead
from ksef_tui.ui.common.type_ahead import SettledKeys

if TYPE_CHECKING:
    from ksef_tui.services.company_list import FirstView
    from ksef_tui.services.context import AppContext
    from ksef_tui.ui.companies.companies import CompaniesScreen

#: opens the panel's context in a worker: (the context, whether someone must log in first)
Opener = Callable[[], "tuple[AppContext, bool]"]
#: how often the opening screen looks whether a first view still being read has come
LATE_VIEW_CHECK_S = 0.02


# The sections' screens are imported when first shown: the first frame waits for none of them
# (they bring the services, SQLAlchemy and the KSeF code with them).
def _companies() -> Screen[Any]:
    from ksef_tui.ui.companies.companies import CompaniesScreen

    return CompaniesScreen()


def _users() -> Screen[Any]:
    from ksef_tui.ui.users.users import UsersScreen

    return UsersScreen()


def _ksef() -> Screen[Any]:
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    return KsefDashboardScreen()


def _login() -> Screen[Any]:
    from ksef_tui.ui.accounts.login import LoginScreen

    return LoginScreen()

#: who acts before anyone has logged in: no role, so every service refuses
NOBODY = Actor(id=None, login="", role="none")
#: actions only an administrator's panel has
PANEL_ACTIONS = frozenset({"goto", "audit_log", "command_palette_panel"})


class KsefApp(SettledKeys):
    """``KsefApp(ctx)``: the panel for the actor and database in ``ctx``.

    ``KsefApp(ctx, login=True)`` first asks who is logging in (:class:`LoginScreen`): an
    administrator then gets the panel, a client only their own KSeF configuration
    (:class:`ClientKsefScreen`, mode ``client``), without the panel's sections.
    """

    CSS_PATH = "app.tcss"
    TITLE = "ksef-tui"

    SCREENS: ClassVar[dict] = {
        "companies": _companies,
        "users": _users,
        "ksef": _ksef,
        "login": _login,
        "opening": OpeningScreen,
    }
    MODES: ClassVar[dict] = {"companies": "companies", "users": "users", "ksef": "ksef", "login": "login",
                             "opening": "opening"}
    DEFAULT_MODE: ClassVar[str] = "companies"
    COMMANDS = App.COMMANDS | {PanelCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", _("Help"), key_display="?", id="app.help",
                tooltip=_("Show the keys")),
        # shown only where a text field takes "?" (the footer shows one key per action, the first)
        Binding("f1", "help", _("Help"), id="app.help_f1", tooltip=_("Show the keys")),
        Binding("f2", "goto('companies')", _("Companies"), show=False, id="app.companies",
                tooltip=_("Users and Companies → Companies")),
        Binding("f3", "goto('users')", _("Users"), show=False, id="app.users",
                tooltip=_("Users and Companies → Users")),
        Binding("f4", "goto('ksef')", _("KSeF"), show=False, id="app.ksef",
                tooltip=_("The KSeF section")),
        Binding("f7", "audit_log", _("Audit log"), show=False, id="app.audit_log",
                tooltip=_("Who changed what and when (administrators)")),
        Binding("ctrl+p", "command_palette", _("Commands"), show=False, priority=True,
                id="app.command_palette", tooltip=_("All commands")),
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True, id="app.quit",
                tooltip=_("Quit")),
        Binding("ctrl+c", "help_quit", show=False, system=True, id="app.help_quit"),
    ]

    def __init__(self, ctx: AppContext | None, *, login: bool = False, accounts=None,
                 opener: Opener | None = None, first_view: Future[FirstView | None] | None = None) -> None:
        """``ctx`` ready, or None with an ``opener``: then the first frame says the database is being
        opened, the opener runs in a thread worker, and the panel (or the login screen, as the
        database says) follows; what stops it from opening ends the app (:attr:`open_error`).

        ``first_view``: the Companies list read at start-up (ui.common.opening.arrived): when it is there,
        the first frame is the Companies screen with its rows, and the opener runs after it all the same."""
        from ksef_tui.files import start_log
        from ksef_tui.ui.common import terminal

        terminal.install()  # pasted text stays text; no control character reaches the terminal raw
        start_log()  # where an unexpected error's traceback goes (0600), never to the screen
        view = arrived(first_view) if ctx is None else None
        #: the Companies screen is shown before the database is open (as the local administrator's)
        self.early = view is not None
        # the first mode: the login screen, or (no passwords in the database) the panel
        first = ("companies" if self.early else "opening") if ctx is None else "login" if login \
            else type(self).DEFAULT_MODE
        self.DEFAULT_MODE = first  # type: ignore[misc]  # per app: opening, login or panel
        super().__init__()
        self._ctx = ctx
        self._opener = opener
        self._first_rows: Future[tuple[int, Sequence[Any]]] | None = rows_read_ahead(view)
        #: a first view still being read (a cold disk): shown when it comes, if the database is not open yet
        self._late_view = first_view if ctx is None and view is None and first_view is not None else None
        self._gate = ContextGate()  # what waits for the context the opening worker opens
        #: why the database could not be opened (the command reports it once the app has ended)
        self.open_error: BaseException | None = None
        self.login_required = login
        self._accounts = accounts
        #: full garbage collections only while nobody works in the panel; the KSeF libraries loaded
        #: then too, in a thread (the first KSeF call does not wait for them)
        self.gc_policy = GcPolicy(preload=load_ksef_libraries)
        if login and ctx is not None:
            ctx.actor = NOBODY

    @property
    def ctx(self) -> AppContext:
        if self._ctx is None:
            raise AttributeError("the panel's database is not open yet")  # getattr(app, "ctx", None): None
        return self._ctx

    @ctx.setter
    def ctx(self, ctx: AppContext) -> None:
        self._ctx = ctx

    @property
    def is_open(self) -> bool:
        """The database is open (the context is there)."""
        return self._ctx is not None

    @property
    def actor(self) -> Actor:
        """The context's actor (before it is open, on the early Companies screen: the local administrator)."""
        return Actor.local_admin() if self._ctx is None and self.early else self.ctx.actor

    def wait_for_context(self) -> AppContext:
        """In a thread (never on the event loop): the context, once the worker has opened it (ContextGate.wait)."""
        return self._ctx if self._ctx is not None else self._gate.wait(self._thread_id)

    def when_open(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the event loop now if the database is open, else once it is (a key pressed on
        the Companies screen shown before it opened is neither lost nor run without the context)."""
        action() if self.is_open else self._gate.later(action)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error stops the panel. Textual's own crash screen prints the traceback with
        every frame's local variables (a PKCS#12 password, a KSeF token being saved): here the traceback,
        without locals, goes to the private log, and the screen shows one sentence naming the entry."""
        from rich.text import Text

        from ksef_tui.domain.untrusted import visible
        from ksef_tui.files import log_fault, log_path

        cause = getattr(error, "error", None) if type(error).__name__ == "WorkerFailed" else None
        cause = cause if isinstance(cause, BaseException) else error
        ref = log_fault(cause, "the panel stopped on an unexpected error")
        self._return_code = 1
        if self._exception is None:  # a test run (the pilot) raises it again when it ends
            self._exception = error
            self._exception_event.set()
        self.bell()
        self.panic(Text(visible(_(
            "ksef-tui stopped on an unexpected error ({kind}). The details are in the log {path}, entry "
            "{ref}.").format(kind=type(cause).__name__, path=log_path(), ref=ref))))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.gc_policy.input()
        await super().on_event(event)

    def on_mount(self) -> None:
        self.gc_policy.start(self)
        self.apply_keymap()
        if self._ctx is None:
            self.call_after_refresh(self._open_context)  # after the first frame, which waits for nothing
            if self._late_view is not None:
                self._late_timer = self.set_interval(LATE_VIEW_CHECK_S, self._view_arrived, name="first-view")
        elif not self.login_required:
            self.greet_demo()

    def on_unmount(self) -> None:
        self.gc_policy.stop()

    @work(thread=True, exit_on_error=False, group="opening", description="_open_context")
    def _open_context(self) -> None:
        """Open the database (migrations, the vault check) off the event loop, after the first frame."""
        assert self._opener is not None
        try:
            ctx, login = self._opener()
            if not login:  # the section it shows next, loaded here rather than on the event loop
                import ksef_tui.ui.companies.companies  # noqa: F401
        except BaseException as exc:  # reported by the command once the app has ended, in one sentence
            self.open_error = exc
            self._gate.failed(exc)
            self.call_from_thread(self._open_failed, exc)
            return
        if login:
            ctx.actor = NOBODY  # before anything waiting for the context sees it
        self._gate.opened(ctx, panel=not login)
        if self.early:  # its rows are on the screen already
            self.call_from_thread(self._opened, ctx, login)
            return
        first: Future[tuple[int, Sequence[Any]]] = Future()
        self._first_rows = None if login else first
        self.call_from_thread(self._opened, ctx, login)
        if login:
            return
        try:  # the companies' count and first page, read while the loop builds their screen
            first.set_result(first_rows(ctx))
        except Exception as exc:  # the screen's own worker reads them again and says what is wrong
            first.set_exception(exc)

    def _view_arrived(self) -> None:
        """A first view that came after the opening screen: the Companies list with its rows replaces it,
        unless the database opened first (or someone must log in, or it failed)."""
        late = self._late_view
        if late is None or not (late.done() or self.is_open or self._gate.refused):
            return
        self._late_view = None
        self._late_timer.stop()
        view = arrived(late, 0)
        if view is None or self.is_open or self._gate.refused or self.current_mode != "opening":
            return
        self.early = True
        self._first_rows = rows_read_ahead(view)
        self.switch_mode("companies")

    def take_first_rows(self) -> Future[tuple[int, Sequence[Any]]] | None:
        """The companies' count and first page read ahead while the database opened (once)."""
        first, self._first_rows = self._first_rows, None
        return first

    def _opened(self, ctx: AppContext, login: bool) -> None:
        self._ctx = ctx
        self.login_required = login
        import gc

        gc.freeze()  # what opening the database loaded lives as long as the process too
        waiting = self._gate.take_waiting()
        if login:
            ctx.actor = NOBODY
            self.switch_mode("login")
            if self.early:  # someone set a password meanwhile: nothing of the panel stays behind the login
                self.remove_mode("companies")
                self.add_mode("companies", _companies)
            return
        self.switch_mode("companies")
        self.greet_demo()
        for action in waiting:  # keys pressed on the Companies screen while the database opened
            action()

    def _open_failed(self, exc: BaseException) -> None:
        self.open_error = exc
        self.exit(return_code=1)

    def greet_demo(self) -> None:
        """``ksef-tui demo``: say where its folder is (Help says the rest)."""
        folder = self.ctx.options.get("demo_folder")
        if self.ctx.options.get("demo") and folder:
            self.notify(_("Demo folder: {folder} (removed when you quit). ? Help lists what is in it and the "
                          "demo users.").format(folder=folder), title=_("Demo"), timeout=15, markup=False)

    def apply_keymap(self) -> None:
        """The user's keymap (ui/keymap.py), applied over the bindings' own keys."""
        from ksef_tui.ui.keymap import keymap_path, load_keymap

        keymap, problems = load_keymap(keymap_path())
        if keymap:
            self.set_keymap(keymap)
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)

    @property
    def accounts(self):
        if self._accounts is None:
            from ksef_tui.services.accounts import AccountService

            self._accounts = AccountService(self.ctx.db, clock=self.ctx.clock)
        return self._accounts

    @property
    def is_panel(self) -> bool:
        """True when the administrator's panel is shown (not the login, not a client, not opening); also
        the Companies screen shown before the database is open (its actions wait for it: :meth:`when_open`)."""
        if not self.is_open:  # not once the opening found that someone must log in, or failed
            return self.early and self.current_mode == "companies" and not self._gate.refused
        return self.ctx.actor.is_admin and self.current_mode not in ("login", "client", "opening")

    def logged_in(self, actor: Actor) -> None:
        """The login screen succeeded: the panel for an administrator, the client view otherwise."""
        self.ctx.actor = actor
        if actor.is_admin:
            self.switch_mode("companies")
            self.greet_demo()
        else:
            from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen

            user_id = actor.id
            assert user_id is not None
            self.add_mode("client", lambda: ClientKsefScreen(self.ctx, user_id))
            self.switch_mode("client")
        self.sub_title = actor.login

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        # Textual restyles a widget and its subtree on every class change, even before the widget
        # is in the DOM, although mounting styles it anyway: Input(compact=True), Select, Button
        # and our forms' state classes each cost a pass over the whole stylesheet for nothing
        # (the user's KSeF form: ~90 widgets, 365 → see benchmarks/bench_user_ksef). Not yet in
        # the DOM: nothing to update.
        if node is not self and not node.is_attached:
            return
        super().update_styles(node, animate)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANEL_ACTIONS and not self.is_panel:
            return False
        return super().check_action(action, parameters)

    def action_goto(self, mode: str) -> None:
        """Switch section; not while a dialog is open (it belongs to the current one)."""
        if isinstance(self.screen, ModalScreen) or not self.is_panel:
            return
        if not self.is_open:  # the other sections read the database as they are built
            return self.when_open(lambda: self.action_goto(mode))
        self.switch_mode(mode)

    def action_audit_log(self) -> None:
        """The audit log (administrators): pushed over the current section."""
        if isinstance(self.screen, ModalScreen) or not self.is_panel:
            return
        if not self.is_open:
            return self.when_open(self.action_audit_log)
        from ksef_tui.ui.audit.audit_log import AuditLogScreen

        if not isinstance(self.screen, AuditLogScreen):
            self.push_screen(AuditLogScreen())

    def action_command_palette(self) -> None:
        """Textual's palette, its search field in the user's language."""
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]  # App[None]
            self.push_screen(CommandPalette(id="--command-palette", placeholder=_("Search for commands…")))

    def action_help_quit(self) -> None:
        """Ctrl+C does not quit (it copies in a text field): say which key does, in the user's language."""
        for active in self.active_bindings.values():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(_("Press {key} to quit the panel.").format(key=self.get_key_display(active.binding)),
                            title=_("Do you want to quit?"), markup=False)
                return

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands in the palette, in the user's language (the widget help panel and the
        screenshot left out: Help (?) lists the keys; a screenshot is not for office users)."""
        yield SystemCommand(_("Theme"), _("Change the colours of the panel"), self.action_change_theme)
        yield SystemCommand(_("Quit"), _("Quit the panel"), self.action_quit)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def companies_screen(self) -> CompaniesScreen:
        from ksef_tui.ui.companies.companies import CompaniesScreen

        screen = self.get_screen("companies")
        assert isinstance(screen, CompaniesScreen)
        return screen

    def serial_ksef(self, enabled: bool) -> None:
        """Command palette: enable/disable KSeF for the selected companies."""
        if not self.is_panel:
            return
        self.action_goto("companies")
        self.companies_screen().run_serial_operation(enabled)

    def serial_users_ksef(self, allowed: bool) -> None:
        """Command palette: allow/block KSeF self-service for the selected users."""
        if not self.is_panel:
            return
        self.action_goto("users")
        screen = self.get_screen("users")
        screen.run_serial_operation(allowed)  # type: ignore[attr-defined]

    def companies_action(self, action: str) -> None:
        if not self.is_panel:
            return
        self.action_goto("companies")
        screen = self.companies_screen()
        getattr(screen, f"action_{action}")()

