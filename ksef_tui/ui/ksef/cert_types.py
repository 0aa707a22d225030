"""Which KSeF certificates to request: Authentication (logs in), Offline (signs QR code II of offline
invoices; never logs in), or both in one pass. Used before a bulk enrollment; the Profil Zaufany
wizard has the same two boxes inline (:func:`type_boxes`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Static

from ksef_tui.i18n import _
from ksef_tui.services.ksef.offline import AUTHENTICATION, OFFLINE
from ksef_tui.ui.common.base import DialogScreen


def type_boxes(prefix: str, *, authentication: bool = True, offline: bool = False) -> list[Checkbox]:
    return [Checkbox(_("Authentication (logs in)"), authentication, id=f"{prefix}-auth", compact=True),
            Checkbox(_("Offline (offline invoices, QR code II)"), offline, id=f"{prefix}-offline", compact=True)]


def chosen_types(auth: Checkbox, offline: Checkbox) -> tuple[str, ...]:
    return tuple(t for t, box in ((AUTHENTICATION, auth), (OFFLINE, offline)) if box.value)


def types_text(types: tuple[str, ...]) -> str:
    names = {AUTHENTICATION: _("Authentication"), OFFLINE: _("Offline")}
    return " + ".join(names[t] for t in types)


class CertificateTypesDialog(DialogScreen["tuple[str, ...] | None"]):
    """``CertificateTypesDialog(n)``: the types chosen for ``n`` rows, or ``None`` (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="dialog.cancel"),
    ]

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="cert-types") as box:
            box.border_title = _("Enroll KSeF certificates")
            yield Static(Text(_("Which KSeF certificates should {n} selected rows get? Both types are requested in "
                                "one pass, in the same KSeF session.").format(n=self.rows)), classes="dialog-text")
            yield from type_boxes("types")
            yield Static("", id="types-problem", classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Enroll"), variant="primary", id="yes")
                yield Button(_("Cancel"), id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id != "yes":
            self.dismiss(None)
            return
        types = chosen_types(self.query_one("#types-auth", Checkbox), self.query_one("#types-offline", Checkbox))
        if not types:
            self.query_one("#types-problem", Static).update(Text(_("Choose at least one type."), style="bold"))
            return
        self.dismiss(types)

    def action_cancel(self) -> None:
        self.dismiss(None)
