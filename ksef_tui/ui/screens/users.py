"""Users and Companies → Users: the list, filter and selection; enter opens the user's KSeF."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ksef_tui.i18n import _
from ksef_tui.services.errors import OperationCancelled, ServiceError
from ksef_tui.services.users import SerialResult, UserFilter, UserRow
from ksef_tui.ui.messages import SerialFinished, SerialProgress
from ksef_tui.ui.screens.dialogs import ConfirmDialog, MessageDialog, ProgressDialog
from ksef_tui.ui.screens.list_screen import ListScreen
from ksef_tui.ui.sources import UserSource
from ksef_tui.ui.widgets.virtual_table import Column


def role_label(role: str) -> str:
    return {"admin": _("admin"), "client": _("client")}.get(role, role)


def yes_no(value: bool) -> Text:
    return Text(_("yes"), style="bold") if value else Text(_("no"))


log = logging.getLogger(__name__)


class UserSerialMenu(ModalScreen[bool | None]):
    """Serial operations on the selected users: ``True`` allow, ``False`` block self-service."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Cancel"), id="dialog.cancel"),
    ]

    def __init__(self, selected: int) -> None:
        super().__init__(classes="dialog-screen")
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="serial-menu") as box:
            box.border_title = _("Serial operations")
            yield Label(_("Selected users: {n}").format(n=self.selected), classes="dialog-text")
            yield OptionList(
                Option(_("Allow KSeF self-service"), id="allow"),
                Option(_("Block KSeF self-service"), id="block"),
                id="serial-options",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "allow")

    def action_close(self) -> None:
        self.dismiss(None)


