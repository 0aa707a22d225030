"""The KSeF token of one user × company × environment: paste, check, save; or get one.

The token field is a password field: a pasted token (bracketed paste, one event) has its
spaces and line breaks stripped and is checked at once; after saving only the last four
characters are shown. "Get access token…" opens the Profil Zaufany wizard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.clock import Clock
from ksef_tui.domain.nip import format_nip
from ksef_tui.domain.token import clean_token
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services.ksef.views import CredentialView
from ksef_tui.ui.common.dialogs import ConfirmDialog
from ksef_tui.ui.ksef.status import KSEF_WORKERS, CredentialChanged, FormEdited, ksef_status_label, local_time

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext


class TokenInput(Input):
    """A masked token field; a paste replaces the selection with the token, whitespace removed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(password=True, compact=True, placeholder=_("paste the KSeF token"), id=id)

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        text = clean_token(event.text)
        if not text:
            return
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)


def saved_token_text(view: CredentialView) -> Content:
    if not view.has_token:
        return Content.styled(_("No KSeF token saved for {env}.").format(env=view.environment.value), "$text-muted")
    parts: list[Content | str | tuple[str, str]] = [_("Saved token") + ": ", (view.token_masked, "bold")]
    if view.token_status:
        parts += [" · ", (ksef_status_label(view.token_status),
                          "$success" if view.token_status == "Active" else "$warning")]
    if view.token_permissions:
        parts += [" · ", ", ".join(view.token_permissions)]
    if view.token_reference:
        parts += ["\n", (_("reference") + " " + view.token_reference, "$text-muted")]
    if view.method is not AuthMethod.TOKEN:
        parts += ["\n", (_("(not used: the login method is Certificate)"), "$text-muted")]
    return Content.assemble(*parts)


