"""Who is acting. Every service call takes one; permission checks read it."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from ksef_tui.errors import PermissionDenied
from ksef_tui.i18n import _

ADMIN = "admin"
CLIENT = "client"
ROLES = (ADMIN, CLIENT)


@dataclass(frozen=True)
class Actor:
    id: int | None
    login: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @classmethod
    def local_admin(cls, login: str | None = None) -> Actor:
        """The operator of a local panel or script, acting as an administrator."""
        if login is None:
            try:
                login = getpass.getuser()
            except Exception:
                login = "local"
        return cls(id=None, login=f"local:{login}", role=ADMIN)


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied(_("Only an administrator may do this."))
