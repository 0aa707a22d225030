"""The demo accounts with published passwords (``ksef-tui demo --login`` and ``demo --serve``), and the
demo users whose KSeF credentials are ready to try (README: Demo users).

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


@dataclass(frozen=True)
class DemoKsefUser:
    """A user of a demo company whose KSeF credentials (or files) are ready to try (README: Demo users)."""

    login: str
    full_name: str
    kind: str  # token | certificate | failing | test | new

    def describe(self) -> str:
        """What is ready for this user, in the user's language (the login screen and Help list it)."""
        from ksef_tui.i18n import _

        return {
            "token": _("a working DEMO token (t tests it)"),
            "certificate": _("a working PRODUCTION certificate; DEMO certificate files in Downloads"),
            "failing": _("a DEMO token revoked in KSeF: authorization fails"),
            "test": _("a working token on the TEST environment"),
            "new": _("nothing yet: a DEMO token to paste in Downloads; Profil Zaufany"),
        }[self.kind]

    def short(self) -> str:
        """A word or two (the login screen lists them on one line)."""
        from ksef_tui.i18n import _

        return {"token": _("token works"), "certificate": _("certificate"), "failing": _("fails"),
                "test": _("TEST"), "new": _("nothing yet")}[self.kind]


DEMO_KSEF_USERS: tuple[DemoKsefUser, ...] = (
    DemoKsefUser("demo-token", "Tomasz Tokenowy", "token"),
    DemoKsefUser("demo-cert", "Celina Certyfikat", "certificate"),
    DemoKsefUser("demo-failing", "Fabian Nieudany", "failing"),
    DemoKsefUser("demo-test", "Teresa Testowa", "test"),
    DemoKsefUser("demo-new", "Nina Nowa", "new"),
)
