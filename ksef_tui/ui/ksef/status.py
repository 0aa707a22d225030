"""Small pieces shared by the KSeF forms: clock, status texts, step list, problem box, messages.

Everything here is reusable by the administrator's "Users → the user → KSeF" screen and by
the client's own KSeF view. Widgets never hold a secret: only masked texts reach them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _, pick
from ksef_tui.services.ksef.views import CredentialState, CredentialView

#: Every KSeF worker of these widgets runs in this group (Esc cancels it).
KSEF_WORKERS = "ksef"


def local_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def local_date(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone().strftime("%Y-%m-%d")


def env_short(env: Environment) -> str:
    return {Environment.PRODUCTION: "PROD"}.get(env, env.value)


def env_name(env: Environment) -> str:
    """The environment as the seed's manual names it in Polish ("Środowisko demo", "Środowisko
    produkcyjne"); KSeF's own name in English."""
    return pick(env.value, {Environment.TEST: "Środowisko testowe", Environment.DEMO: "Środowisko demo",
                            Environment.PRODUCTION: "Środowisko produkcyjne"}[env])


def method_label(view: CredentialView) -> str:
    if view.method is None:
        return "—"
    return _("Token") if view.method.value == "token" else _("Cert.")


def ksef_status_label(status: str) -> str:
    """A KSeF token or certificate status (``Active``, ``Revoked``, …) in the user's language;
    an unknown value is shown as KSeF wrote it."""
    polish = {"Pending": "oczekuje", "Active": "aktywny", "Revoking": "w trakcie unieważniania",
              "Revoked": "unieważniony", "Failed": "nieudany", "Blocked": "zablokowany", "Expired": "wygasł"}
    return pick(status, polish[status]) if status in polish else status


STATE_STYLE = {
    "ksef-off": "$text-muted",
    "not-configured": "$text-muted",
    "token": "",
    "certificate": "",
    "authorized": "$success",
    "failing": "$error",
    "expiring": "$warning",
    "expired": "$error",
}


def state_content(state: CredentialState) -> Content:
    return Content.styled(state.text, STATE_STYLE.get(state.kind, ""))


class CredentialChanged(Message):
    """A credential was saved, switched or authorized; ``view`` is its new state (no secrets)."""

    def __init__(self, view: CredentialView) -> None:
        super().__init__()
        self.view = view


class FormEdited(Message):
    """The user changed a field of a KSeF form: results shown for the earlier input are stale now."""


# ----------------------------------------------------------------- step labels


def step_label(name: str) -> str:
    return {
        "challenge": _("Challenge received from KSeF"),
        "encrypted": _("Token encrypted with the Ministry's key"),
        "signed": _("Request signed"),
        "checked": _("Signed file checked"),
        "sent": _("Sent to KSeF"),
        "status": _("Authorization status checked in KSeF"),
        "redeemed": _("Access token redeemed"),
        "token": _("KSeF token generated"),
        "active": _("KSeF token active"),
        "enrolled": _("KSeF certificate issued"),
        "saved": _("Saved"),
    }.get(name, name)


TOKEN_TEST_STEPS = ("challenge", "encrypted", "sent", "status", "redeemed")
CERT_STEPS = ("challenge", "signed", "sent", "status", "redeemed")
PZ_TOKEN_STEPS = ("signed", "sent", "status", "redeemed", "token", "active", "saved")
PZ_CERT_STEPS = ("signed", "sent", "status", "redeemed", "enrolled",
                 "challenge", "signed", "sent", "status", "redeemed", "saved")
#: only an Offline certificate: it is stored, never tested by logging in (it cannot log in)
PZ_OFFLINE_STEPS = ("signed", "sent", "status", "redeemed", "enrolled", "saved")


class KsefSteps(Static):
    """The steps of a KSeF operation: done ✓, current ▸, waiting ·, failed ✗.

    ``advance(name)`` is the service's progress callback: it marks the next step called
    ``name`` (and any skipped before it) as done; a repeated name (status polling) is ignored.
    """

    DEFAULT_CSS = """
    KsefSteps {
        height: auto;
        padding: 0 0 0 1;
        display: none;
        &.-visible { display: block; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.steps: list[str] = []
        self.labels: list[str] = []
        self.done = 0
        self.outcome = ""  # "" running | "ok" | "failed" | "cancelled"
        self.plain = ""

    def start(self, steps: Sequence[str], labels: Sequence[str] | None = None) -> None:
        self.steps = list(steps)
        self.labels = list(labels) if labels else [step_label(s) for s in self.steps]
        self.done = 0
        self.outcome = ""
        self.add_class("-visible")
        self._render_steps()

    def advance(self, name: str) -> None:
        if self.done and self.steps[self.done - 1] == name:
            return
        for i in range(self.done, len(self.steps)):
            if self.steps[i] == name:
                self.done = i + 1
                self._render_steps()
                return

    def finish(self, outcome: str) -> None:
        if outcome == "ok":
            self.done = len(self.steps)
        self.outcome = outcome
        self._render_steps()

    def hide(self) -> None:
        self.remove_class("-visible")

    def _render_steps(self) -> None:
        parts: list[Content] = []
        for i, label in enumerate(self.labels):
            if i < self.done:
                line = Content.assemble(("✓ ", "$success"), label)
            elif i == self.done and self.outcome == "failed":
                line = Content.assemble(("✗ ", "$error bold"), (label, "$error"))
            elif i == self.done and self.outcome == "cancelled":
                line = Content.assemble(("■ ", "$warning"), (label, "$text-muted"))
            elif i == self.done and not self.outcome:
                line = Content.assemble(("▸ ", "$accent bold"), (label + "…", "bold"))
            else:
                line = Content.styled("· " + label, "$text-muted")
            parts.append(line)
        content = Content("\n").join(parts)
        self.plain = content.plain
        self.update(content)


class KsefProblem(Static):
    """A result line: an error with its plain-language hint, a success, or a note."""

    DEFAULT_CSS = """
    KsefProblem {
        height: auto;
        display: none;
        padding: 0 1;
        &.-error { display: block; border-left: outer $error; color: $text; background: $error 10%; }
        &.-ok { display: block; border-left: outer $success; background: $success 10%; }
        &.-note { display: block; border-left: outer $warning; background: $warning 10%; }
    }
    """

    def show_error(self, message: str, hint: str = "") -> None:
        parts = [Content.styled(message, "$text-error bold")]
        if hint:
            parts.append(Content.styled(hint, ""))
        self._show("-error", Content("\n").join(parts))

    def show_ok(self, message: str) -> None:
        self._show("-ok", Content.styled(message, "$text-success"))

    def show_note(self, message: str) -> None:
        self._show("-note", Content.styled(message, ""))

    plain = ""

    def clear(self) -> None:
        self._show("", Content(""))

    def _show(self, cls: str, content: Content) -> None:
        for other in ("-error", "-ok", "-note"):
            self.set_class(other == cls, other)
        self.plain = content.plain
        self.update(content)
        if cls:  # a result below the fold at 80x24 is no result: the form scrolls to it
            self.call_after_refresh(self._into_view)

    def _into_view(self) -> None:
        if self.is_attached and self.kind:
            self.scroll_visible(animate=False)

    @property
    def kind(self) -> str:
        for cls in ("-error", "-ok", "-note"):
            if self.has_class(cls):
                return cls[1:]
        return ""