class KsefTokenForm(Vertical):
    """Token login for ``view`` (one user × company × environment)."""

    DEFAULT_CSS = """
    KsefTokenForm {
        height: auto;
        #token-saved { height: auto; }
        & > .ksef-row { height: 1; margin: 1 0 0 0; }
        & > .ksef-row > .ksef-label { width: 10; color: $text-muted; }
        #token-input { width: 1fr; }
        #token-save { margin: 0 0 0 1; min-width: 8; }
        #token-check { height: auto; padding: 0 0 0 10; color: $text-muted; }
        #token-check.-error { color: $text-error; }
        #token-check.-ok { color: $text-success; }
        #token-actions { height: 1; margin: 1 0 0 0; }
    }
    """

    def __init__(self, ctx: AppContext, view: CredentialView, *, clock: Clock | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.ctx = ctx
        self.view = view
        self.clock: Clock = clock or ctx.clock

    def compose(self) -> ComposeResult:
        yield Static(saved_token_text(self.view), id="token-saved")
        with Horizontal(classes="ksef-row"):
            yield Label(_("Token"), classes="ksef-label")
            yield TokenInput(id="token-input")
            yield Button(_("Save"), id="token-save", variant="primary", compact=True)
        yield Static("", id="token-check")
        with Horizontal(id="token-actions"):
            yield Button(_("Get access token (Profil Zaufany)…"), id="token-wizard", compact=True)

    # ----------------------------------------------------------------- state

    def set_view(self, view: CredentialView) -> None:
        self.view = view
        self.query_one("#token-saved", Static).update(saved_token_text(view))

    def _check(self, message: str, kind: str) -> None:
        check = self.query_one("#token-check", Static)
        check.update(Content(message))
        check.set_class(kind == "error", "-error")
        check.set_class(kind == "ok", "-ok")
        self.check_message = message

    check_message = ""

    # ------------------------------------------------------------ the token

    @on(Input.Changed, "#token-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(FormEdited())  # the panel's last test result is for the earlier input
        text = event.value
        if not text.strip():
            self._check("", "")
            return
        try:
            token = self.ctx.credentials.check_token(text, self.view.nip)
        except ValidationFailed as exc:
            self._check(exc.errors.get("token", str(exc)), "error")
            return
        reference = token.split("|", 1)[0]
        self._check(_("Looks right: reference {ref}, NIP {nip}, ends with …{last4}. Enter saves it.").format(
            ref=reference, nip=format_nip(self.view.nip), last4=token[-4:]), "ok")

    @on(Input.Submitted, "#token-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    @on(Button.Pressed, "#token-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.save()

    def save(self) -> None:
        """Save the pasted token. A working credential is never replaced silently: the service
        authorizes the new token first and keeps the old one if KSeF refuses it; then we ask."""
        field = self.query_one("#token-input", TokenInput)
        if self.running is not None and self.running.is_running:
            return
        try:
            self.ctx.credentials.check_token(field.value, self.view.nip)
        except ValidationFailed as exc:
            self._check(exc.errors.get("token") or str(exc), "error")
            field.focus()
            return
        if self.view.last_auth_ok:
            self._check(_("Checking the new token in KSeF {env} before it replaces the one that works… "
                          "Esc cancels.").format(env=self.view.environment.value), "")
        self.running = self._save(field.value, self.view.version)  # 0: nothing saved yet, as seen

    running: Worker | None = None

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_save")
    async def _save(self, token: str, expected_version: int | None) -> None:
        v = self.view
        field = self.query_one("#token-input", TokenInput)
        try:
            done = await self.ctx.credentials.replace_token(
                self.ctx.actor, v.user_id, v.company_id, v.environment, token, expected_version=expected_version)
        except ValidationFailed as exc:
            self._check(exc.errors.get("token") or str(exc), "error")
            field.focus()
            return
        except ServiceError as exc:
            self._check(str(exc), "error")
            return
        if done.saved is not None:
            self._saved(done.saved, tested=done.trial is not None)
            return
        trial, kept = done.trial, done.kept or v
        assert trial is not None
        self._check(_("KSeF refused the new token; the saved one ({masked}) still works and was kept.").format(
            masked=kept.token_masked or "—") + " " + trial.message, "error")
        self.app.push_screen(ConfirmDialog(
            _("KSeF refused the new token: {reason}{hint}\n\n"
              "The KSeF setting saved for {env} last authorized successfully{when}; it is kept unless you "
              "save the new token anyway.").format(
                reason=trial.message, hint=(" " + trial.hint) if trial.hint else "", env=v.environment.value,
                when=(" " + _("on {when}").format(when=local_time(kept.last_auth_at))) if kept.last_auth_at else ""),
            yes=_("Save the failing token anyway"), no=_("Keep the working one"), title=_("The new token does not work"),
            default_no=True),
            lambda anyway: self._answered(bool(anyway), token, kept.version))

    def cancelled(self) -> None:
        self._check(_("Cancelled: nothing was saved; the previous setting still works."), "")

    def _answered(self, anyway: bool, token: str, version: int) -> None:
        field = self.query_one("#token-input", TokenInput)
        if not anyway:
            with self.prevent(Input.Changed):  # the message below stays
                field.value = ""
            self._check(_("Kept the KSeF setting that works; the new token was not saved."), "ok")
            return
        try:
            view = self.ctx.credentials.save_token(self.ctx.actor, self.view.user_id, self.view.company_id,
                                                   self.view.environment, token, expected_version=version)
        except ServiceError as exc:
            self._check(str(exc), "error")
            return
        self._saved(view, tested=False, failing=True)

    def _saved(self, view: CredentialView, *, tested: bool, failing: bool = False) -> None:
        with self.prevent(Input.Changed):  # the message below stays
            self.query_one("#token-input", TokenInput).value = ""
        self.set_view(view)
        if failing:
            text = _("The failing token was saved for {env}, as you asked; the previous setting is gone.")
        elif tested:
            text = _("Token authorized in KSeF and saved for {env}; only its last 4 characters are shown.")
        else:
            text = _("Token saved for {env}; only its last 4 characters are shown.")
        self._check(text.format(env=view.environment.value), "error" if failing else "ok")
        self.post_message(CredentialChanged(view))

    # -------------------------------------------------------------- wizard

    @on(Button.Pressed, "#token-wizard")
    def _wizard_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.open_wizard()

    def open_wizard(self) -> None:
        from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard

        def done(view: CredentialView | None) -> None:
            if view is not None:
                if view.method is AuthMethod.TOKEN:
                    self.set_view(view)
                    self._check(_("New KSeF token saved for {env}.").format(env=view.environment.value), "ok")
                self.post_message(CredentialChanged(view))

        self.app.push_screen(ProfilZaufanyWizard(self.ctx, self.view, clock=self.clock), done)
