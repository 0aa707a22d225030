"""Granting and withdrawing permissions, and following the operation (spec 2.9.0 ``/permissions/*``).

Every grant and withdrawal is asynchronous, as in KSeF: the call answers 202 with a
``referenceNumber`` and the change takes effect when the operation ends
(``SimulatorConfig.permission_operation_delay_s``; 0 in fast tests), which
``GET /permissions/operations/{referenceNumber}`` reports (100 until then, 200, or a 4xx status of
the spec's table). Who may call is checked at once (403 ``missing-permissions``); what a body gets
wrong answers 400 21405; rules about the identifiers involved end the operation with 410–450.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import ids
from . import permission_bodies as b
from . import validation as v
from .core import Area, Caller, SimulatorCore, locked
from .errors import ProblemError
from .permissions import DELEGABLE, PermissionsArea, context_nip, new_permission_id, require_any
from .state import PermissionGrant, PermissionOperation

#: Reference numbers of permission operations (``20250626-EG-…`` in the spec's examples).
OPERATION = "EG"
OPERATION_STATUS = {
    100: "Operacja przyjęta do realizacji",
    200: "Operacja zakończona sukcesem",
    400: "Operacja zakończona niepowodzeniem",
    410: "Podane identyfikatory są niezgodne lub pozostają w niewłaściwej relacji",
    420: "Użyte poświadczenia nie mają uprawnień do wykonania tej operacji",
    430: "Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniom",
    440: "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
    450: "Operacja niedozwolona dla wskazanego identyfikatora lub jego typu",
    500: "Nieznany błąd",
    550: "Operacja została anulowana przez system",
}
PERSON_PERMISSIONS = ("CredentialsManage", "CredentialsRead", "InvoiceWrite", "InvoiceRead", "Introspection",
                      "SubunitManage", "EnforcementOperations", "CollectiveIdentifierManage")
ENTITY_PERMISSIONS = ("InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage")
EU_ADMIN_PERMISSIONS = ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
AUTHORIZATIONS = ("SelfInvoicing", "RRInvoicing", "TaxRepresentative", "PefInvoicing")
#: Permission a withdrawal needs, by kind of grant.
_REVOKE_NEEDS = {"subunit": "SubunitManage", "eu-rep": "VatUeManage"}

Failure = tuple[int, str]


class GrantsArea(Area):
    """``POST /permissions/*/grants``, the withdrawals and ``GET /permissions/operations/{ref}``."""

    def __init__(self, core: SimulatorCore, permissions: PermissionsArea) -> None:
        super().__init__(core)
        self.permissions = permissions

    # -- the operation -----------------------------------------------------------------------
    def _operation(self, caller: Caller, failure: Failure | None) -> tuple[PermissionOperation, dict[str, str]]:
        now = self.now()
        ref = ids.reference_number(OPERATION, now)
        code, details = (failure[0], [failure[1]]) if failure else (200, [])
        op = PermissionOperation(ref, *caller.context, now,
                                 now + timedelta(seconds=self.config.permission_operation_delay_s), code, details)
        horizon = now - timedelta(seconds=self.config.permission_operation_retention_s * 2)
        self.state.permission_operations = {
            k: o for k, o in self.state.permission_operations.items() if o.requested >= horizon
        }
        self.state.permission_operations[ref] = op
        return op, {"referenceNumber": ref}

    def _grant(self, caller: Caller, records: list[PermissionGrant], failure: Failure | None) -> dict[str, str]:
        op, body = self._operation(caller, failure)
        if failure is None:
            for record in records:
                record.start = op.ready_at
                self.permissions.add(record)
        self.permissions.purge()
        return body

    def _record(self, caller: Caller, kind: str, subject: tuple[str, str], scope: str, description: str,
                **fields: Any) -> PermissionGrant:
        author = caller.subject or ("System", None)
        fields.setdefault("context_type", caller.context[0])
        fields.setdefault("context_value", caller.context[1])
        return PermissionGrant(
            id=new_permission_id(), kind=kind, grantor_type=caller.context[0], grantor_value=caller.context[1],
            subject_type=subject[0], subject_value=subject[1], scope=scope, description=description,
            start=self.now(), author_type=author[0], author_value=author[1], **fields,
        )

    @locked
    def operation_status(self, caller: Caller, reference_number: str) -> dict[str, Any]:
        op = self.state.permission_operations.get(reference_number)
        if op is None or (op.context_type, op.context_value) != caller.context:
            raise v.invalid(f"Operacja o numerze referencyjnym {reference_number} nie została znaleziona.")
        now = self.now()
        if now > op.requested + timedelta(seconds=self.config.permission_operation_retention_s):
            raise ProblemError(410, "Status operacji nie jest już dostępny (przechowywany 30 dni).")
        code = 100 if now < op.ready_at else op.code
        status: dict[str, Any] = {"code": code, "description": OPERATION_STATUS[code]}
        if code != 100 and op.details:
            status["details"] = list(op.details)
        return {"status": status}

    # -- grants --------------------------------------------------------------------------------
    @locked
    def grant_persons(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/persons/grants``: work in the current context."""
        require_any(caller, ["CredentialsManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Nip", "Pesel", "Fingerprint"))
        assert subject is not None
        scopes = b.permission_list(body, "permissions", PERSON_PERMISSIONS)
        text = b.description(body)
        details = b.person_details(body, subject)
        failure = None
        nip = context_nip(*caller.context)
        roles = set(self.permissions.context_roles(nip)) if nip else set()
        if "EnforcementOperations" in scopes and not {"EnforcementAuthority", "CourtBailiff"} & roles:
            failure = (430, "Uprawnienie EnforcementOperations wymaga roli EnforcementAuthority lub CourtBailiff.")
        records = [self._record(caller, "person", subject, s, text, person_details=details) for s in scopes]
        return self._grant(caller, records, failure)

    @locked
    def grant_entities(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/entities/grants``: invoice rights for an entity (the office), maybe delegable."""
        require_any(caller, ["CredentialsManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Nip",))
        assert subject is not None
        raw = body.get("permissions")
        if not isinstance(raw, list) or not raw:
            raise v.invalid("Pole 'permissions' musi być niepustą listą uprawnień.")
        scopes: list[tuple[str, bool]] = []
        for item in raw:
            item = v.require_object(item, "permissions[]")
            scope = v.string(item, "type", choices=ENTITY_PERMISSIONS)
            can_delegate = bool(v.boolean(item, "canDelegate", required=False))
            assert scope is not None
            if can_delegate and scope not in DELEGABLE:
                raise v.invalid(f"Uprawnienia {scope} nie można przekazywać dalej (canDelegate): "
                                "tylko InvoiceRead i InvoiceWrite.")
            scopes.append((scope, can_delegate))
        if len({s for s, _ in scopes}) != len(scopes):
            raise v.invalid("Pole 'permissions': każde uprawnienie może wystąpić tylko raz.")
        text = b.description(body)
        details = b.entity_details(body)
        failure = None
        if subject[1] == context_nip(*caller.context):
            failure = (440, "Nie można nadać uprawnień podmiotowi bieżącego kontekstu.")
        records = [self._record(caller, "entity", subject, s, text, can_delegate=d, entity_details=details)
                   for s, d in scopes]
        return self._grant(caller, records, failure)

    @locked
    def grant_indirect(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/indirect/grants``: from the intermediary's context, for one client or all."""
        require_any(caller, ["CredentialsManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Nip", "Pesel", "Fingerprint"))
        assert subject is not None
        target = b.optional_value_identifier(body, "targetIdentifier", ("Nip", "AllPartners", "InternalId"),
                                             "AllPartners") or ("AllPartners", None)
        scopes = b.permission_list(body, "permissions", ("InvoiceRead", "InvoiceWrite", "CollectiveIdentifierManage"))
        for scope in scopes:
            if scope not in DELEGABLE:
                raise v.invalid(f"Uprawnienia {scope} nie można nadać w sposób pośredni: tylko InvoiceRead "
                                "i InvoiceWrite.")
        text = b.description(body)
        details = b.person_details(body, subject)
        failure = None
        if caller.context[0] != "Nip":
            failure = (430, "Uprawnienia w sposób pośredni nadaje podmiot pośredniczący w kontekście NIP.")
        elif target[1] is not None and context_nip(target[0], target[1]) == caller.context[1]:
            failure = (440, "Podmiot docelowy nie może być podmiotem bieżącego kontekstu.")
        elif subject == ("Nip", caller.context[1]):
            failure = (440, "Nie można nadać uprawnień pośrednich podmiotowi bieżącego kontekstu.")
        records = [self._record(caller, "indirect", subject, s, text, context_type=None, context_value=None,
                                target_type=target[0], target_value=target[1], person_details=details)
                   for s in scopes]
        return self._grant(caller, records, failure)

    @locked
    def grant_subunits(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/subunits/grants``: an administrator (CredentialsManage) of a subunit."""
        require_any(caller, ["SubunitManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Nip", "Pesel", "Fingerprint"))
        unit = b.identifier(body, "contextIdentifier", ("InternalId", "Nip"))
        assert subject is not None and unit is not None
        text = b.description(body)
        name = v.string(body, "subunitName", required=unit[0] == "InternalId", min_len=5, max_len=256)
        details = b.person_details(body, subject)
        own = context_nip(*caller.context)
        failure = None
        if unit[0] == "InternalId" and context_nip(*unit) != own:
            failure = (440, "Identyfikator wewnętrzny musi zaczynać się od NIP-u bieżącego kontekstu.")
        elif unit[0] == "Nip" and not any(s.nip == own and unit[1] in s.subunits for s in self.state.subjects.values()):
            failure = (430, "Bieżący kontekst nie jest podmiotem nadrzędnym wskazanego podmiotu.")
        record = self._record(caller, "subunit", subject, "CredentialsManage", text, context_type=unit[0],
                              context_value=unit[1], name=name, person_details=details)
        return self._grant(caller, [record], failure)

    @locked
    def grant_eu_administration(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/eu-entities/administration/grants``: administrator of a NIP-VAT UE context."""
        require_any(caller, ["CredentialsManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Fingerprint",))
        context = b.identifier(body, "contextIdentifier", ("NipVatUe",))
        assert subject is not None and context is not None
        text = b.description(body)
        name = v.string(body, "euEntityName", min_len=5, max_len=256)
        person, entity = b.eu_subject_details(body)
        eu_details = b.address_details(body, "euEntityDetails")
        failure = None
        if caller.context[0] != "Nip" or not context[1].startswith(caller.context[1] + "-"):
            failure = (440, "Kontekst złożony musi zaczynać się od NIP-u bieżącego kontekstu.")
        records = [self._record(caller, "eu-admin", subject, s, text, context_type=context[0],
                                context_value=context[1], name=name, person_details=person, entity_details=entity,
                                eu_entity_details=eu_details)
                   for s in EU_ADMIN_PERMISSIONS]
        return self._grant(caller, records, failure)

    @locked
    def grant_eu_representative(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/eu-entities/grants``: a representative in the current NIP-VAT UE context."""
        require_any(caller, ["VatUeManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Fingerprint",))
        assert subject is not None
        scopes = b.permission_list(body, "permissions", ("InvoiceWrite", "InvoiceRead"))
        text = b.description(body)
        person, entity = b.eu_subject_details(body)
        failure = None if caller.context[0] == "NipVatUe" else (430, "Wymagany kontekst złożony NIP-VAT UE.")
        admin = next((g for g in self.permissions.live() if g.kind == "eu-admin"
                      and (g.context_type, g.context_value) == caller.context), None)
        records = [self._record(caller, "eu-rep", subject, s, text, name=admin.name if admin else caller.context[1],
                                eu_entity_details=admin.eu_entity_details if admin else None,
                                person_details=person, entity_details=entity)
                   for s in scopes]
        return self._grant(caller, records, failure)

    @locked
    def grant_authorization(self, caller: Caller, body: Any) -> dict[str, str]:
        """``POST /permissions/authorizations/grants``: self-invoicing, RR, tax representative, PEF."""
        require_any(caller, ["CredentialsManage"])
        body = v.require_object(body)
        subject = b.identifier(body, "subjectIdentifier", ("Nip", "PeppolId"))
        scope = v.string(body, "permission", choices=AUTHORIZATIONS)
        assert subject is not None and scope is not None
        text = b.description(body)
        details = b.entity_details(body)
        failure = None
        if (scope == "PefInvoicing") != (subject[0] == "PeppolId"):
            failure = (450, "PefInvoicing nadaje się dostawcy usług Peppol (PeppolId), pozostałe podmiotowi (Nip).")
        elif caller.context[0] != "Nip" or subject[1] == caller.context[1]:
            failure = (440, "Uprawnienia podmiotowe nadaje podmiot (NIP) innemu podmiotowi.")
        record = self._record(caller, "authorization", subject, scope, text, entity_details=details)
        return self._grant(caller, [record], failure)

    # -- withdrawals ---------------------------------------------------------------------------
    def _find(self, caller: Caller, permission_id: str, *, authorization: bool) -> PermissionGrant:
        if len(permission_id) != 36:
            raise v.invalid("Identyfikator uprawnienia musi mieć 36 znaków.")
        for grant in self.permissions.live():
            if grant.id != permission_id or (grant.kind == "authorization") != authorization:
                continue
            granted_here = (grant.grantor_type, grant.grantor_value) == caller.context
            applies_here = (grant.context_type, grant.context_value) == caller.context and grant.kind != "indirect"
            if granted_here or applies_here:
                return grant
        raise v.invalid(f"Uprawnienie o identyfikatorze {permission_id} nie istnieje.")

    def _withdraw(self, caller: Caller, grant: PermissionGrant, needed: str) -> dict[str, str]:
        failure = None if needed in caller.permissions else (
            420, f"Odebranie tego uprawnienia wymaga uprawnienia {needed}.")
        op, body = self._operation(caller, failure)
        if failure is None:
            self.permissions.end(grant, op.ready_at)
        return body

    @locked
    def revoke_common(self, caller: Caller, permission_id: str) -> dict[str, str]:
        """``DELETE /permissions/common/grants/{permissionId}`` (all but the authorizations)."""
        require_any(caller, ["CredentialsManage", "VatUeManage", "SubunitManage"])
        grant = self._find(caller, permission_id, authorization=False)
        return self._withdraw(caller, grant, _REVOKE_NEEDS.get(grant.kind, "CredentialsManage"))

    @locked
    def revoke_authorization(self, caller: Caller, permission_id: str) -> dict[str, str]:
        """``DELETE /permissions/authorizations/grants/{permissionId}``."""
        require_any(caller, ["CredentialsManage"])
        grant = self._find(caller, permission_id, authorization=True)
        return self._withdraw(caller, grant, "CredentialsManage")
