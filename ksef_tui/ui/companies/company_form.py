"""The rows of a company's "Additional data" form, made with the company's values, and the container
that mounts them a group per frame after its screen has drawn its own (see :class:`CompanyForm`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static, Switch

from ksef_tui.i18n import _
from ksef_tui.services.companies import CompanyDetail
from ksef_tui.ui.common.frames import PartPerFrame

TEXT_FIELDS: tuple[str, ...] = ("name", "nip", "regon", "address", "notes")


def field_label(field: str) -> str:
    return {
        "name": _("Name"),
        "nip": _("NIP"),
        "regon": _("REGON"),
        "address": _("Address"),
        "notes": _("Notes"),
        "ksef_enabled": _("KSeF"),
    }[field]


def field_text(value: str | None) -> str:
    return value or ""


class CompanyForm(VerticalScroll):
    """The fields of "Additional data". The screen draws its own frame first (navigation, tabs,
    footer) and reads the company in a thread meanwhile; the rows are then made with the company's
    values in them and mounted a group per frame (:meth:`build`, :class:`PartPerFrame`).
    Made empty, laid out and drawn in the screen's first turn of the event loop and filled in
    after, the form held the loop 55-65 ms in one turn (filling 5 inputs restyles each as it
    validates); a group per frame keeps each turn short."""

    def build(self, groups: list[list[Widget]], then: Callable[[], None]) -> None:
        parts = PartPerFrame(self)
        parts.add(*(partial(self.mount_all, group) for group in groups))
        parts.when_done(then)


def _field_rows(field: str, value: str) -> Vertical:
    """One text field: its label and input, and its error under them (shown once the field was left)."""
    return Vertical(
        Horizontal(Label(field_label(field), classes="field-label"),
                   Input(value, id=f"in-{field}", compact=True), classes="field-row"),
        Static("", classes="field-error", id=f"err-{field}"),
        classes="field", id=f"field-{field}")


def form_groups(detail: CompanyDetail | None) -> list[list[Widget]]:
    """The form's rows with the company's values (empty without one), in the groups mounted one per
    frame: the KSeF switch and the name, NIP and REGON, then the rest with Save."""
    enabled = detail is not None and detail.ksef_enabled
    ksef = Horizontal(Label(field_label("ksef_enabled"), classes="field-label"),
                      Switch(enabled, id="in-ksef_enabled"), Label(ksef_state(enabled), id="ksef-state"),
                      classes="field-row", id="row-ksef_enabled")
    actions = Horizontal(Button(_("Save"), id="save", variant="primary", compact=True), Static("", id="form-message"),
                         id="form-actions")
    rows: list[Widget] = [ksef, *(_field_rows(f, field_text(getattr(detail, f, None))) for f in TEXT_FIELDS), actions]
    return [rows[:2], rows[2:4], rows[4:]]


def ksef_state(enabled: bool) -> str:
    return _("KSeF is enabled for this company") if enabled else _("KSeF is disabled for this company")
