"""Who is logging in: login and password, or a one-time code and a new password (first login).

Checking a password takes a moment (scrypt, and a growing pause after wrong ones), so it
runs in a thread worker; the result comes back as :class:`LoginScreen.Done`.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Static

from ksef_tui.i18n import _
from ksef_tui.services.actor import Actor
from ksef_tui.ui.widgets.footer import PanelFooter


class LoginScreen(Screen[None]):
    """Asks who is logging in; tells the app (``KsefApp.logged_in``) on success."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", _("Quit"), id="login.quit"),
    ]

    DEFAULT_CSS = """
    LoginScreen {
        align: center middle;
        #login-box { width: 60; max-width: 100%; height: auto; border: round $primary; padding: 0 2;
                     background: $surface; }
        .login-row { height: 1; margin: 1 0 0 0; }
        .login-label { width: 16; color: $text-muted; }
        .login-row Input { width: 1fr; }
        #login-code-toggle { margin: 1 0 0 0; }
        .code-only { display: none; }
        &.-code .code-only { display: block; }
        &.-code #login-password-row { display: none; }
        #login-message { height: auto; min-height: 1; margin: 1 0 0 0; color: $text-error; }
        #login-message.-info { color: $text-muted; }
        #login-buttons { height: 1; margin: 1 0 1 0; align-horizontal: right; }
        &.-demo #login-box { width: 78; }
        #login-demo-hint { height: auto; margin: 0 0 1 0; padding: 0 1; color: $text-muted;
                           border-left: thick $accent; }
    }
    """

    class Done(Message):
        def __init__(self, actor: Actor | None, error: str | None = None) -> None:
            super().__init__()
            self.actor = actor
            self.error = error

    def __init__(self) -> None:
        super().__init__(classes="login")
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box") as box:
            box.border_title = _("ksef-tui: log in")
            with Horizontal(classes="login-row"):
                yield Label(_("Login"), classes="login-label")
                yield Input(id="login-name", compact=True, placeholder=_("your login"))
            with Horizontal(classes="login-row", id="login-password-row"):
                yield Label(_("Password"), classes="login-label")
                yield Input(id="login-password", compact=True, password=True)
            yield Checkbox(_("First login: I have a one-time code"), id="login-code-toggle", compact=True)
            with Horizontal(classes="login-row code-only"):
                yield Label(_("One-time code"), classes="login-label")
                yield Input(id="login-code", compact=True, placeholder="XXXX-XXXX")
            with Horizontal(classes="login-row code-only"):
                yield Label(_("New password"), classes="login-label")
                yield Input(id="login-new", compact=True, password=True, placeholder=_("at least 8 characters"))
            with Horizontal(classes="login-row code-only"):
                yield Label(_("Repeat it"), classes="login-label")
                yield Input(id="login-repeat", compact=True, password=True)
            yield Static("", id="login-message", markup=False)
            with Horizontal(id="login-buttons"):
                yield Button(_("Log in"), id="login-submit", variant="primary", compact=True)
            hint = self.demo_hint()
            if hint:
                self.add_class("-demo")
                yield Static(hint, id="login-demo-hint", markup=False)
        yield PanelFooter()

    def demo_hint(self) -> str:
        """Only ``ksef-tui demo --login`` puts accounts with published passwords in the context
        (``ksef_tui.demo.environment.add_demo_logins``), the demo users and its folder; the real app
        never does, so it shows no hint."""
        from ksef_tui.ui.common.demo_guide import folder_lines, login_lines, users_in_short

        ctx = getattr(self.app, "ctx", None)
        if ctx is None:
            return ""
        lines = login_lines(ctx.options)
        if not lines:
            return ""
        short = users_in_short(ctx.options)
        return "\n".join(lines + ([short] if short else []) + folder_lines(ctx.options)[:1])

    def on_mount(self) -> None:
        self.query_one("#login-name", Input).focus()

    @property
    def code_mode(self) -> bool:
        return self.query_one("#login-code-toggle", Checkbox).value

    @on(Checkbox.Changed, "#login-code-toggle")
    def _toggle(self, event: Checkbox.Changed) -> None:
        self.set_class(event.value, "-code")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = ["login-name", "login-code", "login-new", "login-repeat"] if self.code_mode else \
            ["login-name", "login-password"]
        current = event.input.id or ""
        if current in order and current != order[-1] and not self._value(order[order.index(current) + 1]):
            self.query_one(f"#{order[order.index(current) + 1]}", Input).focus()
            return
        self.submit()

    @on(Button.Pressed, "#login-submit")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.submit()

    def _value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value

    def say(self, text: str, *, info: bool = False) -> None:
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(info, "-info")

    def submit(self) -> None:
        if self.busy:
            return
        from ksef_tui.domain.secret import Secret

        login = self._value("login-name").strip()
        if not login:
            self.say(_("Give your login."))
            self.query_one("#login-name", Input).focus()
            return
        if self.code_mode:
            if self._value("login-new") != self._value("login-repeat"):
                self.say(_("The two new passwords differ."))
                return
            args: tuple[str, *tuple[Secret[str], ...]] = (login, Secret(self._value("login-code")),
                                                          Secret(self._value("login-new")))
        else:
            args = (login, Secret(self._value("login-password")))
        for id in ("login-password", "login-code", "login-new", "login-repeat"):
            self.query_one(f"#{id}", Input).value = ""
        self.busy = True
        self.say(_("Checking…"), info=True)
        self._check(*args)

    @work(thread=True, exclusive=True, group="login", exit_on_error=False, description="_check")
    def _check(self, login: str, *secrets) -> None:
        import os

        from ksef_tui.errors import ServiceError
        from ksef_tui.services.accounts import terminal_source

        accounts = self.app.accounts  # type: ignore[attr-defined]
        options = self.app.ctx.options  # type: ignore[attr-defined]
        # where the attempt comes from (throttling counts per source; the audit records it):
        # the browser portal says so (``web:ADDRESS``), else this terminal's SSH peer or local
        where = {"source": options.get("login_source") or terminal_source(dict(os.environ)),
                 "admins": options.get("admins_allowed", True)}
        try:
            if len(secrets) == 2:
                actor = accounts.login_with_code(login, *secrets, **where)
            else:
                actor = accounts.login(login, *secrets, **where)
        except ServiceError as exc:  # wrong password, throttled, the database busy or damaged: a sentence
            self.post_message(self.Done(None, str(exc)))
        except Exception as exc:  # never left at "Checking…": a sentence and a log entry
            from ksef_tui.files import problem_text

            self.post_message(self.Done(None, problem_text(exc, "logging in failed")))
        else:
            self.post_message(self.Done(actor))

    def on_login_screen_done(self, message: Done) -> None:
        self.busy = False
        if message.actor is None:
            self.say(message.error or _("Wrong login or password."))
            target = "#login-code" if self.code_mode else "#login-password"
            self.query_one(target, Input).focus()
            return
        self.say("")
        self.app.logged_in(message.actor)  # type: ignore[attr-defined]