class UserSerialResultDialog(ModalScreen[None]):
    """Summary of "Allow / Block KSeF self-service"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="dialog.close"),
    ]

    def __init__(self, allowed: bool, result: SerialResult) -> None:
        super().__init__(classes="dialog-screen")
        self.allowed = allowed
        self.result = result

    def compose(self) -> ComposeResult:
        title = _("KSeF self-service allowed") if self.allowed else _("KSeF self-service blocked")
        already = _("Already allowed") if self.allowed else _("Already blocked")
        rows = (
            (_("Changed"), len(self.result.changed), "-changed"),
            (already, len(self.result.unchanged), "-unchanged"),
            (_("Skipped (no longer exist)"), len(self.result.missing), "-missing"),
        )
        with Vertical(classes="dialog", id="serial-result") as box:
            box.border_title = title
            for label, count, cls in rows:
                with Horizontal(classes=f"result-row {cls}"):
                    yield Label(label, classes="result-label")
                    yield Label(str(count), classes="result-count")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("OK"), variant="primary", id="ok")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class UsersScreen(ListScreen[UserRow]):
    SECTION = "users"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "details", _("Details"), id="users.details",
                tooltip=_("The user's details")),
        Binding("o", "serial_menu", _("Serial ops"), id="users.serial",
                tooltip=_("Allow or block KSeF self-service for the selected users")),
        Binding("f6", "serial_menu", _("Serial operations"), show=False, id="users.serial_f6"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._progress: ProgressDialog | None = None

    def action_details(self) -> None:
        from ksef_tui.ui.screens.user_detail import UserDetailScreen

        row = self.table.cursor_row
        if row is not None:
            self.app.push_screen(UserDetailScreen(row.id))

    def filter_placeholder(self) -> str:
        return _("/ Filter by login, name or e-mail")

    def empty_text(self) -> str:
        return _("No users match the filter.")

    def columns(self) -> Sequence[Column[UserRow]]:
        return [
            Column("login", _("Login"), lambda r: r.login, width=16),
            Column("full_name", _("Full name"), lambda r: r.full_name, min_width=12, weight=3),
            Column("email", _("E-mail"), lambda r: r.email or "", weight=2, hide_below=100),
            Column("role", _("Role"), lambda r: role_label(r.role), width=6),
            Column("active", _("Active"), lambda r: yes_no(r.active), width=6),
            Column("ksef", _("KSeF"), lambda r: yes_no(r.may_configure_ksef), width=4),
            Column("companies", _("Firms"), lambda r: str(r.company_count), width=5,
                   justify="right"),
        ]

    def make_source(self) -> UserSource:
        return UserSource(self.ctx.users, self.ctx.actor, UserFilter(text=self.filter_text))

    def status_extra(self) -> str:
        return _("KSeF: may configure KSeF themselves")

    def open_row(self, row: UserRow) -> None:
        from ksef_tui.ui.screens.user_ksef import UserKsefScreen

        self.app.push_screen(UserKsefScreen(self.ctx, row.id))

    # ------------------------------------------------------ serial operations

    def compose_toolbar_start(self) -> ComposeResult:
        yield Button(_("Serial operations ▾"), id="serial", compact=True, disabled=True,
                     tooltip=_("Select users first (space, a)"))

    def selection_changed(self) -> None:
        super().selection_changed()
        button = self.query_one("#serial", Button)
        if button.disabled == bool(self.selection):
            button.disabled = not self.selection

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "serial_menu" and not self.selection:
            return None  # shown dimmed in the footer
        return super().check_action(action, parameters)

    @on(Button.Pressed, "#serial")
    def _serial_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_serial_menu()

    def action_serial_menu(self) -> None:
        self.run_serial_operation(None)

    @work(exclusive=True, group="serial-dialogs")
    async def run_serial_operation(self, allowed: bool | None) -> None:
        """Menu (unless ``allowed`` is given), confirmation, then the thread worker."""
        ids = frozenset(self.selection)
        if not ids:
            self.notify(_("Select users first (space, a)."), severity="warning")
            return
        if allowed is None:
            allowed = await self.app.push_screen_wait(UserSerialMenu(len(ids)))
            if allowed is None:
                return
        question = (
            _("Allow {n} users to configure KSeF themselves?") if allowed
            else _("Block KSeF self-service for {n} users?")
        ).format(n=len(ids))
        confirmed = await self.app.push_screen_wait(
            ConfirmDialog(question, yes=_("Allow") if allowed else _("Block"), title=_("Serial operations")))
        if not confirmed:
            return
        self._cancel = threading.Event()
        title = _("Allowing KSeF self-service…") if allowed else _("Blocking KSeF self-service…")
        self._progress = ProgressDialog(title, len(ids), self._cancel)
        await self.app.push_screen(self._progress)
        self._serial_worker(sorted(ids), allowed, self._cancel)

    @work(thread=True, exclusive=True, group="serial", exit_on_error=False)
    def _serial_worker(self, ids: list[int], allowed: bool, cancel: threading.Event) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(SerialProgress(done, total))

        def should_cancel() -> bool:
            return cancel.is_set() or worker.is_cancelled

        try:
            result = self.ctx.users.serial_set_may_configure(
                self.ctx.actor, ids, allowed, progress=progress, should_cancel=should_cancel)
        except OperationCancelled as exc:
            self.post_message(SerialFinished(allowed, error=str(exc), cancelled=True))
        except ServiceError as exc:
            self.post_message(SerialFinished(allowed, error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - the transaction rolled back; say so
            log.exception("serial operation failed")
            self.post_message(SerialFinished(allowed, error=str(exc) or type(exc).__name__))
        else:
            self.post_message(SerialFinished(allowed, result=result))  # type: ignore[arg-type]

    def on_serial_progress(self, message: SerialProgress) -> None:
        if self._progress is not None and self._progress.is_attached:
            self._progress.advance(message.done, message.total)

    def on_serial_finished(self, message: SerialFinished) -> None:
        if self._progress is not None:
            if self.app.screen is self._progress:
                self._progress.dismiss(None)
            self._progress = None
        self.table.reload()
        self.update_status()
        if message.result is not None:
            self.app.push_screen(UserSerialResultDialog(message.enabled, message.result))  # type: ignore[arg-type]
        elif message.cancelled:
            self.app.push_screen(MessageDialog(_("Cancelled"), _("Cancelled; nothing was changed.")))
        else:
            self.app.push_screen(MessageDialog(
                _("Serial operation failed"),
                _("Nothing was changed: {reason}").format(reason=message.error),
                error=True,
            ))
