"""The rest of ``/permissions/*``: paging, test data, roles, subunits, authorizations, EU entities,
attachments, limits, strict-mode owners and persistence (responses validated by the conftest hook)."""

from __future__ import annotations

from ksef_tui.simulator import create_app

from .conftest import NIP, OTHER_NIP, contract_hook, fast_config
from .kclient import Ksef, Permissions, auth_xml
from .test_permissions import PERSON, Identity, code_of


def _pesel(index: int) -> str:
    return f"800101{index:05d}"


def test_paging_page_offset_and_page_size(client):
    owner = Identity(nip=NIP).permissions(client, NIP)
    for i in range(25):
        assert owner.done(owner.grant_person(("Pesel", _pesel(i)), ["InvoiceRead"]))["code"] == 200
    pages = []
    for page in range(3):
        r = owner.query("persons/grants", {"queryType": "PermissionsInCurrentContext"}, pageOffset=page, pageSize=10)
        assert r.status_code == 200
        pages.append(r.json())
    assert [len(p["permissions"]) for p in pages] == [10, 10, 5]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    seen = [p["authorizedIdentifier"]["value"] for page in pages for p in page["permissions"]]
    assert seen == [_pesel(i) for i in range(25)]
    assert owner.query("persons/grants", {"queryType": "PermissionsInCurrentContext"}, pageSize=100).json()[
        "hasMore"] is False
    default = owner.query("persons/grants", {"queryType": "PermissionsInCurrentContext"}).json()
    assert len(default["permissions"]) == 10 and default["hasMore"] is True
    for bad, code in (({"pageSize": 9}, 21405), ({"pageSize": 101}, 21405), ({"pageOffset": -1}, 21405)):
        r = owner.query("persons/grants", {"queryType": "PermissionsInCurrentContext"}, **bad)
        assert r.status_code == 400 and code_of(r) == code
    r = client.post("/permissions/query/persons/grants?pageSize=abc", headers=owner.headers,
                    json={"queryType": "PermissionsInCurrentContext"})
    assert code_of(r) == 21001
    r = client.post("/permissions/query/persons/grants", headers={**owner.headers, "Content-Type": "application/json"},
                    content=b"{not json")
    assert code_of(r) == 21001
    r = client.post("/permissions/query/persons/grants", headers=owner.headers, json={})
    assert code_of(r) == 21405  # queryType is required


def test_persons_query_filters_and_the_granted_by_me_list(client):
    owner = Identity(nip=NIP).permissions(client, NIP)
    admin = Identity(pesel=PERSON)
    owner.done(owner.grant_person(admin.identifier, ["CredentialsManage"]))
    as_admin = admin.permissions(client, NIP)
    as_admin.done(as_admin.grant_person(("Pesel", _pesel(1)), ["InvoiceRead", "InvoiceWrite"]))
    as_admin.done(as_admin.grant_entity(OTHER_NIP, {"InvoiceRead": True}))

    everyone = as_admin.persons()["permissions"]
    assert len(everyone) == 4
    mine = as_admin.persons("PermissionsGrantedInCurrentContext")["permissions"]
    assert [(p["authorizedIdentifier"]["value"], p["permissionScope"]) for p in mine] == [
        (_pesel(1), "InvoiceRead"), (_pesel(1), "InvoiceWrite"), (OTHER_NIP, "InvoiceRead")]
    entity = next(p for p in mine if p["authorizedIdentifier"]["type"] == "Nip")
    assert entity["canDelegate"] is True
    assert entity["subjectEntityDetails"] == {"subjectDetailsType": "EntityByIdentifier",
                                              "fullName": "Biuro Rachunkowe Sp. z o.o."}
    by_owner = owner.persons("PermissionsGrantedInCurrentContext")["permissions"]
    assert [p["authorizedIdentifier"]["value"] for p in by_owner] == [PERSON]
    writes = as_admin.persons(permissionTypes=["InvoiceWrite"])["permissions"]
    assert [p["permissionScope"] for p in writes] == ["InvoiceWrite"]
    authored = as_admin.persons(authorIdentifier={"type": "Pesel", "value": PERSON})["permissions"]
    assert len(authored) == 3


