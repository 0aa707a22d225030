"""Granting from the panel: the grant dialog, the request to send the client, and running a grant or a
withdrawal in a thread worker (KSeF follows it to its final status; the result is shown, never half).

What the office may do itself: an indirect InvoiceRead/InvoiceWrite for one client or all clients from
the office's own context, or a person's permissions in a client's context where the office's credential
may manage them. What only the client can do is said with the words to send them (:class:`RequestDialog`:
copy or save to print)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from ksef_tui.domain.environments import Environment
from ksef_tui.domain.untrusted import visible
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services.ksef.permission_views import GrantOutcome
from ksef_tui.ui.common.base import DialogScreen
from ksef_tui.ui.common.dialogs import MessageDialog

INDIRECT_ONE, INDIRECT_ALL, PERSON = "indirect", "indirect-all", "person"
SCOPES = ("InvoiceRead", "InvoiceWrite")


@dataclass(frozen=True)
class GrantRequest:
    """What the grant dialog asks KSeF for (``how``: one of INDIRECT_ONE, INDIRECT_ALL, PERSON)."""

    user_id: int
    company_id: int
    environment: Environment
    identifier: str
    scopes: tuple[str, ...]
    how: str


class GrantDialog(DialogScreen[GrantRequest | None]):
    """``GrantDialog(user_id, company_id, env, person=…, company=…, identifier=…)``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="grant.cancel"),
    ]

    def __init__(self, user_id: int, company_id: int, env: Environment, *, person: str, company: str,
                 identifier: str | None = None, scopes: tuple[str, ...] = SCOPES, how: str = INDIRECT_ONE) -> None:
        super().__init__()
        self.user_id, self.company_id, self.env = user_id, company_id, env
        self.person, self.company = person, company
        self.identifier = identifier or ""
        self.scopes = scopes
        self.how = how

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="grant") as box:
            box.border_title = _("Grant KSeF permissions")
            yield Static(Text(visible(f"{self.person} · {self.company} · {self.env.value}")), classes="dialog-text",
                         id="grant-who")
            yield Label(_("KSeF identifier (PESEL, NIP or certificate fingerprint)"))
            yield Input(self.identifier, id="grant-identifier", compact=True)
            yield Static("", id="grant-error", classes="field-error")
            yield Label(_("Permissions"))
            for scope in SCOPES:
                label = _("viewing invoices (InvoiceRead)") if scope == "InvoiceRead" else _("issuing invoices (InvoiceWrite)")
                yield Checkbox(label, scope in self.scopes, id=f"grant-{scope}", compact=True)
            yield Label(_("Where"))
            with RadioSet(id="grant-how", compact=True):
                yield RadioButton(_("Indirect, for this client (from the office's account)"),
                                  self.how == INDIRECT_ONE, id=f"how-{INDIRECT_ONE}")
                yield RadioButton(_("Indirect, for all the office's clients"), self.how == INDIRECT_ALL,
                                  id=f"how-{INDIRECT_ALL}")
                yield RadioButton(_("Directly in the client's context (the office must manage permissions there)"),
                                  self.how == PERSON, id=f"how-{PERSON}")
            yield Static(_("An indirect grant works once the client has delegated the same permission to the office."),
                         classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Grant"), variant="primary", id="grant-ok", compact=True)
                yield Button(_("Cancel"), id="grant-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#grant-identifier", Input).focus()

    def request(self) -> GrantRequest:
        """The request as the form stands; :class:`ValidationFailed` saying what is wrong."""
        from ksef_tui.services.ksef.permissions import parse_identifier

        ident = parse_identifier(self.query_one("#grant-identifier", Input).value)
        scopes = tuple(s for s in SCOPES if self.query_one(f"#grant-{s}", Checkbox).value)
        if not scopes:
            raise ValidationFailed({"scopes": _("Choose the permissions to grant.")})
        pressed = self.query_one("#grant-how", RadioSet).pressed_button
        how = (pressed.id or "").removeprefix("how-") if pressed is not None else INDIRECT_ONE
        return GrantRequest(self.user_id, self.company_id, self.env, str(ident), scopes, how)

    @on(Button.Pressed, "#grant-ok")
    def _ok(self, event: Button.Pressed) -> None:
        event.stop()
        try:
            request = self.request()
        except ValidationFailed as exc:
            error = self.query_one("#grant-error", Static)
            error.update(Text("; ".join(exc.errors.values())))
            error.set_class(True, "-visible")
            return
        self.dismiss(request)

    @on(Input.Submitted, "#grant-identifier")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#grant-ok", Button).press()

    @on(Button.Pressed, "#grant-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(DialogScreen[str | None]):
    """Pick one of ``choices`` (``(key, label)``); Enter chooses, Esc cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="choice.cancel"),
    ]

    def __init__(self, question: str, choices: list[tuple[str, str]], *, title: str, current: str | None = None) -> None:
        super().__init__()
        self.question, self.choices, self.title_text, self.current = question, choices, title, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield Static(Text(visible(self.question)), classes="dialog-text")
            yield OptionList(*[Option(Text(visible(label)), id=key) for key, label in self.choices], id="choice-list")

    def on_mount(self) -> None:
        options = self.query_one("#choice-list", OptionList)
        keys = [k for k, _label in self.choices]
        options.highlighted = keys.index(self.current) if self.current in keys else 0
        options.focus()

    @on(OptionList.OptionSelected, "#choice-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RequestDialog(DialogScreen[None]):
    """The words to send the client (only the client can grant this): ``c`` copies, ``s`` saves a file."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="request.close"),
        Binding("c", "copy", _("Copy"), id="request.copy"),
        Binding("s", "save", _("Save to print"), id="request.save"),
    ]

    def __init__(self, text: str, company_id: int, env: Environment, *, why: str = "") -> None:
        super().__init__()
        self.text, self.company_id, self.env, self.why = text, company_id, env, why

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="request") as box:
            box.border_title = _("Request to send the client")
            if self.why:
                yield Static(Text(visible(self.why)), classes="dialog-text", id="request-why")
            with VerticalScroll(id="request-body"):
                yield Static(Text(visible(self.text, multiline=True)), id="request-text")
            yield Static(_("c: copy · s: save to a file to print or attach · Esc: close"), classes="dialog-hint")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify(_("The request is copied; paste it into an e-mail to the client."))

    def action_save(self) -> None:
        self._save()

    @work(thread=True, exclusive=True, group="request-save", description="_save")
    def _save(self) -> None:
        from ksef_tui.ui.common.file_picker import downloads_dir

        ctx = self.panel.ctx
        folder = Path(ctx.options.get("downloads_dir") or downloads_dir())
        try:
            path = ctx.permissions.save_request(ctx.actor, self.text, folder, self.company_id, self.env)
        except ServiceError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, _("Saved to {path}").format(path=path))

    def action_close(self) -> None:
        self.dismiss(None)


