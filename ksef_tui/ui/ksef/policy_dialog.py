"""The office's token policy, shown and edited in the panel: until when KSeF tokens issued before 2027
work, where that date comes from, and the date of that source. Saved into the settings file;
``KSEF_TUI_TOKEN_LAST_DAY`` (when set) still wins, and the dialog says so. Nothing is revoked or
switched because of the date."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from ksef_tui.domain.clock import today
from ksef_tui.domain.token_policy import PolicyOrigin, TokenPolicy
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services.ksef.policy_settings import set_token_policy
from ksef_tui.services.ksef.token_policy import policy_line
from ksef_tui.ui.common.base import DialogScreen


class TokenPolicyDialog(DialogScreen["TokenPolicy | None"]):
    """Returns the policy now in force after saving, or ``None`` (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="dialog.cancel"),
    ]

    DEFAULT_CSS = """
    TokenPolicyDialog {
        #policy { width: 76; max-width: 100%; height: auto; }
        .policy-row { height: 1; margin: 0 0 1 0; }
        .policy-label { width: 16; color: $text-muted; }
        .policy-row > Input { width: 1fr; }
        #policy-problem { height: auto; color: $text-error; }
    }
    """

    def compose(self) -> ComposeResult:
        policy: TokenPolicy = self.panel.ctx.token_policy
        from_settings = policy.origin is PolicyOrigin.SETTINGS
        with Vertical(classes="dialog", id="policy") as box:
            box.border_title = _("Token policy")
            yield Static(Text(policy_line(policy, today(self.panel.ctx.clock))), classes="dialog-text", id="policy-now")
            yield Static(Text(_("Tokens with a validity of their own from KSeF keep it. Nothing is revoked or "
                                "switched on the date: the panel only warns.")), classes="dialog-hint")
            with Horizontal(classes="policy-row"):
                yield Label(_("Last day"), classes="policy-label")
                yield Input(policy.last_day.isoformat() if from_settings else "", placeholder="2027-11-30",
                            id="policy-last-day", compact=True)
            with Horizontal(classes="policy-row"):
                yield Label(_("Source"), classes="policy-label")
                yield Input(policy.source if from_settings else "", placeholder=_("e.g. the Ministry's announcement"),
                            id="policy-source", compact=True)
            with Horizontal(classes="policy-row"):
                yield Label(_("Source date"), classes="policy-label")
                yield Input(policy.source_date.isoformat() if from_settings and policy.source_date else "",
                            placeholder="YYYY-MM-DD", id="policy-source-date", compact=True)
            yield Static("", id="policy-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Announced default"), id="default")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#policy-last-day", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(None)
        elif event.button.id == "default":
            self.save("", "", "")
        else:
            self.save(self.query_one("#policy-last-day", Input).value,
                      self.query_one("#policy-source", Input).value,
                      self.query_one("#policy-source-date", Input).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save(self.query_one("#policy-last-day", Input).value, self.query_one("#policy-source", Input).value,
                  self.query_one("#policy-source-date", Input).value)

    def save(self, last_day: str, source: str, source_date: str) -> None:
        ctx = self.panel.ctx
        problem = self.query_one("#policy-problem", Static)
        try:
            change = set_token_policy(ctx.db, ctx.actor, last_day, source, source_date, today=today(ctx.clock))
        except ValidationFailed as exc:
            problem.update(Text("; ".join(exc.errors.values())))
            return
        except ServiceError as exc:
            problem.update(Text(str(exc)))
            return
        ctx.token_policy = change.policy
        if change.overridden_by_environment:
            self.notify(_("Saved in {file}; KSEF_TUI_TOKEN_LAST_DAY is set and wins over it.").format(
                file=change.settings_file), severity="warning")
        else:
            self.notify(_("Token policy saved: {line}").format(line=policy_line(change.policy, today(ctx.clock))))
        self.dismiss(change.policy)

    def action_cancel(self) -> None:
        self.dismiss(None)
