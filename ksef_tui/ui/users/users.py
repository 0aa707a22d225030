"""Users and Companies → Users: the list, filter and selection; enter opens the user's KSeF."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from ksef_tui.i18n import _, ngettext
from ksef_tui.services.users import SerialResult, UserFilter, UserRow
from ksef_tui.ui.common.dialogs import SerialMenu, SerialResultDialog
from ksef_tui.ui.common.serial import SerialListScreen
from ksef_tui.ui.common.sources import UserSource
from ksef_tui.ui.widgets.virtual_table import Column


def role_label(role: str) -> str:
    return {"admin": _("admin"), "client": _("client")}.get(role, role)


def yes_no(value: bool) -> Text:
    return Text(_("yes"), style="bold") if value else Text(_("no"))


class UserSerialMenu(SerialMenu):
    """Serial operations on the selected users: ``True`` allow, ``False`` block self-service."""

    def __init__(self, selected: int) -> None:
        super().__init__(selected, count_text=_("Selected users: {n}"),
                         yes=_("Allow KSeF self-service"), no=_("Block KSeF self-service"))


class UserSerialResultDialog(SerialResultDialog):
    """Summary of "Allow / Block KSeF self-service"."""

    def __init__(self, allowed: bool, result: SerialResult) -> None:
        super().__init__(
            allowed, result,
            title=_("KSeF self-service allowed") if allowed else _("KSeF self-service blocked"),
            already=_("Already allowed") if allowed else _("Already blocked"),
        )


class UsersScreen(SerialListScreen[UserRow]):
    SECTION = "users"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "details", _("Details"), id="users.details",
                tooltip=_("The user's details")),
        Binding("o", "serial_menu", _("Serial ops"), id="users.serial",
                tooltip=_("Allow or block KSeF self-service for the selected users")),
        Binding("f6", "serial_menu", _("Serial operations"), show=False, id="users.serial_f6"),
    ]

    def action_details(self) -> None:
        from ksef_tui.ui.users.user_detail import UserDetailScreen

        row = self.table.cursor_row
        if row is not None:
            self.app.push_screen(UserDetailScreen(row.id))

    def filter_placeholder(self) -> str:
        return _("/ Filter by login, name, e-mail, company or NIP")

    def empty_text(self) -> str:
        if not (self.query("#filter") and self.filter_text.strip()):  # an empty database: how to fill it
            return _("No users yet: import them with ksef-tui import users FILE.csv (README: Command line).")
        return _("No users match the filter.")

    def columns(self) -> Sequence[Column[UserRow]]:
        return [
            Column("login", _("Login"), lambda r: r.login, width=16),
            Column("full_name", _("Full name"), lambda r: r.full_name, min_width=12, weight=2),
            Column("email", _("E-mail"), lambda r: r.email or "", weight=2, hide_below=100),
            Column("role", _("Role"), lambda r: role_label(r.role), width=6),
            Column("active", _("Active"), lambda r: yes_no(r.active), width=6),
            # "may configure KSeF themselves" (KSeF self-service), not whether the user has KSeF
            Column("ksef", _("Self-service"), lambda r: yes_no(r.may_configure_ksef), width=12),
            Column("companies", _("Companies"), lambda r: str(r.company_count), width=9,
                   justify="right"),
        ]

    def make_source(self) -> UserSource:
        return UserSource(self.ctx.users, self.ctx.actor, UserFilter(text=self.filter_text))

    def opening_source(self) -> UserSource:
        return UserSource(self.ctx.users, self.ctx.actor, UserFilter())

    def status_extra(self) -> str:
        return _("Self-service: may configure KSeF themselves")

    def open_row(self, row: UserRow) -> None:
        from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

        self.app.push_screen(UserKsefScreen(self.ctx, row.id))

    # ------------------------------------------------------ serial operations

    def serial_menu(self, selected: int) -> UserSerialMenu:
        return UserSerialMenu(selected)

    def serial_question(self, flag: bool, n: int) -> str:
        return (ngettext("Allow {n} user to configure KSeF themselves?",
                         "Allow {n} users to configure KSeF themselves?", n) if flag
                else ngettext("Block KSeF self-service for {n} user?",
                              "Block KSeF self-service for {n} users?", n)).format(n=n)

    def serial_preview(self, ids, flag, hidden):
        return self.ctx.users.serial_preview(self.ctx.actor, ids, flag, hidden)

    def serial_lines(self, flag: bool, preview) -> list[str]:
        lines = []
        if preview.to_change:
            lines.append((ngettext("{n} will be allowed to configure KSeF themselves",
                                   "{n} will be allowed to configure KSeF themselves", preview.to_change) if flag else
                          ngettext("{n} will see their KSeF settings read-only",
                                   "{n} will see their KSeF settings read-only", preview.to_change)
                          ).format(n=preview.to_change))
        if preview.already:
            lines.append((ngettext("{n} is already allowed: skipped, nothing to do",
                                   "{n} are already allowed: skipped, nothing to do", preview.already) if flag else
                          ngettext("{n} is already blocked: skipped, nothing to do",
                                   "{n} are already blocked: skipped, nothing to do", preview.already)
                          ).format(n=preview.already))
        if preview.missing:
            lines.append(ngettext("{n} no longer exists: skipped", "{n} no longer exist: skipped",
                                  preview.missing).format(n=preview.missing))
        return lines

    def serial_yes(self, flag: bool) -> str:
        return _("Allow") if flag else _("Block")

    def serial_progress_title(self, flag: bool) -> str:
        return _("Allowing KSeF self-service…") if flag else _("Blocking KSeF self-service…")

    def serial_tooltip(self, has_selection: bool) -> str:
        return (_("Allow or block KSeF self-service for the selected users") if has_selection
                else _("Select users first (space, a)"))

    def serial_run(self, ids, flag, progress, should_cancel, seen):
        return self.ctx.users.serial_set_may_configure(self.ctx.actor, ids, flag, progress=progress,
                                                       should_cancel=should_cancel)

    def serial_result_dialog(self, flag: bool, result) -> UserSerialResultDialog:
        return UserSerialResultDialog(flag, result)
