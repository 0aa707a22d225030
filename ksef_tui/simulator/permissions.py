"""Who may act in which context: owners, granted permissions and the chains behind indirect grants.

The model (PROTOCOL.md §17, spec 2.9.0 ``/permissions/*``):

* an **owner** of a context is the identity whose NIP is the context's NIP (a seal or a personal
  certificate with that NIP), a person linked to that NIP (``/testdata/person``, or
  ``SimulatorConfig.owners`` in strict mode: KSeF's NIP–PESEL link); owners hold every permission
  but ``VatUeManage`` without any grant record;
* **person**, **entity**, **subunit** and **EU** grants apply in one context to one identifier
  (entity grants to a NIP: the office; the NIP–PESEL link lets the linked person use them too);
* an **indirect** grant is made in an intermediary's context (the office, ``O``) for one client
  (``targetIdentifier``) or for all of them (``AllPartners``); it is **effective** in client ``X``'s
  context only while ``X`` has an entity grant of the same scope to ``O`` with ``canDelegate``, and
  is listed ``Inactive`` otherwise. Grants may come in any order: the chain works once complete.
  An indirect grant never backs another one, so a delegated person cannot delegate further.

Authentication asks :meth:`PermissionsArea.permissions_for` (nothing effective: status 415) and
:meth:`PermissionsArea.token_permissions` (a KSeF token carries what it was made with, bounded by
what its author holds now). The ``/permissions/*`` operations live in :mod:`grants` and
:mod:`permission_queries`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from . import validation as v
from .core import Area, Caller, SimulatorCore
from .errors import ProblemError
from .state import AuthOperation, KsefToken, PermissionGrant

Identifier = tuple[str, str]
#: (intermediary NIP, scope) -> client contexts that granted it that scope with ``canDelegate``
Delegations = dict[tuple[str, str], set[tuple[str | None, str | None]]]

#: What the owner of a NIP holds there (``EnforcementOperations`` only with a bailiff's or an
#: enforcement authority's role; never ``VatUeManage``): the spec's ``OwnerPermissionScope``.
OWNER_PERMISSIONS = [
    "InvoiceRead",
    "InvoiceWrite",
    "Introspection",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "CollectiveIdentifierManage",
]
#: The only scopes an entity may pass on (``canDelegate``) and an intermediary grant indirectly.
DELEGABLE = ("InvoiceRead", "InvoiceWrite")
#: Kinds of grant that let their holder work in the context they apply to.
_WORKING_KINDS = ("person", "entity", "subunit", "eu-admin", "eu-rep")
_ORDER = [*v.TOKEN_PERMISSIONS, "VatUeManage"]
_HEX64 = re.compile(r"^[0-9A-Fa-f]{64}$")
MISSING_PERMISSIONS = "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście."


class Role(NamedTuple):
    """A role of an entity (``EntityRole``)."""

    role: str
    description: str
    start: datetime
    parent: str | None = None


_SUBJECT_ROLES = {"EnforcementAuthority": "EnforcementAuthority", "JST": "LocalGovernmentUnit",
                  "VatGroup": "VatGroupUnit"}


def context_nip(context_type: str, context_value: str) -> str | None:
    """The NIP a context belongs to (``Nip`` itself, or the NIP part of an ``InternalId``)."""
    if context_type == "Nip":
        return context_value
    if context_type == "InternalId":
        return context_value.split("-", 1)[0]
    return None


def normalized(identifier: Identifier) -> Identifier:
    """Fingerprints compare without regard to case."""
    kind, value = identifier
    return (kind, value.upper()) if kind == "Fingerprint" else (kind, value)


def parse_owner_identifier(text: str) -> Identifier:
    """``"Pesel:…"``, ``"Nip:…"``, ``"Fingerprint:…"``, or a bare PESEL, NIP or fingerprint."""
    kind, sep, value = text.partition(":")
    if sep and kind in ("Pesel", "Nip", "Fingerprint"):
        return normalized((kind, value.strip()))
    value = text.strip()
    if value.isdigit() and len(value) == 11:
        return ("Pesel", value)
    if value.isdigit() and len(value) == 10:
        return ("Nip", value)
    if _HEX64.match(value):
        return ("Fingerprint", value.upper())
    raise ValueError(f"owner identifier {text!r} is not a PESEL, NIP or certificate fingerprint")


def ordered(permissions: Iterable[str]) -> list[str]:
    """Permissions once each, in the spec's order."""
    unique = set(permissions)
    return sorted(unique, key=lambda p: _ORDER.index(p) if p in _ORDER else len(_ORDER))


