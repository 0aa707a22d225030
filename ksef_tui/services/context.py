"""What a front end (UI or CLI) holds: the database and the acting user, with the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ksef_tui.services.actor import Actor
from ksef_tui.store.engine import Database


@dataclass
class AppContext:
    db: Database
    actor: Actor
    options: dict = field(default_factory=dict)

    @cached_property
    def companies(self):
        from ksef_tui.services.companies import CompanyService

        return CompanyService(self.db)

    @cached_property
    def users(self):
        from ksef_tui.services.users import UserService

        return UserService(self.db)

    @cached_property
    def audit(self):
        from ksef_tui.services.audit import AuditService

        return AuditService(self.db)

    @cached_property
    def csv(self):
        from ksef_tui.services.csv_io import CsvService

        return CsvService(self.db)

    @cached_property
    def credentials(self):
        from ksef_tui.services.ksef.credentials import CredentialService

        return CredentialService(self.db)