def test_testdata_grants_feed_the_same_model(client):
    person = Identity(pesel=PERSON)
    grant = {"contextIdentifier": {"type": "Nip", "value": NIP},
             "authorizedIdentifier": {"type": "Pesel", "value": PERSON},
             "permissions": [{"permissionType": "InvoiceRead", "description": "Czytanie faktur"}]}
    assert client.post("/testdata/permissions", json=grant).status_code == 200
    owner = Identity(nip=NIP).permissions(client, NIP)
    (listed,) = owner.persons()["permissions"]
    assert listed["authorIdentifier"] == {"type": "System"}
    assert listed["description"] == "Czytanie faktur"
    assert person.attempt(client, NIP)["code"] == 200
    assert owner.done(owner.revoke(listed["id"]))["code"] == 200
    assert person.attempt(client, NIP)["code"] == 415
    client.post("/testdata/permissions", json=grant)
    assert client.post("/testdata/permissions/revoke", json={k: grant[k] for k in (
        "contextIdentifier", "authorizedIdentifier")}).status_code == 200
    assert owner.persons()["permissions"] == []


def test_roles_subordinate_entities_and_subunit_administrators(client):
    jst, member = "9999999999", NIP
    assert client.post("/testdata/subject", json={
        "subjectNip": jst, "subjectType": "JST", "description": "Gmina Testowa",
        "subunits": [{"subjectNip": member, "description": "Szkoła Podstawowa"}]}).status_code == 200
    head = Identity(nip=jst).permissions(client, jst)
    assert [r["role"] for r in head.roles().json()["roles"]] == ["LocalGovernmentUnit"]
    (sub,) = head.query("subordinate-entities/roles").json()["roles"]
    assert (sub["subordinateEntityIdentifier"]["value"], sub["role"], sub["description"]) == (
        member, "LocalGovernmentSubUnit", "Szkoła Podstawowa")
    (role,) = Identity(nip=member).permissions(client, member).roles().json()["roles"]
    assert role["parentEntityIdentifier"] == {"type": "Nip", "value": jst}

    admin = Identity(pesel=PERSON)
    body = {"subjectIdentifier": {"type": "Pesel", "value": PERSON},
            "contextIdentifier": {"type": "Nip", "value": member},
            "description": "Administrator szkoły", "subjectDetails": {
                "subjectDetailsType": "PersonByIdentifier", "personById": {"firstName": "Ewa", "lastName": "Kos"}}}
    started = client.post("/permissions/subunits/grants", headers=head.headers, json=body)
    assert head.done(started)["code"] == 200
    (listed,) = head.query("subunits/grants").json()["permissions"]
    assert (listed["subunitIdentifier"]["value"], listed["permissionScope"]) == (member, "CredentialsManage")
    assert Identity(pesel=PERSON).attempt(client, member)["code"] == 200
    assert admin.permissions(client, member).personal()["permissions"][0]["permissionScope"] == "CredentialsManage"
    unrelated = dict(body, contextIdentifier={"type": "Nip", "value": OTHER_NIP})
    assert head.done(client.post("/permissions/subunits/grants", headers=head.headers, json=unrelated))["code"] == 430


def test_authorizations_granted_received_and_withdrawn(client):
    owner = Identity(nip=NIP).permissions(client, NIP)
    assert owner.done(owner.grant_authorization(OTHER_NIP, "SelfInvoicing"))["code"] == 200
    (granted,) = owner.query("authorizations/grants", {"queryType": "Granted"}).json()["authorizationGrants"]
    assert (granted["authorizingEntityIdentifier"]["value"], granted["authorizedEntityIdentifier"]["value"],
            granted["authorizationScope"]) == (NIP, OTHER_NIP, "SelfInvoicing")
    other = Identity(nip=OTHER_NIP).permissions(client, OTHER_NIP)
    assert len(other.query("authorizations/grants", {"queryType": "Received"}).json()["authorizationGrants"]) == 1
    assert Identity(pesel=PERSON).attempt(client, NIP)["code"] == 415  # not a working permission
    assert owner.revoke(granted["id"]).status_code == 400  # the common path does not withdraw it
    assert owner.done(owner.revoke_authorization(granted["id"]))["code"] == 200
    assert owner.query("authorizations/grants", {"queryType": "Granted"}).json()["authorizationGrants"] == []
    assert owner.done(owner.grant_authorization(OTHER_NIP, "PefInvoicing"))["code"] == 450


