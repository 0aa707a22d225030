"""The panel's commands in the command palette (Ctrl+P)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ksef_tui.i18n import _

if TYPE_CHECKING:
    from ksef_tui.ui.app import KsefApp


class PanelCommands(Provider):
    """Go to a section, serial operations on the selection, help."""

    @property
    def panel(self) -> KsefApp:
        return cast("KsefApp", self.app)

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.panel
        if not app.is_panel:  # the login screen and the client's view have no panel commands
            return [(_("Keys"), _("Show the keys (? or F1)"), app.action_help)]
        return [
            (_("Go to Companies"), _("Users and Companies → Companies"),
             partial(app.action_goto, "companies")),
            (_("Go to Users"), _("Users and Companies → Users"), partial(app.action_goto, "users")),
            (_("Go to KSeF"), _("The KSeF section"), partial(app.action_goto, "ksef")),
            (_("Enable KSeF for the selected companies"), _("Serial operations"),
             partial(app.serial_ksef, True)),
            (_("Disable KSeF for the selected companies"), _("Serial operations"),
             partial(app.serial_ksef, False)),
            (_("Allow KSeF self-service for the selected users"), _("Serial operations on users"),
             partial(app.serial_users_ksef, True)),
            (_("Block KSeF self-service for the selected users"), _("Serial operations on users"),
             partial(app.serial_users_ksef, False)),
            (_("Audit log"), _("Who changed what and when (F7)"), app.action_audit_log),
            (_("Select all companies in the list"), _("Only the rows the filter shows"),
             partial(app.companies_action, "select_all")),
            (_("Clear the selection of companies"), _("Esc in the list"),
             partial(app.companies_action, "clear_selection")),
            (_("Keys"), _("Show the keys (? or F1)"), app.action_help),
        ]

    def screen_keys(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The keys of the screen the palette was opened on that its footer leaves out (80 columns):
        each is a command here too, named as in Help, run where its key would run it."""
        found: list[tuple[str, str, Callable[[], object]]] = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.show or binding.system or binding.id is None or active.node is self.app:
                continue
            if not type(active.node).__module__.startswith("ksef_tui."):
                continue
            name = binding.tooltip or binding.description
            found.append((name, _("Key: {key}").format(key=self.app.get_key_display(binding)),
                          partial(self.app.run_action, binding.action, active.node)))
        return found

    def all_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return self.screen_keys() + self.commands()

    async def discover(self) -> Hits:
        for name, help_text, callback in self.all_commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self.all_commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
