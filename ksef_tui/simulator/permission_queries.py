"""The ``/permissions/query/*`` operations and ``/permissions/attachments/status`` (spec 2.9.0).

Every list is paged the spec's way: ``pageOffset`` is the page number (from 0), ``pageSize``
10–100, and ``hasMore`` says whether another page follows. Lists are ordered by start date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import permission_bodies as b
from . import validation as v
from .core import Area, Caller, SimulatorCore, locked
from .permissions import Delegations, PermissionsArea, context_nip, normalized, require_any
from .state import PermissionGrant

_READERS = ["CredentialsManage", "CredentialsRead"]
_PERSON_SCOPES = ("CredentialsManage", "CredentialsRead", "InvoiceWrite", "InvoiceRead", "Introspection",
                  "SubunitManage", "EnforcementOperations", "CollectiveIdentifierManage")
_PERSONAL_SCOPES = (*_PERSON_SCOPES, "VatUeManage")
_EU_SCOPES = ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
_AUTHORIZATIONS = ("SelfInvoicing", "TaxRepresentative", "RRInvoicing", "PefInvoicing")
_STATES = ("Active", "Inactive")

Row = tuple[PermissionGrant, dict[str, Any]]


def _ident(kind: str | None, value: str | None) -> dict[str, Any]:
    return {"type": kind, "value": value} if value is not None else {"type": kind}


def _page(items: list[Any], offset: int, size: int, key: str, **extra: Any) -> dict[str, Any]:
    start = offset * size
    return {key: items[start:start + size], **extra, "hasMore": len(items) > start + size}


def _sorted(grants: Iterable[PermissionGrant]) -> list[PermissionGrant]:
    """By start date; grants of one operation keep the order of the request."""
    return sorted(grants, key=lambda g: g.start)


def _details(grant: PermissionGrant, body: dict[str, Any]) -> dict[str, Any]:
    if grant.person_details:
        body["subjectPersonDetails"] = dict(grant.person_details)
    if grant.entity_details:
        body["subjectEntityDetails"] = dict(grant.entity_details)
    return body


class PermissionQueriesArea(Area):
    """What an identity holds, what a context granted and received, roles and subordinate entities."""

    def __init__(self, core: SimulatorCore, permissions: PermissionsArea) -> None:
        super().__init__(core)
        self.permissions = permissions

    # -- filters ---------------------------------------------------------------------------------
    @staticmethod
    def _common_filters(body: dict[str, Any], scopes: tuple[str, ...]) -> tuple[list[str], str | None]:
        types = b.permission_list(body, "permissionTypes", scopes, required=False)
        state = v.string(body, "permissionState", required=False, choices=_STATES)
        return types, state

    @staticmethod
    def _target(body: dict[str, Any]) -> tuple[str, str | None] | None:
        return b.optional_value_identifier(body, "targetIdentifier", ("Nip", "AllPartners", "InternalId"),
                                           "AllPartners")

    def _keep(self, rows: list[Row], types: list[str], state: str | None) -> list[dict[str, Any]]:
        return [row for grant, row in rows
                if (not types or grant.scope in types) and (state is None or row["permissionState"] == state)]

    def _in_view(self, grant: PermissionGrant, here: tuple[str, str], delegations: Delegations) -> str:
        """State of a grant seen from ``here``: an indirect grant in its client's context needs that chain."""
        if grant.kind == "indirect" and (grant.grantor_type, grant.grantor_value) != here:
            return "Active" if self.permissions.backed(grant, here, delegations) else "Inactive"
        return self.permissions.state_of(grant, delegations)

    # -- personal ------------------------------------------------------------------------------
    @locked
    def personal(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/personal/grants``: the caller's own permissions in this context."""
        body = b.query_body(body)
        context_filter = b.identifier(body, "contextIdentifier", ("Nip", "InternalId"), required=False)
        target_filter = self._target(body)
        types, state = self._common_filters(body, _PERSONAL_SCOPES)
        here = caller.context
        subject = caller.subject
        ids = self.permissions.aliases(subject) if subject else set()
        owner = self.permissions.owner_permissions(subject, *here)
        own_nip = ("Nip", here[1]) if here[0] == "Nip" else None
        delegations = self.permissions.delegations()
        rows: list[Row] = []
        for grant in _sorted(self.permissions.live()):
            holder = normalized((grant.subject_type, grant.subject_value))
            if grant.kind == "authorization":
                continue
            if grant.kind == "indirect":
                granted_here = (grant.grantor_type, grant.grantor_value) == here
                if grant.target_type == "AllPartners":  # a client of the intermediary: one that delegated
                    targets_here = self.permissions.backed(grant, here, delegations)
                else:
                    targets_here = (grant.target_type, grant.target_value) == here
                if holder not in ids or not (granted_here or targets_here):
                    continue
                shown_context: tuple[str, str | None] = (grant.grantor_type, grant.grantor_value)
            elif holder in ids and (grant.context_type, grant.context_value) == here:
                shown_context = here
            elif owner and holder == own_nip and grant.kind == "entity":
                shown_context = (grant.context_type or "", grant.context_value)
            else:
                continue
            row: dict[str, Any] = {"id": grant.id}
            if shown_context[0] in ("Nip", "InternalId"):
                row["contextIdentifier"] = _ident(*shown_context)
            if subject is None or holder != normalized(subject):
                row["authorizedIdentifier"] = _ident(grant.subject_type, grant.subject_value)
            if grant.kind == "indirect":
                row["targetIdentifier"] = _ident(grant.target_type, grant.target_value)
            row.update(permissionScope=grant.scope, description=grant.description)
            _details(grant, row)
            row.update(permissionState=self._in_view(grant, here, delegations), startDate=self.ts(grant.start),
                       canDelegate=grant.can_delegate)
            if context_filter and row.get("contextIdentifier") != _ident(*context_filter):
                continue
            if target_filter and (grant.target_type, grant.target_value) != target_filter:
                continue
            rows.append((grant, row))
        extra = {"ownerPermissions": owner} if owner else {}
        return _page(self._keep(rows, types, state), offset, size, "permissions", **extra)

    # -- persons -------------------------------------------------------------------------------
    @locked
    def persons(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/persons/grants``: who works here, or what the caller granted here."""
        require_any(caller, [*_READERS, "SubunitManage"])
        body = b.query_body(body)
        query_type = v.string(body, "queryType",
                              choices=("PermissionsInCurrentContext", "PermissionsGrantedInCurrentContext"))
        author = b.optional_value_identifier(body, "authorIdentifier", ("Nip", "Pesel", "Fingerprint", "System"),
                                             "System")
        authorized = b.identifier(body, "authorizedIdentifier", ("Nip", "Pesel", "Fingerprint"), required=False)
        context_filter = b.identifier(body, "contextIdentifier", ("Nip", "InternalId"), required=False)
        target_filter = self._target(body)
        types, state = self._common_filters(body, _PERSON_SCOPES)
        here = caller.context
        mine = self.permissions.aliases(caller.subject) if caller.subject else set()
        delegations = self.permissions.delegations()
        rows: list[Row] = []
        for grant in _sorted(self.permissions.live()):
            granted_here = (grant.grantor_type, grant.grantor_value) == here
            if query_type == "PermissionsInCurrentContext":
                works_here = grant.kind in ("person", "entity", "subunit") and (
                    grant.context_type, grant.context_value) == here
                if not (works_here or (grant.kind == "indirect" and granted_here)):
                    continue
            elif not (granted_here and grant.kind in ("person", "entity", "subunit", "indirect")
                      and grant.author_value is not None
                      and normalized((grant.author_type, grant.author_value)) in mine):
                continue
            if author and (grant.author_type, grant.author_value) != author:
                continue
            if authorized and normalized((grant.subject_type, grant.subject_value)) != normalized(authorized):
                continue
            if context_filter and (grant.kind != "subunit" or (grant.context_type, grant.context_value)
                                   != context_filter):
                continue
            if target_filter and (grant.target_type, grant.target_value) != target_filter:
                continue
            rows.append((grant, self._person_row(grant, here, delegations)))
        return _page(self._keep(rows, types, state), offset, size, "permissions")

    def _person_row(self, grant: PermissionGrant, here: tuple[str, str], delegations: Delegations) -> dict[str, Any]:
        row: dict[str, Any] = {"id": grant.id,
                               "authorizedIdentifier": _ident(grant.subject_type, grant.subject_value)}
        if grant.kind == "subunit":
            row["contextIdentifier"] = _ident(grant.context_type, grant.context_value)
        if grant.kind == "indirect":
            row["targetIdentifier"] = _ident(grant.target_type, grant.target_value)
        row.update(authorIdentifier=_ident(grant.author_type, grant.author_value), permissionScope=grant.scope,
                   description=grant.description)
        _details(grant, row)
        row.update(permissionState=self._in_view(grant, here, delegations), startDate=self.ts(grant.start),
                   canDelegate=grant.can_delegate)
        return row

    # -- entities ------------------------------------------------------------------------------
    @locked
    def entities(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/entities/grants``: invoice rights this context's entity received."""
        require_any(caller, _READERS)
        body = b.query_body(body)
        context_filter = b.identifier(body, "contextIdentifier", ("Nip", "InternalId"), required=False)
        me = ("Nip", caller.context[1]) if caller.context[0] == "Nip" else None
        items = [
            {"id": g.id, "contextIdentifier": _ident(g.context_type, g.context_value), "permissionScope": g.scope,
             "description": g.description, "startDate": self.ts(g.start), "canDelegate": g.can_delegate}
            for g in _sorted(self.permissions.live())
            if g.kind == "entity" and (g.subject_type, g.subject_value) == me
            and (context_filter is None or (g.context_type, g.context_value) == context_filter)
        ]
        return _page(items, offset, size, "permissions")

    # -- subunits ------------------------------------------------------------------------------
    @locked
    def subunits(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/subunits/grants``: subunit administrators appointed from here."""
        require_any(caller, [*_READERS, "SubunitManage"])
        body = b.query_body(body)
        unit = b.identifier(body, "subunitIdentifier", ("InternalId", "Nip"), required=False)
        items = []
        for g in _sorted(self.permissions.live()):
            if g.kind != "subunit" or (g.grantor_type, g.grantor_value) != caller.context:
                continue
            if unit is not None and (g.context_type, g.context_value) != unit:
                continue
            row: dict[str, Any] = {
                "id": g.id, "authorizedIdentifier": _ident(g.subject_type, g.subject_value),
                "subunitIdentifier": _ident(g.context_type, g.context_value),
                "authorIdentifier": _ident(g.author_type, g.author_value or g.grantor_value),
                "permissionScope": g.scope, "description": g.description,
            }
            if g.person_details:
                row["subjectPersonDetails"] = dict(g.person_details)
            if g.name:
                row["subunitName"] = g.name
            row["startDate"] = self.ts(g.start)
            items.append(row)
        return _page(items, offset, size, "permissions")

    # -- roles ---------------------------------------------------------------------------------
    @locked
    def entity_roles(self, caller: Caller, offset: int, size: int) -> dict[str, Any]:
        """``GET /permissions/query/entities/roles``: roles of this context's entity."""
        require_any(caller, _READERS)
        nip = context_nip(*caller.context)
        roles = []
        for role in self.permissions.roles(nip) if nip else []:
            item: dict[str, Any] = {}
            if role.parent:
                item["parentEntityIdentifier"] = {"type": "Nip", "value": role.parent}
            item.update(role=role.role, description=role.description, startDate=self.ts(role.start))
            roles.append(item)
        return _page(roles, offset, size, "roles")

    @locked
    def subordinate_roles(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/subordinate-entities/roles``: the JST's or VAT group's members."""
        require_any(caller, [*_READERS, "SubunitManage"])
        body = b.query_body(body)
        wanted = b.identifier(body, "subordinateEntityIdentifier", ("Nip",), required=False)
        subject = self.state.subjects.get(context_nip(*caller.context) or "")
        roles = []
        if subject is not None and subject.subject_type in ("JST", "VatGroup"):
            role = "LocalGovernmentSubUnit" if subject.subject_type == "JST" else "VatGroupSubUnit"
            texts = subject.subunit_descriptions or [subject.description] * len(subject.subunits)
            for nip, text in zip(subject.subunits, texts, strict=False):
                if wanted is None or wanted[1] == nip:
                    roles.append({"subordinateEntityIdentifier": {"type": "Nip", "value": nip}, "role": role,
                                  "description": text, "startDate": self.ts(subject.created or self.now())})
        return _page(roles, offset, size, "roles")

    # -- authorizations and EU entities --------------------------------------------------------
    @locked
    def authorizations(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/authorizations/grants``: granted by or received by this context."""
        require_any(caller, [*_READERS, "PefInvoiceWrite"])
        body = b.query_body(body)
        query_type = v.string(body, "queryType", choices=("Granted", "Received"))
        authorizing = b.identifier(body, "authorizingIdentifier", ("Nip",), required=False)
        authorized = b.identifier(body, "authorizedIdentifier", ("Nip", "PeppolId"), required=False)
        types = b.permission_list(body, "permissionTypes", _AUTHORIZATIONS, required=False)
        here = caller.context

        def wanted(g: PermissionGrant) -> bool:
            if g.kind != "authorization":
                return False
            party = (g.grantor_type, g.grantor_value) if query_type == "Granted" else (g.subject_type, g.subject_value)
            grantor_nip = ("Nip", context_nip(g.grantor_type, g.grantor_value))
            return (party == here and (authorizing is None or grantor_nip == authorizing)
                    and (authorized is None or (g.subject_type, g.subject_value) == authorized)
                    and (not types or g.scope in types))

        items = [self._authorization_row(g) for g in _sorted(self.permissions.live()) if wanted(g)]
        return _page(items, offset, size, "authorizationGrants")

    def _authorization_row(self, g: PermissionGrant) -> dict[str, Any]:
        row: dict[str, Any] = {"id": g.id}
        if g.author_value is not None:
            row["authorIdentifier"] = _ident(g.author_type, g.author_value)
        row.update(authorizedEntityIdentifier=_ident(g.subject_type, g.subject_value),
                   authorizingEntityIdentifier=_ident("Nip", context_nip(g.grantor_type, g.grantor_value)),
                   authorizationScope=g.scope, description=g.description)
        if g.entity_details:
            row["subjectEntityDetails"] = dict(g.entity_details)
        row["startDate"] = self.ts(g.start)
        return row

    @locked
    def eu_entities(self, caller: Caller, body: Any, offset: int, size: int) -> dict[str, Any]:
        """``POST /permissions/query/eu-entities/grants``: EU administrators and representatives."""
        require_any(caller, [*_READERS, "VatUeManage"])
        body = b.query_body(body)
        vat = v.string(body, "vatUeIdentifier", required=False)
        fingerprint = v.string(body, "authorizedFingerprintIdentifier", required=False)
        types = b.permission_list(body, "permissionTypes", _EU_SCOPES, required=False)
        here = caller.context
        in_scope: Callable[[PermissionGrant], bool]
        if here[0] == "NipVatUe":
            in_scope = lambda g: (g.context_type, g.context_value) == here  # noqa: E731
        else:
            in_scope = lambda g: g.kind == "eu-admin" and (g.context_value or "").startswith(here[1] + "-")  # noqa: E731
        items = []
        for g in _sorted(self.permissions.live()):
            if g.kind not in ("eu-admin", "eu-rep") or not in_scope(g):
                continue
            vat_part = (g.context_value or "").split("-", 1)[-1]
            if (vat and vat != vat_part) or (fingerprint and fingerprint.upper() not in g.subject_value) or (
                    types and g.scope not in types):
                continue
            row: dict[str, Any] = {
                "id": g.id, "authorIdentifier": _ident(g.author_type, g.author_value or g.grantor_value),
                "vatUeIdentifier": vat_part, "euEntityName": g.name or vat_part,
                "authorizedFingerprintIdentifier": g.subject_value, "permissionScope": g.scope,
                "description": g.description,
            }
            _details(g, row)
            if g.eu_entity_details:
                row["euEntityDetails"] = dict(g.eu_entity_details)
            row["startDate"] = self.ts(g.start)
            items.append(row)
        return _page(items, offset, size, "permissions")

    @locked
    def attachments_status(self, caller: Caller) -> dict[str, Any]:
        """``GET /permissions/attachments/status``: consent to invoices with attachments."""
        require_any(caller, _READERS)
        nip = context_nip(*caller.context) or ""
        if nip not in self.state.attachment_consents:
            return {"isAttachmentAllowed": False}
        end = self.state.attachment_consents[nip]
        body: dict[str, Any] = {"isAttachmentAllowed": end is None or self.now() < end}
        if end is not None:
            body["revokedDate"] = self.ts(end)
        return body
