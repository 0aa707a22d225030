"""Reading ``/permissions/*`` request bodies: identifiers, permission lists and subject details.

Everything a body gets wrong answers 400 21405 with a detail naming the field, as KSeF does; the
subject details come back in the shape the queries list them (``PermissionsSubject*Details``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from . import validation as v

Identifier = tuple[str, str]

HEX64_RE = re.compile(r"^[0-9A-Fa-f]{64}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_PEPPOL_RE = re.compile(r"^P[A-Z]{2}[0-9]{6}$")
NIP_VAT_UE_RE = re.compile(r"^(?P<nip>[1-9]((\d[1-9])|([1-9]\d))\d{7})-(?P<vat>[A-Z]{2}[A-Z0-9+*]{2,13})$")


def _check_value(kind: str, value: str, field: str) -> str:
    """The value of a ``{type, value}`` identifier, checked against its type."""
    checks = {
        "Nip": (v.NIP_RE, "numerem NIP"),
        "Pesel": (v.PESEL_RE, "numerem PESEL"),
        "Fingerprint": (HEX64_RE, "odciskiem palca certyfikatu (64 znaki szesnastkowe)"),
        "InternalId": (v.INTERNAL_ID_RE, "identyfikatorem wewnętrznym {nip}-{5 cyfr}"),
        "NipVatUe": (NIP_VAT_UE_RE, "identyfikatorem złożonym {nip}-{vat_ue}"),
        "PeppolId": (_PEPPOL_RE, "identyfikatorem dostawcy usług Peppol"),
    }
    pattern, what = checks[kind]
    if not pattern.match(value):
        raise v.invalid(f"Pole '{field}.value' musi być {what}.")
    if kind == "InternalId" and not v.internal_id_checksum_ok(value):
        raise v.invalid(f"Pole '{field}.value' ma nieprawidłową cyfrę kontrolną.")
    return value.upper() if kind == "Fingerprint" else value


def identifier(body: dict[str, Any], key: str, types: tuple[str, ...], *, required: bool = True) -> Identifier | None:
    """A ``{type, value}`` identifier of one of ``types`` (``None`` if absent and not required)."""
    if body.get(key) is None:
        if required:
            raise v.invalid(f"Pole '{key}' jest wymagane.")
        return None
    kind, value = v.identifier(body, key, types)
    return kind, _check_value(kind, value, key)


def optional_value_identifier(
    body: dict[str, Any], key: str, types: tuple[str, ...], valueless: str
) -> tuple[str, str | None] | None:
    """An identifier whose ``valueless`` type (``AllPartners``, ``System``) carries no value."""
    raw = body.get(key)
    if raw is None:
        return None
    raw = v.require_object(raw, key)
    kind = v.string(raw, "type", choices=types)
    assert kind is not None
    value = raw.get("value")
    if kind == valueless:
        if value not in (None, ""):
            raise v.invalid(f"Pole '{key}.value' musi być puste dla typu {valueless}.")
        return kind, None
    if not isinstance(value, str) or not value:
        raise v.invalid(f"Pole '{key}.value' jest wymagane.")
    return kind, _check_value(kind, value, key)


def permission_list(body: dict[str, Any], key: str, choices: tuple[str, ...], *, required: bool = True) -> list[str]:
    """A list of permission names, each at most once ("Każda wartość może wystąpić tylko raz")."""
    raw = body.get(key)
    if raw is None and not required:
        return []
    if not isinstance(raw, list) or (required and not raw):
        raise v.invalid(f"Pole '{key}' musi być niepustą listą uprawnień.")
    for item in raw:
        if not isinstance(item, str) or item not in choices:
            raise v.invalid(f"Pole '{key}' zawiera nieznane uprawnienie: {item!r}.")
    if len(set(raw)) != len(raw):
        raise v.invalid(f"Pole '{key}': każde uprawnienie może wystąpić tylko raz.")
    return list(raw)


def description(body: dict[str, Any], key: str = "description") -> str:
    text = v.string(body, key, min_len=5, max_len=256)
    assert text is not None
    return text


def _name(body: dict[str, Any], where: str) -> tuple[str, str]:
    first = v.string(body, "firstName", min_len=2, max_len=30)
    last = v.string(body, "lastName", min_len=2, max_len=81)
    assert first and last, where
    return first, last


def _person_without_identifier(data: dict[str, Any], kind: str) -> dict[str, Any]:
    first, last = _name(data, "personByFpNoId")
    birth = v.string(data, "birthDate")
    try:
        date.fromisoformat(birth or "")
    except ValueError as exc:
        raise v.invalid("Pole 'birthDate' musi być datą RRRR-MM-DD.") from exc
    document = v.require_object(data.get("idDocument"), "idDocument")
    doc_type = v.string(document, "type", max_len=20)
    number = v.string(document, "number", max_len=20)
    country = v.string(document, "country", pattern=_COUNTRY_RE)
    return {"subjectDetailsType": kind, "firstName": first, "lastName": last, "birthDate": birth,
            "idDocument": {"type": doc_type, "number": number, "country": country}}


def person_details(body: dict[str, Any], subject: Identifier) -> dict[str, Any]:
    """``PersonPermissionSubjectDetails`` -> ``PermissionsSubjectPersonDetails`` (as listed)."""
    details = v.require_object(body.get("subjectDetails"), "subjectDetails")
    kind = v.string(details, "subjectDetailsType", choices=(
        "PersonByIdentifier", "PersonByFingerprintWithIdentifier", "PersonByFingerprintWithoutIdentifier"))
    by_fingerprint = kind != "PersonByIdentifier"
    if by_fingerprint != (subject[0] == "Fingerprint"):
        raise v.invalid(f"Typ danych podmiotu {kind} nie pasuje do identyfikatora typu {subject[0]}.")
    if kind == "PersonByIdentifier":
        first, last = _name(v.require_object(details.get("personById"), "personById"), "personById")
        return {"subjectDetailsType": kind, "firstName": first, "lastName": last}
    if kind == "PersonByFingerprintWithIdentifier":
        data = v.require_object(details.get("personByFpWithId"), "personByFpWithId")
        first, last = _name(data, "personByFpWithId")
        person = identifier(data, "identifier", ("Pesel", "Nip"))
        assert person is not None
        return {"subjectDetailsType": kind, "firstName": first, "lastName": last,
                "personIdentifier": {"type": person[0], "value": person[1]}}
    return _person_without_identifier(v.require_object(details.get("personByFpNoId"), "personByFpNoId"), kind)


def entity_details(body: dict[str, Any]) -> dict[str, Any]:
    """``EntityDetails`` -> ``PermissionsSubjectEntityDetails`` (``EntityByIdentifier``)."""
    details = v.require_object(body.get("subjectDetails"), "subjectDetails")
    full_name = v.string(details, "fullName", min_len=5, max_len=90)
    return {"subjectDetailsType": "EntityByIdentifier", "fullName": full_name}


def eu_subject_details(body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``EuEntityPermissionSubjectDetails`` -> (person details, entity details) as listed."""
    details = v.require_object(body.get("subjectDetails"), "subjectDetails")
    kind = v.string(details, "subjectDetailsType", choices=(
        "PersonByFingerprintWithIdentifier", "PersonByFingerprintWithoutIdentifier", "EntityByFingerprint"))
    if kind == "EntityByFingerprint":
        data = v.require_object(details.get("entityByFp"), "entityByFp")
        full_name = v.string(data, "fullName", max_len=100)
        address = v.string(data, "address", max_len=512)
        return None, {"subjectDetailsType": kind, "fullName": full_name, "address": address}
    fingerprint_subject = ("Fingerprint", "-")
    return person_details({"subjectDetails": details}, fingerprint_subject), None


def address_details(body: dict[str, Any], key: str) -> dict[str, str]:
    data = v.require_object(body.get(key), key)
    full_name = v.string(data, "fullName", max_len=100)
    address = v.string(data, "address", max_len=512)
    assert full_name is not None and address is not None
    return {"fullName": full_name, "address": address}


def query_body(body: Any) -> dict[str, Any]:
    """A query's optional body (``null`` or absent means no filter)."""
    return {} if body is None else v.require_object(body)
