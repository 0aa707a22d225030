"""The demo accounts with published passwords (``ksef-tui demo --login`` and ``demo --serve``).

Apart from :mod:`ksef_tui.demo.environment` so that the portal's session process can list them on
its login screen without loading anything of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoLogin:
    """A demo account whose password is published (only ever in a throwaway demo database)."""

    login: str
    password: str
    full_name: str
    role: str  # "admin" | "client"
    may_configure_ksef: bool

    def describe(self) -> str:
        from ksef_tui.i18n import _

        if self.role == "admin":
            return _("administrator")
        return _("client") if self.may_configure_ksef else _("blocked client")


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", "admin-demo", "Ewa Administratorka", "admin", True),
    DemoLogin("client", "client-demo", "Jan Klient", "client", True),
    DemoLogin("blocked", "blocked-demo", "Ola Zablokowana", "client", False),
)