def test_eu_entity_administrator_and_attachments(client):
    owner = Identity(nip=NIP).permissions(client, NIP)
    fingerprint = "AB" * 32
    body = {"subjectIdentifier": {"type": "Fingerprint", "value": fingerprint},
            "contextIdentifier": {"type": "NipVatUe", "value": f"{NIP}-DE123456789"},
            "description": "Administrator podmiotu unijnego", "euEntityName": "Firma GmbH, Berlin",
            "subjectDetails": {"subjectDetailsType": "EntityByFingerprint",
                               "entityByFp": {"fullName": "Firma GmbH", "address": "Berlin"}},
            "euEntityDetails": {"fullName": "Firma GmbH", "address": "Berlin"}}
    started = client.post("/permissions/eu-entities/administration/grants", headers=owner.headers, json=body)
    assert owner.done(started)["code"] == 200
    listed = owner.query("eu-entities/grants").json()["permissions"]
    assert {p["permissionScope"] for p in listed} == {"VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection"}
    assert {p["vatUeIdentifier"] for p in listed} == {"DE123456789"}
    assert owner.query("eu-entities/grants", {"vatUeIdentifier": "FR12345678901"}).json()["permissions"] == []

    status = client.get("/permissions/attachments/status", headers=owner.headers)
    assert status.json() == {"isAttachmentAllowed": False}
    assert client.post("/testdata/attachment", json={"nip": NIP}).status_code == 200
    assert client.get("/permissions/attachments/status", headers=owner.headers).json() == {"isAttachmentAllowed": True}


def test_permissions_share_the_10_30_120_limit(make_client):
    http = make_client(rate_limits=True)
    owner = Identity(nip=NIP).permissions(http, NIP)
    answers = [owner.query("entities/grants").status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]
    r = owner.query("entities/grants")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_strict_mode_owners_come_from_the_configuration(make_client):
    for owners, expected in (({}, 415), ({NIP: [f"Pesel:{PERSON}"]}, 200), ({NIP: [PERSON]}, 200)):
        strict = make_client(mode="strict", owners=owners)
        sim = strict.app.state.sim
        k = Ksef(strict)
        signed = sim.sign_as_trusted_profile(auth_xml(k.challenge()["challenge"], NIP), pesel=PERSON,
                                             given_name="Jan", surname="Kowalski")
        started = k.start_xades(signed)
        assert k.status(started)["status"]["code"] == expected
        if expected == 200:
            tokens = k.redeem(started).json()
            assert "CredentialsManage" in Permissions(strict, tokens).personal()["ownerPermissions"]


def test_a_wrong_owner_identifier_fails_at_start(make_client):
    import pytest

    with pytest.raises(ValueError, match="not a PESEL, NIP or certificate fingerprint"):
        make_client(mode="strict", owners={NIP: ["Jan Kowalski"]})


def test_seeding_helpers_and_persistence(tmp_path, clock):
    from starlette.testclient import TestClient

    state = tmp_path / "sim.json"
    app = create_app(fast_config(clock=clock, state_file=state))
    sim = app.state.sim
    employee = ("Pesel", PERSON)
    (entity,) = sim.grant_permissions(NIP, ("Nip", OTHER_NIP), ["InvoiceRead"], kind="entity", can_delegate=True)
    sim.grant_permissions(OTHER_NIP, employee, ["InvoiceRead"], kind="indirect", client_nip=NIP)
    assert sim.effective_permissions(employee, NIP) == ["InvoiceRead"]

    again = create_app(fast_config(clock=clock, state_file=state))
    assert again.state.sim.effective_permissions(employee, NIP) == ["InvoiceRead"]
    with TestClient(again, base_url="http://ksef.local/v2") as http:
        http.event_hooks = {"request": [], "response": [contract_hook]}
        assert Identity(pesel=PERSON).attempt(http, NIP)["code"] == 200
        office = Identity(nip=OTHER_NIP).permissions(http, OTHER_NIP)
        assert [p["permissionState"] for p in office.persons()["permissions"]] == ["Active"]
    assert again.state.sim.revoke_permission(entity) is True
    assert again.state.sim.effective_permissions(employee, NIP) == []
