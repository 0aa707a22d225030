"""The public test-data API of KSeF TEST: ``/testdata/person``, ``subject``, ``permissions``, ``context`` (§11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from . import validation as v
from .core import Area, SimulatorCore, context_key, locked
from .errors import KsefApiError
from .permissions import PermissionsArea
from .state import Person, Subject


class TestdataArea(Area):
    """Persons linked to a NIP, special subjects, simulated grants and blocked contexts."""

    __test__ = False  # not a pytest class, whatever the name says

    def __init__(self, core: SimulatorCore, permissions: PermissionsArea) -> None:
        super().__init__(core)
        self.permissions = permissions

    @locked
    def person(self, body: Any) -> None:
        body = v.require_object(body)
        nip = v.string(body, "nip", pattern=v.NIP_RE)
        pesel = v.string(body, "pesel", pattern=v.PESEL_RE)
        is_bailiff = v.boolean(body, "isBailiff")
        description = v.string(body, "description", min_len=5, max_len=256)
        is_deceased = v.boolean(body, "isDeceased", required=False) or False
        created = v.date_time(body, "createdDate") or self.now()
        assert nip and pesel and description is not None and is_bailiff is not None
        if any(p.nip == nip and p.pesel == pesel for p in self.state.persons):
            raise KsefApiError(30001)
        self.state.persons.append(Person(nip, pesel, is_bailiff, description, is_deceased, created))

    @locked
    def person_remove(self, body: Any) -> None:
        nip = v.string(v.require_object(body), "nip", pattern=v.NIP_RE)
        removed = [p for p in self.state.persons if p.nip == nip]
        self.state.persons = [p for p in self.state.persons if p.nip != nip]
        self.permissions.revoke_all_of_persons({p.pesel for p in removed})

    @locked
    def subject(self, body: Any) -> None:
        body = v.require_object(body)
        nip = v.string(body, "subjectNip", pattern=v.NIP_RE)
        kind = v.string(body, "subjectType", choices=("EnforcementAuthority", "VatGroup", "JST"))
        description = v.string(body, "description", min_len=5, max_len=256)
        created = v.date_time(body, "createdDate") or self.now()
        subunits_raw = body.get("subunits") or []
        if not isinstance(subunits_raw, list):
            raise v.invalid("Pole 'subunits' musi być listą.")
        subunits, subunit_descriptions = [], []
        for unit in subunits_raw:
            unit = v.require_object(unit, "subunits[]")
            unit_nip = v.string(unit, "subjectNip", pattern=v.NIP_RE)
            unit_description = v.string(unit, "description", min_len=5, max_len=256)
            assert unit_nip and unit_description
            subunits.append(unit_nip)
            subunit_descriptions.append(unit_description)
        assert nip and kind and description is not None
        if nip in self.state.subjects:
            raise KsefApiError(30001)
        self.state.subjects[nip] = Subject(nip, kind, description, subunits, subunit_descriptions, created)

    @locked
    def subject_remove(self, body: Any) -> None:
        nip = v.string(v.require_object(body), "subjectNip", pattern=v.NIP_RE)
        self.state.subjects.pop(nip or "", None)

    @staticmethod
    def _grant_target(body: dict[str, Any]) -> tuple[str, tuple[str, str]]:
        context = v.identifier(body, "contextIdentifier", ("Nip",))
        if not v.NIP_RE.match(context[1]):
            raise v.invalid("Pole 'contextIdentifier.value' musi być numerem NIP.")
        authorized = v.identifier(body, "authorizedIdentifier", ("Nip", "Pesel", "Fingerprint"))
        if not 10 <= len(authorized[1]) <= 64:
            raise v.invalid("Pole 'authorizedIdentifier.value' ma nieprawidłową długość.")
        return context[1], authorized

    @locked
    def grant_permissions(self, body: Any) -> None:
        body = v.require_object(body)
        context_nip, authorized = self._grant_target(body)
        permissions = body.get("permissions")
        if not isinstance(permissions, list):
            raise v.invalid("Pole 'permissions' musi być listą.")
        types, descriptions = [], []
        for item in permissions:
            item = v.require_object(item, "permissions[]")
            types.append(v.string(item, "permissionType", choices=v.TOKEN_PERMISSIONS))
            descriptions.append(v.string(item, "description", min_len=5, max_len=256))
        self.permissions.grant_testdata(context_nip, authorized, [t for t in types if t],
                                        [d or "" for d in descriptions])

    @locked
    def revoke_permissions(self, body: Any) -> None:
        context_nip, authorized = self._grant_target(v.require_object(body))
        self.permissions.revoke_testdata(context_nip, authorized)

    @locked
    def attachment(self, body: Any) -> None:
        """``/testdata/attachment``: the NIP may send invoices with attachments, with no end date."""
        nip = v.string(v.require_object(body), "nip", pattern=v.NIP_RE)
        assert nip
        self.state.attachment_consents[nip] = None

    @locked
    def attachment_revoke(self, body: Any) -> None:
        """``/testdata/attachment/revoke``: from ``expectedEndDate`` on (now if not given)."""
        body = v.require_object(body)
        nip = v.string(body, "nip", pattern=v.NIP_RE)
        end = v.string(body, "expectedEndDate", required=False)
        assert nip
        if end is None:
            self.state.attachment_consents.pop(nip, None)
            return
        try:
            moment = datetime.combine(date.fromisoformat(end), time(), tzinfo=UTC)
        except ValueError as exc:
            raise v.invalid("Pole 'expectedEndDate' nie jest poprawną datą.") from exc
        if nip in self.state.attachment_consents:
            self.state.attachment_consents[nip] = moment

    @staticmethod
    def _block_key(body: Any) -> str:
        body = v.require_object(body or {})
        context = v.identifier(body, "contextIdentifier", v.CONTEXT_TYPES)
        return context_key(*context)

    @locked
    def block_context(self, body: Any) -> None:
        key = self._block_key(body)
        if key not in self.state.blocked_contexts:
            self.state.blocked_contexts.append(key)

    @locked
    def unblock_context(self, body: Any) -> None:
        key = self._block_key(body)
        self.state.blocked_contexts = [k for k in self.state.blocked_contexts if k != key]
