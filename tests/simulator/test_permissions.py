"""The permission model through HTTP: models A–D of PROTOCOL.md §17, chains, withdrawals, tokens.

Everything goes through the test-side client (``kclient``, written from the spec); every response
is validated against ``openapi-v2.9.0.json`` by the conftest hook, every request body before sending.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import NIP, OTHER_NIP
from .kclient import Ksef, Permissions, auth_xml, bearer, new_key, self_signed, sign, subject

CLIENT = NIP
OFFICE = OTHER_NIP
CLIENT_B = "3755747347"
CLIENT_C = "1111111111"
EMPLOYEE = "90010112345"
PERSON = "85121512345"
#: The final status of an authentication in a context where the identity holds nothing (spec table).
NO_PERMISSIONS = {"code": 415, "description": "Uwierzytelnianie zakończone niepowodzeniem",
                  "details": ["Brak przypisanych uprawnień"]}


class Identity:
    """A self-signed certificate (test mode) of a person (PESEL) or a company seal (NIP)."""

    def __init__(self, *, pesel: str | None = None, nip: str | None = None) -> None:
        self.key = new_key("ec")
        self.cert = self_signed(subject(pesel=pesel, nip=nip), self.key)
        self.identifier = ("Pesel", pesel) if pesel else ("Nip", nip or "")

    def attempt(self, http: Any, context_nip: str) -> dict[str, Any]:
        """Start an XAdES authentication in the context; the final status."""
        k = Ksef(http)
        started = k.start_xades(sign(auth_xml(k.challenge()["challenge"], context_nip), self.key, self.cert))
        return k.status(started)["status"]

    def login(self, http: Any, context_nip: str) -> dict[str, Any]:
        return Ksef(http).login_xades(self.key, self.cert, context_nip)

    def permissions(self, http: Any, context_nip: str) -> Permissions:
        return Permissions(http, self.login(http, context_nip))


def code_of(response: Any) -> int:
    return response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"]


def ids_of(listing: dict[str, Any], **match: Any) -> list[str]:
    return [p["id"] for p in listing["permissions"] if all(p.get(k) == val for k, val in match.items())]


# -- model C: the client grants the person directly ---------------------------------------------
def test_person_without_grant_415_granted_200_withdrawn_415(client):
    person = Identity(pesel=PERSON)
    assert person.attempt(client, CLIENT) == NO_PERMISSIONS

    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    assert owner.done(owner.grant_person(person.identifier, ["InvoiceRead", "InvoiceWrite"])) == {
        "code": 200, "description": "Operacja zakończona sukcesem"}
    assert person.attempt(client, CLIENT)["code"] == 200

    mine = person.permissions(client, CLIENT).personal()
    assert [(p["permissionScope"], p["permissionState"]) for p in mine["permissions"]] == [
        ("InvoiceRead", "Active"), ("InvoiceWrite", "Active")]
    assert "ownerPermissions" not in mine
    listed = owner.persons(authorizedIdentifier={"type": "Pesel", "value": PERSON})["permissions"]
    assert {p["authorIdentifier"]["value"] for p in listed} == {CLIENT}
    assert listed[0]["subjectPersonDetails"] == {"subjectDetailsType": "PersonByIdentifier",
                                                 "firstName": "Anna", "lastName": "Nowak"}

    for permission_id in ids_of(owner.persons(), authorizedIdentifier={"type": "Pesel", "value": PERSON}):
        assert owner.done(owner.revoke(permission_id))["code"] == 200
    assert person.attempt(client, CLIENT)["code"] == 415
    assert owner.persons()["permissions"] == []


# -- model A: the office's own identity -------------------------------------------------------
def test_office_seal_works_for_a_client_that_granted_the_office(client):
    office = Identity(nip=OFFICE)
    assert office.attempt(client, CLIENT)["code"] == 415
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": False, "InvoiceWrite": False}))
    assert office.attempt(client, CLIENT)["code"] == 200

    at_office = office.permissions(client, OFFICE)
    received = at_office.entities()["permissions"]
    assert [(p["contextIdentifier"], p["permissionScope"], p["canDelegate"]) for p in received] == [
        ({"type": "Nip", "value": CLIENT}, "InvoiceRead", False),
        ({"type": "Nip", "value": CLIENT}, "InvoiceWrite", False)]
    # the office's owners see them among their own (2.9: with their owner permissions)
    personal = at_office.personal()
    assert "CredentialsManage" in personal["ownerPermissions"]
    assert [(p["permissionScope"], p["contextIdentifier"]["value"], "authorizedIdentifier" in p)
            for p in personal["permissions"]] == [("InvoiceRead", CLIENT, False), ("InvoiceWrite", CLIENT, False)]
    assert client.post("/testdata/person", json={"nip": OFFICE, "pesel": PERSON, "isBailiff": False,
                                                 "description": "Właściciel biura"}).status_code == 200
    by_pesel = Identity(pesel=PERSON).permissions(client, OFFICE).personal()
    assert set(by_pesel["ownerPermissions"]) == {"InvoiceRead", "InvoiceWrite", "Introspection", "CredentialsRead",
                                                 "CredentialsManage", "SubunitManage", "CollectiveIdentifierManage"}
    assert {p["authorizedIdentifier"]["value"] for p in by_pesel["permissions"]} == {OFFICE}
    assert at_office.entities(contextIdentifier={"type": "Nip", "value": CLIENT_B})["permissions"] == []


# -- model B: office employees through the office ----------------------------------------------
def _office_with_employee(client) -> tuple[Permissions, Permissions, Identity]:
    """The client granted the office InvoiceRead with the right to delegate; the office admin granted
    the employee InvoiceRead for that client (and Introspection in the office, to log in there)."""
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    assert owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": True}))["code"] == 200
    office = Identity(nip=OFFICE).permissions(client, OFFICE)
    employee = Identity(pesel=EMPLOYEE)
    assert office.done(office.grant_indirect(employee.identifier, ["InvoiceRead"], client_nip=CLIENT))["code"] == 200
    office.done(office.grant_person(employee.identifier, ["Introspection"]))
    return owner, office, employee


def test_model_b_employee_works_for_the_client_until_the_client_withdraws(client):
    owner, office, employee = _office_with_employee(client)
    assert employee.attempt(client, CLIENT)["code"] == 200
    in_client = employee.permissions(client, CLIENT).personal()["permissions"]
    assert [(p["permissionScope"], p["targetIdentifier"], p["contextIdentifier"], p["permissionState"])
            for p in in_client] == [("InvoiceRead", {"type": "Nip", "value": CLIENT}, {"type": "Nip", "value": OFFICE},
                                     "Active")]
    indirect = office.persons(targetIdentifier={"type": "Nip", "value": CLIENT})["permissions"]
    assert [(p["authorizedIdentifier"]["value"], p["permissionState"]) for p in indirect] == [(EMPLOYEE, "Active")]

    # the client withdraws the office's grant: the employee's grant stays, listed Inactive, and fails
    (entity_grant,) = ids_of(owner.persons(), authorizedIdentifier={"type": "Nip", "value": OFFICE})
    assert owner.done(owner.revoke(entity_grant))["code"] == 200
    assert employee.attempt(client, CLIENT) == NO_PERMISSIONS
    assert office.entities()["permissions"] == []
    inactive = office.persons(permissionState="Inactive")["permissions"]
    assert [(p["authorizedIdentifier"]["value"], p["permissionScope"]) for p in inactive] == [(EMPLOYEE, "InvoiceRead")]
    assert office.persons(permissionState="Active", targetIdentifier={"type": "Nip", "value": CLIENT})[
        "permissions"] == []
    own = employee.permissions(client, OFFICE).personal(targetIdentifier={"type": "Nip", "value": CLIENT})
    assert [(p["permissionScope"], p["permissionState"]) for p in own["permissions"]] == [("InvoiceRead", "Inactive")]

    # the client grants again: the chain is whole again
    owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": True}))
    assert employee.attempt(client, CLIENT)["code"] == 200


def test_grants_in_any_order_take_effect_when_the_chain_completes(client):
    office = Identity(nip=OFFICE).permissions(client, OFFICE)
    employee = Identity(pesel=EMPLOYEE)
    assert office.done(office.grant_indirect(employee.identifier, ["InvoiceRead", "InvoiceWrite"],
                                             client_nip=CLIENT))["code"] == 200
    assert employee.attempt(client, CLIENT)["code"] == 415
    assert {p["permissionState"] for p in office.persons()["permissions"]} == {"Inactive"}

    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": True}))
    assert employee.attempt(client, CLIENT)["code"] == 200
    states = {p["permissionScope"]: p["permissionState"] for p in office.persons()["permissions"]}
    assert states == {"InvoiceRead": "Active", "InvoiceWrite": "Inactive"}  # InvoiceWrite was not delegated
    in_client = employee.permissions(client, CLIENT).personal()["permissions"]
    assert [(p["permissionScope"], p["permissionState"]) for p in in_client] == [
        ("InvoiceRead", "Active"), ("InvoiceWrite", "Inactive")]


def test_all_partners_works_for_every_client_that_delegated(client):
    office = Identity(nip=OFFICE).permissions(client, OFFICE)
    employee = Identity(pesel=EMPLOYEE)
    office.done(office.grant_indirect(employee.identifier, ["InvoiceRead"], all_partners=True))
    general = office.persons(targetIdentifier={"type": "AllPartners"})["permissions"]
    assert [(p["targetIdentifier"], p["permissionState"]) for p in general] == [({"type": "AllPartners"}, "Inactive")]
    for nip in (CLIENT, CLIENT_B):
        owner = Identity(nip=nip).permissions(client, nip)
        owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": True}))
    assert employee.attempt(client, CLIENT)["code"] == 200
    assert employee.attempt(client, CLIENT_B)["code"] == 200
    assert employee.attempt(client, CLIENT_C)["code"] == 415
    assert office.persons(targetIdentifier={"type": "AllPartners"})["permissions"][0]["permissionState"] == "Active"


def test_no_delegation_without_can_delegate(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    owner.done(owner.grant_entity(OFFICE, {"InvoiceRead": False}))
    office_seal = Identity(nip=OFFICE)
    office = office_seal.permissions(client, OFFICE)
    employee = Identity(pesel=EMPLOYEE)
    office.done(office.grant_indirect(employee.identifier, ["InvoiceRead"], client_nip=CLIENT))
    assert office_seal.attempt(client, CLIENT)["code"] == 200  # model A works
    assert employee.attempt(client, CLIENT)["code"] == 415  # model B does not
    assert office.persons()["permissions"][0]["permissionState"] == "Inactive"


def test_only_invoice_permissions_can_be_delegated(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    r = owner.grant_entity(OFFICE, {"CollectiveIdentifierManage": True})
    assert r.status_code == 400 and code_of(r) == 21405
    office = Identity(nip=OFFICE).permissions(client, OFFICE)
    r = office.grant_indirect(("Pesel", EMPLOYEE), ["CollectiveIdentifierManage"], client_nip=CLIENT)
    assert r.status_code == 400 and code_of(r) == 21405
    # not even a request the spec's enum allows (sent raw, past the client's own request check)
    raw = client.post("/permissions/indirect/grants", headers=office.headers, json={
        "subjectIdentifier": {"type": "Pesel", "value": EMPLOYEE}, "permissions": ["CredentialsManage"],
        "description": "Administracja", "subjectDetails": {"subjectDetailsType": "PersonByIdentifier",
                                                           "personById": {"firstName": "Piotr", "lastName": "Lis"}}})
    assert raw.status_code == 400 and code_of(raw) == 21405


def test_a_delegated_person_cannot_delegate_further(client):
    _, _, employee = _office_with_employee(client)
    in_client = employee.permissions(client, CLIENT)
    for attempt in (in_client.grant_person(("Pesel", PERSON), ["InvoiceRead"]),
                    in_client.grant_indirect(("Pesel", PERSON), ["InvoiceRead"], client_nip=CLIENT),
                    in_client.grant_entity(CLIENT_B, {"InvoiceRead": True})):
        assert attempt.status_code == 403
        assert attempt.json()["reasonCode"] == "missing-permissions"
        assert attempt.json()["security"] == {"requiredAnyOfPermissions": ["CredentialsManage"],
                                              "presentPermissions": ["InvoiceRead"]}


# -- who may grant and read ----------------------------------------------------------------------
def test_403_without_credentials_manage_or_read(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    reader, worker = Identity(pesel=PERSON), Identity(pesel=EMPLOYEE)
    owner.done(owner.grant_person(reader.identifier, ["CredentialsRead"]))
    owner.done(owner.grant_person(worker.identifier, ["InvoiceWrite"]))

    as_worker = worker.permissions(client, CLIENT)
    r = as_worker.query("persons/grants", {"queryType": "PermissionsInCurrentContext"})
    assert r.status_code == 403 and r.json()["security"] == {
        "requiredAnyOfPermissions": ["CredentialsManage", "CredentialsRead", "SubunitManage"],
        "presentPermissions": ["InvoiceWrite"]}
    assert as_worker.query("entities/grants").status_code == 403
    assert as_worker.roles().status_code == 403
    assert [p["permissionScope"] for p in as_worker.personal()["permissions"]] == ["InvoiceWrite"]  # anyone

    as_reader = reader.permissions(client, CLIENT)
    assert len(as_reader.persons()["permissions"]) == 2
    assert as_reader.roles().json() == {"roles": [], "hasMore": False}
    r = as_reader.grant_person(("Pesel", EMPLOYEE), ["InvoiceRead"])
    assert r.status_code == 403 and r.json()["security"]["presentPermissions"] == ["CredentialsRead"]
    (grant,) = ids_of(as_reader.persons(), permissionScope="InvoiceWrite")
    assert as_reader.revoke(grant).status_code == 403


def test_revoke_needs_a_known_permission_of_this_context(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    owner.done(owner.grant_person(("Pesel", PERSON), ["InvoiceRead"]))
    (grant,) = ids_of(owner.persons())
    stranger = Identity(nip=CLIENT_B).permissions(client, CLIENT_B)
    r = stranger.revoke(grant)
    assert r.status_code == 400 and code_of(r) == 21405
    r = owner.revoke("00000000-0000-0000-0000-000000000000")
    assert r.status_code == 400 and code_of(r) == 21405
    assert len(owner.persons()["permissions"]) == 1


# -- the asynchronous operation ------------------------------------------------------------------
def test_operation_status_100_then_200_and_the_grant_waits_for_it(make_client, clock):
    http = make_client(permission_operation_delay_s=2.0)
    owner = Identity(nip=CLIENT).permissions(http, CLIENT)
    person = Identity(pesel=PERSON)
    started = owner.grant_person(person.identifier, ["InvoiceRead"])
    assert started.status_code == 202
    reference = started.json()["referenceNumber"]
    assert reference[9:11] == "EG"
    assert owner.operation(reference).json() == {
        "status": {"code": 100, "description": "Operacja przyjęta do realizacji"}}
    assert person.attempt(http, CLIENT)["code"] == 415
    clock.advance(2.0)
    assert owner.done(started)["code"] == 200
    assert person.attempt(http, CLIENT)["code"] == 200

    (grant,) = ids_of(owner.persons())
    withdrawal = owner.revoke(grant)
    assert person.attempt(http, CLIENT)["code"] == 200  # not withdrawn until the operation ends
    clock.advance(2.0)
    assert owner.done(withdrawal)["code"] == 200
    assert person.attempt(http, CLIENT)["code"] == 415

    # another context cannot follow it; after 30 days it is gone
    other = Identity(nip=CLIENT_B).permissions(http, CLIENT_B)
    assert other.operation(reference).status_code == 400
    clock.advance(31 * 24 * 3600)
    owner = Identity(nip=CLIENT).permissions(http, CLIENT)
    assert owner.operation(reference).status_code == 410


def test_failed_operations_report_the_spec_status(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    assert owner.done(owner.grant_entity(CLIENT, {"InvoiceRead": False})) == {
        "code": 440, "description": "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
        "details": ["Nie można nadać uprawnień podmiotowi bieżącego kontekstu."]}
    status = owner.done(owner.grant_person(("Pesel", PERSON), ["EnforcementOperations"]))
    assert status["code"] == 430
    assert owner.persons()["permissions"] == []


# -- tokens: never more than the author holds, and only while the author holds it ---------------
@pytest.mark.parametrize("path", ["direct", "chain"])
def test_a_token_stops_working_when_its_author_loses_the_rights(client, path):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    if path == "direct":
        author = Identity(pesel=PERSON)
        owner.done(owner.grant_person(author.identifier, ["InvoiceRead", "InvoiceWrite"]))
    else:
        owner, _, author = _office_with_employee(client)
    session = author.login(client, CLIENT)
    too_much = client.post("/tokens", headers=bearer(session),
                           json={"permissions": ["InvoiceRead", "CredentialsManage"], "description": "Za dużo"})
    assert too_much.status_code == 400 and code_of(too_much) == 26001
    made = client.post("/tokens", headers=bearer(session),
                       json={"permissions": ["InvoiceRead"], "description": "Token"})
    assert made.status_code == 202
    token = made.json()["token"]
    k = Ksef(client)
    before = k.login_token(token, CLIENT)

    if path == "direct":
        for grant in ids_of(owner.persons(), authorizedIdentifier={"type": "Pesel", "value": PERSON}):
            owner.done(owner.revoke(grant))
    else:
        (entity_grant,) = ids_of(owner.persons(), authorizedIdentifier={"type": "Nip", "value": OFFICE})
        owner.done(owner.revoke(entity_grant))
    assert k.status(k.start_token(token, CLIENT))["status"] == NO_PERMISSIONS
    listed = client.get("/tokens", headers=bearer(Identity(nip=CLIENT).login(client, CLIENT)))
    assert listed.json()["tokens"][0]["status"] == "Active"  # the token itself is fine: its author is not

    # an access token keeps the set computed at authentication; a refresh gets the current one
    probe = {"queryType": "PermissionsInCurrentContext"}
    old = client.post("/permissions/query/persons/grants", headers=bearer(before), json=probe)
    assert old.json()["security"]["presentPermissions"] == ["InvoiceRead"]
    refreshed = client.post("/auth/token/refresh", headers=bearer(before, "refreshToken"))
    assert refreshed.status_code == 200
    new = client.post("/permissions/query/persons/grants", headers=bearer(refreshed.json()), json=probe)
    assert new.json()["security"]["presentPermissions"] == []


def test_a_token_carries_only_what_its_author_still_holds(client):
    owner = Identity(nip=CLIENT).permissions(client, CLIENT)
    author = Identity(pesel=PERSON)
    owner.done(owner.grant_person(author.identifier, ["InvoiceRead", "InvoiceWrite"]))
    session = author.login(client, CLIENT)
    token = client.post("/tokens", headers=bearer(session),
                        json={"permissions": ["InvoiceRead", "InvoiceWrite"], "description": "Token"}).json()["token"]
    (write,) = ids_of(owner.persons(), permissionScope="InvoiceWrite")
    owner.done(owner.revoke(write))
    tokens = Ksef(client).login_token(token, CLIENT)
    probe = client.post("/permissions/query/entities/grants", headers=bearer(tokens), json={})
    assert probe.status_code == 403 and probe.json()["security"]["presentPermissions"] == ["InvoiceRead"]