def run_grant(screen: Any, request: GrantRequest, done: Callable[[GrantOutcome | None], None]) -> None:
    """Carry out a grant in a thread worker of ``screen``; show KSeF's final answer; then ``done``."""
    title = _("Grant KSeF permissions")
    screen.notify(_("Granting in KSeF… the panel waits for KSeF's final status."))

    def work_() -> None:
        import asyncio

        ctx = screen.app.ctx
        try:
            if request.how == PERSON:
                outcome = asyncio.run(ctx.permissions.grant_person(
                    ctx.actor, request.environment, request.company_id, request.user_id, request.identifier,
                    list(request.scopes)))
            else:
                outcome = asyncio.run(ctx.permissions.grant_indirect(
                    ctx.actor, request.environment, request.user_id, request.identifier, list(request.scopes),
                    None if request.how == INDIRECT_ALL else request.company_id))
        except ServiceError as exc:
            hint = getattr(exc, "hint", "")
            screen.app.call_from_thread(_show, screen, title, f"{exc} {hint}".strip(), True, None, done)
            return
        message = outcome.message + (f" {outcome.hint}" if outcome.hint and not outcome.ok else "")
        screen.app.call_from_thread(_show, screen, title, message, not outcome.ok, outcome, done)

    screen.run_worker(work_, thread=True, exclusive=True, group="permission-grant")


def run_withdraw(screen: Any, company_id: int, env: Environment, permission_id: str,
                 done: Callable[[GrantOutcome | None], None]) -> None:
    """Withdraw a grant in a thread worker; show KSeF's final answer; then ``done``."""
    title = _("Withdraw a KSeF permission")

    def work_() -> None:
        import asyncio

        ctx = screen.app.ctx
        try:
            outcome = asyncio.run(ctx.permissions.withdraw(ctx.actor, env, company_id, permission_id))
        except ServiceError as exc:
            screen.app.call_from_thread(_show, screen, title, str(exc), True, None, done)
            return
        screen.app.call_from_thread(_show, screen, title, outcome.message, not outcome.ok, outcome, done)

    screen.run_worker(work_, thread=True, exclusive=True, group="permission-grant")


def _show(screen: Any, title: str, message: str, error: bool, outcome: GrantOutcome | None,
          done: Callable[[GrantOutcome | None], None]) -> None:
    screen.app.push_screen(MessageDialog(title, message, error=error), lambda _r: done(outcome))
