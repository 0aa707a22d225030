"""Who may act in which context: owners, test-data persons and subjects, and granted permissions.

Authentication asks :meth:`PermissionsArea.permissions_for` (no permission gives status 415); the
``/testdata`` area records grants through :meth:`PermissionsArea.grant` and
:meth:`PermissionsArea.revoke`. This is the place for the permission model (``/permissions/*``).
"""

from __future__ import annotations

from . import validation as v
from .core import Area
from .state import Grant

#: What the owner of a NIP (its seal, or a person linked by ``/testdata/person``) may do there.
OWNER_PERMISSIONS = [
    "InvoiceRead",
    "InvoiceWrite",
    "Introspection",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "CollectiveIdentifierManage",
]


def context_nip(context_type: str, context_value: str) -> str | None:
    """The NIP a context belongs to (``Nip`` itself, or the NIP part of an ``InternalId``)."""
    if context_type == "Nip":
        return context_value
    if context_type == "InternalId":
        return context_value.split("-", 1)[0]
    return None


def _order(permission: str) -> int:
    return v.TOKEN_PERMISSIONS.index(permission) if permission in v.TOKEN_PERMISSIONS else 99


class PermissionsArea(Area):
    """Permissions of identities in contexts (the simulator's ZAW-FA and grants)."""

    def permissions_for(
        self, subject: tuple[str, str] | None, context_type: str, context_value: str
    ) -> list[str]:
        """Permissions of an identity (Nip/Pesel/Fingerprint) in a context."""
        if subject is None:
            return []
        kind, value = subject
        granted: set[str] = set()
        ctx_nip = context_nip(context_type, context_value)
        if ctx_nip:
            if kind == "Nip" and value == ctx_nip:
                granted.update(OWNER_PERMISSIONS)
            if kind == "Pesel":
                for person in self.state.persons:
                    if person.pesel == value and person.nip == ctx_nip:
                        granted.update(OWNER_PERMISSIONS)
                        if person.is_bailiff:
                            granted.add("EnforcementOperations")
            if kind == "Nip" and value == ctx_nip:
                subject_rec = self.state.subjects.get(ctx_nip)
                if subject_rec and subject_rec.subject_type == "EnforcementAuthority":
                    granted.add("EnforcementOperations")
        if context_type == "Nip":
            for grant in self.state.grants:
                if (
                    grant.context_nip == context_value
                    and grant.identifier_type == kind
                    and grant.identifier_value.upper() == value.upper()
                ):
                    granted.update(grant.permissions)
        return sorted(granted, key=_order)

    def is_deceased(self, subject: tuple[str, str] | None) -> bool:
        if subject is None or subject[0] != "Pesel":
            return False
        return any(p.pesel == subject[1] and p.is_deceased for p in self.state.persons)

    def grant(
        self, context_nip: str, authorized: tuple[str, str], permissions: list[str], descriptions: list[str]
    ) -> None:
        """Record permissions granted to an identity in a NIP context (callers hold the lock)."""
        self.state.grants.append(Grant(context_nip, authorized[0], authorized[1], permissions, descriptions))

    def revoke(self, context_nip: str, authorized: tuple[str, str]) -> None:
        """Withdraw every grant of an identity in a NIP context (callers hold the lock)."""
        self.state.grants = [
            g
            for g in self.state.grants
            if not (
                g.context_nip == context_nip
                and g.identifier_type == authorized[0]
                and g.identifier_value.upper() == authorized[1].upper()
            )
        ]

    def revoke_all_of_persons(self, pesels: set[str]) -> None:
        """Withdraw every grant held by these PESELs (a test-data person removed)."""
        self.state.grants = [
            g for g in self.state.grants if not (g.identifier_type == "Pesel" and g.identifier_value in pesels)
        ]
