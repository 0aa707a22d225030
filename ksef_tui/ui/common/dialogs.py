"""Small modal dialogs: confirm, message, serial-operation menu, progress, result."""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ksef_tui.i18n import _, ngettext
from ksef_tui.services.results import SerialResult
from ksef_tui.ui.common.base import DialogScreen


class ConfirmDialog(DialogScreen[bool]):
    """A yes/no question; ``True`` only when the user confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", _("Cancel"), id="dialog.cancel"),
        Binding("y", "answer(True)", _("Yes"), show=False, id="dialog.yes"),
        Binding("n", "answer(False)", _("No"), show=False, id="dialog.no"),
    ]

    def __init__(self, question: str, *, yes: str | None = None, no: str | None = None,
                 title: str | None = None, default_no: bool = False) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes or _("Yes")
        self.no_label = no or _("Cancel")
        self.title_text = title or _("Confirm")
        #: what cannot be undone: Enter keeps things as they are (the "no" button has the focus)
        self.default_no = default_no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield Static(Text(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant="warning" if self.default_no else "primary", id="yes")
                yield Button(self.no_label, variant="primary" if self.default_no else "default", id="no")

    def on_mount(self) -> None:
        if self.default_no:
            self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class PlanDialog(DialogScreen[str | None]):
    """Confirm an operation on chosen rows, saying what will happen to them and what is skipped and why.

    Returns ``"all"``, ``"shown"`` (only the rows the list shows: offered when some chosen rows are
    hidden by the filter) or ``None``. ``default_no``: Enter cancels (what cannot be undone)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(None)", _("Cancel"), id="plan.cancel"),
        Binding("y", "answer('all')", _("Yes"), show=False, id="plan.yes"),
        Binding("n", "answer(None)", _("No"), show=False, id="plan.no"),
    ]

    def __init__(self, title: str, question: str, lines: list[str], *, yes: str, shown: str | None = None,
                 default_no: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.lines = lines
        self.yes_label = yes
        self.shown_label = shown
        self.default_no = default_no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="plan") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield Static(Text(self.question, style="bold"), classes="dialog-text", id="plan-question")
            if self.lines:
                yield Static(Text("\n".join(f"• {line}" for line in self.lines)), classes="dialog-text",
                             id="plan-lines")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant="warning" if self.default_no else "primary", id="all")
                if self.shown_label:
                    yield Button(self.shown_label, id="shown")
                yield Button(_("Cancel"), variant="primary" if self.default_no else "default", id="cancel")

    def on_mount(self) -> None:
        if self.default_no:
            self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)


def hidden_line(hidden: int, names: tuple[str, ...]) -> str:
    """"2 of them are hidden by the filter: A, B" (and how many more than those named)."""
    text = ngettext("{n} of them is hidden by the filter: {names}", "{n} of them are hidden by the filter: {names}",
                    hidden).format(n=hidden, names=", ".join(names))
    if hidden > len(names):
        text += " " + ngettext("and {n} more", "and {n} more", hidden - len(names)).format(n=hidden - len(names))
    return text


class MessageDialog(DialogScreen[None]):
    """A message to acknowledge; ``error=True`` shows it as an error."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="dialog.close"),
    ]

    def __init__(self, title: str, message: str, *, error: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="message") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            box.set_class(self.error, "-error")
            yield Static(Text(self.message), classes="dialog-text", id="message-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("OK"), variant="error" if self.error else "primary", id="ok")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class SerialMenu(DialogScreen[bool | None]):
    """"Serial operations" on the selected rows: ``True`` the first option, ``False`` the second.

    The texts default to the companies' "Enable KSeF" / "Disable KSeF"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Cancel"), id="dialog.cancel"),
    ]

    def __init__(self, selected: int, *, count_text: str | None = None, yes: str | None = None,
                 no: str | None = None) -> None:
        super().__init__()
        self.selected = selected
        self.count_text = count_text or _("Selected companies: {n}")
        self.yes = yes or _("Enable KSeF")
        self.no = no or _("Disable KSeF")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="serial-menu") as box:
            box.border_title = _("Serial operations")
            yield Label(self.count_text.format(n=self.selected), classes="dialog-text")
            yield OptionList(
                Option(self.yes, id="enable"),
                Option(self.no, id="disable"),
                id="serial-options",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "enable")

    def action_close(self) -> None:
        self.dismiss(None)


class ProgressDialog(DialogScreen[None]):
    """Progress of a long operation; Esc asks the worker to stop (``cancel`` is set).

    The caller dismisses it when the operation ends.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="progress.cancel"),
    ]

    def __init__(self, title: str, total: int, cancel: threading.Event) -> None:
        super().__init__()
        self.title_text = title
        self.total = total
        self.cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="progress") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield ProgressBar(total=self.total, show_eta=False, id="progress-bar")
            yield Label(_("Esc: cancel (nothing will be changed)"), id="progress-hint",
                        classes="dialog-hint")

    def advance(self, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=total, progress=done)

    def action_cancel(self) -> None:
        if not self.cancel.is_set():
            self.cancel.set()
            self.query_one("#progress-hint", Label).update(_("Cancelling…"))
            self.query_one("#progress", Vertical).add_class("-cancelling")


class SerialResultDialog(DialogScreen[None]):
    """Summary of a finished serial operation."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="dialog.close"),
    ]

    def __init__(self, enabled: bool, result: SerialResult, *, title: str | None = None,
                 already: str | None = None) -> None:
        super().__init__()
        self.enabled = enabled
        self.result = result
        self.title_text = title
        self.already = already
        #: how many of the rows were hidden by the list's filter when the operation started
        self.hidden = 0

    def compose(self) -> ComposeResult:
        title = self.title_text or (_("KSeF enabled") if self.enabled else _("KSeF disabled"))
        already = self.already or (_("Already enabled") if self.enabled else _("Already disabled"))
        rows: tuple[tuple[str, int, str], ...] = (
            (_("Changed"), len(self.result.changed), "-changed"),
            (already, len(self.result.unchanged), "-unchanged"),
            (_("Skipped (no longer exist)"), len(self.result.missing), "-missing"),
        )
        if getattr(self.result, "skipped", None):
            rows += ((_("Skipped (changed by someone else; reload)"), len(self.result.skipped), "-skipped"),)
        with Vertical(classes="dialog", id="serial-result") as box:
            box.border_title = Content(title)  # plain text: a name in it is never markup
            for label, count, cls in rows:
                with Horizontal(classes=f"result-row {cls}"):
                    yield Label(label, classes="result-label")
                    yield Label(str(count), classes="result-count")
            if self.hidden:
                yield Label(ngettext("Of these, {n} was hidden by the filter.",
                                     "Of these, {n} were hidden by the filter.", self.hidden).format(n=self.hidden),
                            classes="result-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("OK"), variant="primary", id="ok")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
