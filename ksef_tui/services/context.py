"""What a front end (UI or CLI) holds: the database and the acting user, with the services.

Each service is built on first use (start-up imports none of them) and is typed, so every call a
front end makes into a service is checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.token_policy import TokenPolicy
from ksef_tui.services.actor import Actor
from ksef_tui.store.engine import Database

if TYPE_CHECKING:
    from ksef_tui.services.audit import AuditService
    from ksef_tui.services.companies import CompanyService
    from ksef_tui.services.csv_io import CsvService
    from ksef_tui.services.ksef.credentials import CredentialService
    from ksef_tui.services.ksef.diagnosis import DiagnosisService
    from ksef_tui.services.ksef.office import OfficeService
    from ksef_tui.services.ksef.permissions import PermissionService
    from ksef_tui.services.ksef.profil_zaufany import ProfilZaufanyService
    from ksef_tui.services.users import UserService


@dataclass
class AppContext:
    db: Database
    actor: Actor
    options: dict[str, Any] = field(default_factory=dict)
    #: the one clock every service and screen with a date rule uses (tests pass a fixed one)
    clock: Clock = system_clock
    #: when KSeF tokens stop working (the settings' policy; changed in the panel through the settings)
    token_policy: TokenPolicy = field(default_factory=lambda: _settings_policy())

    @cached_property
    def companies(self) -> CompanyService:
        from ksef_tui.services.companies import CompanyService

        return CompanyService(self.db, clock=self.clock)

    @cached_property
    def users(self) -> UserService:
        from ksef_tui.services.users import UserService

        return UserService(self.db, clock=self.clock)

    @cached_property
    def audit(self) -> AuditService:
        from ksef_tui.services.audit import AuditService

        return AuditService(self.db)

    @cached_property
    def csv(self) -> CsvService:
        from ksef_tui.services.csv_io import CsvService

        return CsvService(self.db, clock=self.clock)

    @cached_property
    def credentials(self) -> CredentialService:
        from ksef_tui.services.ksef.credentials import CredentialService

        return CredentialService(self.db, clock=self.clock)

    @cached_property
    def profil_zaufany(self) -> ProfilZaufanyService:
        from ksef_tui.services.ksef.profil_zaufany import ProfilZaufanyService

        return ProfilZaufanyService(self.db, self.credentials)

    @cached_property
    def office(self) -> OfficeService:
        from ksef_tui.services.ksef.office import OfficeService

        return OfficeService(self.credentials, clock=self.clock)

    @cached_property
    def permissions(self) -> PermissionService:
        from ksef_tui.services.ksef.permissions import PermissionService

        return PermissionService(self.credentials, office=self.office, clock=self.clock)

    @cached_property
    def diagnosis(self) -> DiagnosisService:
        from ksef_tui.services.ksef.diagnosis import DiagnosisService

        return DiagnosisService(self.permissions)


def _settings_policy() -> TokenPolicy:
    from ksef_tui.settings import get_settings

    return get_settings().token_policy


def open_context(database_url: str | None = None, actor: Actor | None = None, *, migrate: bool = True,
                 check_vault: bool = True, create: bool = True) -> AppContext:
    """A front end's context on the database at ``database_url`` (default: the user's), acting as
    ``actor`` (default: the local operator as administrator). With ``check_vault``, a missing or wrong
    master key stops here, in plain words. Without ``create`` a missing SQLite database is refused, not
    created (read-only commands). Scratch copies a killed process left in the data folder are removed."""
    from ksef_tui.files import clean_scratch
    from ksef_tui.store.engine import open_database

    clean_scratch()
    ctx = AppContext(open_database(database_url, migrate=migrate, create=create), actor or Actor.local_admin())
    if check_vault:
        ctx.credentials.vaults.check()
    return ctx