def new_permission_id() -> str:
    """A ``PermissionId`` (36 characters, a UUID like the spec's examples)."""
    return str(uuid.uuid4())


def require_any(caller: Caller, required: Iterable[str]) -> None:
    """403 ``missing-permissions`` unless the caller holds one of ``required``."""
    needed = list(required)
    if not set(needed) & set(caller.permissions):
        raise ProblemError(
            403,
            MISSING_PERMISSIONS,
            reason_code="missing-permissions",
            security={"requiredAnyOfPermissions": needed, "presentPermissions": list(caller.permissions)},
        )


class PermissionsArea(Area):
    """Owners, grant records and the effective permissions of an identity in a context."""

    def __init__(self, core: SimulatorCore) -> None:
        super().__init__(core)
        #: ``SimulatorConfig.owners``, read once (a wrong identifier fails here, not in a request)
        self.configured_owners = {
            nip: {parse_owner_identifier(i) for i in idents} for nip, idents in self.config.owners.items()
        }

    # -- identities and owners -----------------------------------------------------------------
    def aliases(self, subject: Identifier) -> set[Identifier]:
        """The identity, plus the NIPs it stands for through a NIP–PESEL (owner) link."""
        ident = normalized(subject)
        result = {ident}
        if ident[0] == "Pesel":
            result |= {("Nip", p.nip) for p in self.state.persons if p.pesel == ident[1]}
        result |= {("Nip", nip) for nip, owners in self.configured_owners.items() if ident in owners}
        return result

    def roles(self, nip: str) -> list[Role]:
        """Roles of a NIP (``EntityRoleType``), from the test-data subjects and persons."""
        start = self.now()
        roles: list[Role] = []
        subject = self.state.subjects.get(nip)
        if subject is not None:
            roles.append(Role(_SUBJECT_ROLES[subject.subject_type], subject.description, subject.created or start))
        for parent in self.state.subjects.values():
            if nip in parent.subunits:
                index = parent.subunits.index(nip)
                texts = parent.subunit_descriptions
                roles.append(Role("LocalGovernmentSubUnit" if parent.subject_type == "JST" else "VatGroupSubUnit",
                                  texts[index] if index < len(texts) else parent.description,
                                  parent.created or start, parent.nip))
        roles += [Role("CourtBailiff", p.description, p.created or start)
                  for p in self.state.persons if p.nip == nip and p.is_bailiff][:1]
        return roles

    def context_roles(self, nip: str) -> list[str]:
        """``EntityRoleType`` values of a NIP."""
        return [role.role for role in self.roles(nip)]

    def owner_permissions(self, subject: Identifier | None, context_type: str, context_value: str) -> list[str]:
        """What ``subject`` holds in the context as its owner (empty if it is not an owner)."""
        nip = context_nip(context_type, context_value)
        if subject is None or nip is None or ("Nip", nip) not in self.aliases(subject):
            return []
        granted = list(OWNER_PERMISSIONS)
        if {"CourtBailiff", "EnforcementAuthority"} & set(self.context_roles(nip)):
            granted.append("EnforcementOperations")
        return ordered(granted)

    # -- grant records ---------------------------------------------------------------------------
    def live(self, now: datetime | None = None) -> Iterator[PermissionGrant]:
        """Grant records that exist now (their grant finished, their withdrawal did not)."""
        moment = now or self.now()
        return (g for g in self.state.permission_grants if g.exists(moment))

    def delegations(self) -> Delegations:
        """(intermediary NIP, scope) -> the client contexts whose entity grant to it is delegable, now."""
        index: Delegations = {}
        for grant in self.live():
            if grant.kind == "entity" and grant.can_delegate and grant.subject_type == "Nip":
                index.setdefault((grant.subject_value, grant.scope), set()).add(
                    (grant.context_type, grant.context_value))
        return index

    def backed(self, grant: PermissionGrant, target: tuple[str | None, str | None] | None = None,
               delegations: Delegations | None = None) -> bool:
        """Whether a client (``target``, or any) delegated to the intermediary what an indirect grant passes on."""
        index = self.delegations() if delegations is None else delegations
        clients = index.get((grant.grantor_value, grant.scope), set())
        return bool(clients) if target is None else target in clients

    def state_of(self, grant: PermissionGrant, delegations: Delegations | None = None) -> str:
        """``PermissionState``: an indirect grant is ``Active`` only while its chain is complete."""
        if grant.kind != "indirect":
            return "Active"
        target = None if grant.target_type in (None, "AllPartners") else (grant.target_type, grant.target_value)
        return "Active" if self.backed(grant, target, delegations) else "Inactive"

    @staticmethod
    def targets(grant: PermissionGrant, context: tuple[str | None, str | None]) -> bool:
        """Whether an indirect grant names ``context`` as its client (or names all clients)."""
        return grant.target_type in (None, "AllPartners") or (grant.target_type, grant.target_value) == context

    def permissions_for(self, subject: Identifier | None, context_type: str, context_value: str) -> list[str]:
        """Effective permissions of an identity (Nip/Pesel/Fingerprint) in a context, now."""
        if subject is None:
            return []
        ids = self.aliases(subject)
        context = (context_type, context_value)
        granted = set(self.owner_permissions(subject, context_type, context_value))
        delegations: Delegations | None = None
        for grant in self.live():
            if normalized((grant.subject_type, grant.subject_value)) not in ids:
                continue
            if grant.kind in _WORKING_KINDS and (grant.context_type, grant.context_value) == context:
                granted.add(grant.scope)
            elif grant.kind == "indirect" and self.targets(grant, context):
                delegations = self.delegations() if delegations is None else delegations
                if self.backed(grant, context, delegations):
                    granted.add(grant.scope)
        return ordered(granted)

    def token_permissions(self, token: KsefToken) -> list[str]:
        """A token's permissions that its author still holds in the token's context."""
        held = set(self.permissions_for((token.author_type, token.author_value), token.context_type,
                                        token.context_value))
        return [p for p in token.permissions if p in held]

    def current_for(self, op: AuthOperation) -> list[str]:
        """The permission set a refresh of this authentication gets now."""
        if op.ksef_token_reference:
            token = self.state.ksef_tokens.get(op.ksef_token_reference)
            return self.token_permissions(token) if token is not None else []
        subject = (op.subject_type, op.subject_value) if op.subject_type and op.subject_value else None
        return self.permissions_for(subject, op.context_type, op.context_value)

    def is_deceased(self, subject: Identifier | None) -> bool:
        if subject is None or subject[0] != "Pesel":
            return False
        return any(p.pesel == subject[1] and p.is_deceased for p in self.state.persons)

    # -- changing the records (callers hold the lock) --------------------------------------------
    def add(self, grant: PermissionGrant) -> PermissionGrant:
        """Record a grant; an equal one already there (same kind, place, subject, scope, target) is
        updated instead (description, ``canDelegate``), keeping its ``id``: KSeF grants once."""
        key = _key(grant)
        for existing in self.state.permission_grants:
            if existing.end is None and _key(existing) == key:
                existing.description = grant.description
                existing.can_delegate = grant.can_delegate
                existing.person_details = grant.person_details or existing.person_details
                existing.entity_details = grant.entity_details or existing.entity_details
                return existing
        self.state.permission_grants.append(grant)
        return grant

    def end(self, grant: PermissionGrant, moment: datetime) -> None:
        """Withdraw a grant from ``moment`` on (never earlier than it started)."""
        grant.end = max(moment, grant.start)

    def purge(self) -> None:
        """Forget withdrawn grants (their withdrawal finished)."""
        now = self.now()
        self.state.permission_grants = [g for g in self.state.permission_grants if g.end is None or g.end > now]

    def seed(self, kind: str, grantor_nip: str, subject: Identifier, scopes: Iterable[str], description: str, *,
             can_delegate: bool = False, target_nip: str | None = None) -> list[str]:
        """Record grants at once, outside the API (tests, the demo); returns their ids. ``person`` and
        ``entity`` apply in ``grantor_nip``; ``indirect`` is made there for ``target_nip`` (``None``: all)."""
        known = {"person": v.TOKEN_PERMISSIONS, "entity": ("InvoiceRead", "InvoiceWrite", "CollectiveIdentifierManage"),
                 "indirect": DELEGABLE}
        if kind not in known:
            raise ValueError(f"kind must be person, entity or indirect, not {kind!r}")
        if not 5 <= len(description) <= 256:
            raise ValueError("description must have 5 to 256 characters")
        records = []
        for scope in scopes:
            if scope not in known[kind]:
                raise ValueError(f"{scope!r} cannot be granted as a {kind} permission")
            if can_delegate and scope not in DELEGABLE:
                raise ValueError(f"{scope!r} cannot be delegated")
            indirect = kind == "indirect"
            records.append(self.add(PermissionGrant(
                id=new_permission_id(), kind=kind, grantor_type="Nip", grantor_value=grantor_nip,
                context_type=None if indirect else "Nip", context_value=None if indirect else grantor_nip,
                subject_type=subject[0], subject_value=normalized(subject)[1], scope=scope, description=description,
                start=self.now(), author_type="Nip", author_value=grantor_nip, can_delegate=can_delegate,
                target_type=("Nip" if target_nip else "AllPartners") if indirect else None,
                target_value=target_nip if indirect else None,
            )).id)
        return records

    def withdraw(self, permission_id: str) -> bool:
        """Withdraw a grant at once, outside the API; whether it existed."""
        grant = next((g for g in self.live() if g.id == permission_id), None)
        if grant is not None:
            self.end(grant, self.now())
            self.purge()
        return grant is not None

    def grant_testdata(self, context_nip: str, authorized: Identifier, scopes: list[str],
                       descriptions: list[str]) -> None:
        """``/testdata/permissions`` (a ZAW-FA grant): person grants authored by ``System``."""
        now = self.now()
        for scope, description in zip(scopes, descriptions, strict=True):
            self.add(PermissionGrant(
                id=new_permission_id(), kind="person", grantor_type="Nip", grantor_value=context_nip,
                context_type="Nip", context_value=context_nip, subject_type=authorized[0],
                subject_value=normalized(authorized)[1], scope=scope, description=description, start=now,
                author_type="System",
            ))

    def revoke_testdata(self, context_nip: str, authorized: Identifier) -> None:
        """``/testdata/permissions/revoke``: every grant of an identity in a NIP context."""
        now = self.now()
        ident = normalized(authorized)
        for grant in list(self.live(now)):
            if (grant.kind in _WORKING_KINDS and (grant.context_type, grant.context_value) == ("Nip", context_nip)
                    and normalized((grant.subject_type, grant.subject_value)) == ident):
                self.end(grant, now)
        self.purge()

    def revoke_all_of_persons(self, pesels: set[str]) -> None:
        """Withdraw every grant held by these PESELs (a test-data person removed)."""
        now = self.now()
        for grant in list(self.live(now)):
            if grant.subject_type == "Pesel" and grant.subject_value in pesels:
                self.end(grant, now)
        self.purge()


def _key(grant: PermissionGrant) -> tuple[Any, ...]:
    return (grant.kind, grant.grantor_type, grant.grantor_value, grant.context_type, grant.context_value,
            normalized((grant.subject_type, grant.subject_value)), grant.scope, grant.target_type,
            grant.target_value)
