"""Happy paths of both authentication methods, in-process and over loopback."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import NIP, OTHER_NIP
from .kclient import Ksef, auth_xml, bearer, new_key, self_signed, sign, subject

CHALLENGE_RE = re.compile(r"^\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$")


def test_challenge_shape(client):
    body = Ksef(client).challenge()
    assert CHALLENGE_RE.match(body["challenge"])
    assert TIMESTAMP_RE.match(body["timestamp"])
    assert isinstance(body["timestampMs"], int)


def test_public_keys_ids_are_sha256_of_der_and_spki(client):
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    keys = client.get("/security/public-key-certificates").json()
    assert {u for k in keys for u in k["usage"]} == {"KsefTokenEncryption", "SymmetricKeyEncryption"}
    for entry in keys:
        der = base64.b64decode(entry["certificate"])
        cert = x509.load_der_x509_certificate(der)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert entry["certificateId"] == base64.b64encode(hashlib.sha256(der).digest()).decode()
        assert entry["publicKeyId"] == base64.b64encode(hashlib.sha256(spki).digest()).decode()
        assert cert.public_key().key_size == 2048


def test_token_auth_redeem_once_refresh_sessions_revoke(client, sim):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead", "InvoiceWrite"], description="demo token")
    k = Ksef(client)
    started = k.start_token(token, NIP)
    status = k.status(started)
    assert status["status"] == {"code": 200, "description": "Uwierzytelnianie zakończone sukcesem"}
    assert status["authenticationMethod"] == "Token"
    assert status["authenticationMethodInfo"]["category"] == "Token"

    first = k.redeem(started)
    assert first.status_code == 200
    second = k.redeem(started)
    assert second.status_code == 400
    assert second.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 21301
    tokens = first.json()

    refreshed = client.post("/auth/token/refresh", headers=bearer(tokens, "refreshToken"))
    assert refreshed.status_code == 200
    new_access = refreshed.json()["accessToken"]["token"]
    assert new_access != tokens["accessToken"]["token"]

    sessions = client.get("/auth/sessions", headers={"Authorization": f"Bearer {new_access}"}).json()
    assert [i["isCurrent"] for i in sessions["items"]] == [True]
    assert sessions["items"][0]["isTokenRedeemed"] is True

    assert client.delete("/auth/sessions/current", headers=bearer(tokens)).status_code == 204
    again = client.post("/auth/token/refresh", headers=bearer(tokens, "refreshToken"))
    assert again.status_code == 400
    assert "425" in again.json()["exception"]["exceptionDetailList"][0]["details"][0]
    # access tokens already issued stay valid until they expire
    assert client.get("/tokens", headers=bearer(tokens)).status_code == 200
    assert k.status(started)["status"]["code"] == 425


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_xades_self_signed_seal_in_test_mode(client, kind):
    key = new_key(kind)
    cert = self_signed(subject(nip=NIP), key)
    tokens = Ksef(client).login_xades(key, cert, NIP)
    assert tokens["accessToken"]["token"].count(".") == 2


def test_xades_personal_tinpl_and_status_method(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP, person=True), key)
    k = Ksef(client)
    ch = k.challenge()
    started = k.start_xades(sign(auth_xml(ch["challenge"], NIP), key, cert))
    status = k.status(started)
    assert status["authenticationMethod"] == "QualifiedSignature"
    assert status["authenticationMethodInfo"] == {
        "category": "XadesSignature", "code": "xades.qualified-signature", "displayName": "Podpis kwalifikowany"
    }


def test_status_stays_100_until_delay_passes(make_client, clock):
    client = make_client(status_delay_s=5.0)
    sim = client.app.state.sim
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"])
    k = Ksef(client)
    started = k.start_token(token, NIP)
    assert k.status(started)["status"]["code"] == 100
    early = k.redeem(started)
    assert early.status_code == 400 and "(100)" in early.json()["exception"]["exceptionDetailList"][0]["details"][0]
    clock.advance(5.1)
    assert k.status(started)["status"]["code"] == 200


def test_sessions_pagination_and_revoke_by_reference(client, sim):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"])
    k = Ksef(client)
    logins = [k.login_token(token, NIP) for _ in range(12)]
    page = client.get("/auth/sessions", headers=bearer(logins[0])).json()
    assert len(page["items"]) == 10 and page["continuationToken"]
    rest = client.get("/auth/sessions", headers={**bearer(logins[0]), "x-continuation-token": page["continuationToken"]})
    assert len(rest.json()["items"]) == 2
    victim = page["items"][0]["referenceNumber"]
    assert client.delete(f"/auth/sessions/{victim}", headers=bearer(logins[0])).status_code == 204
    unknown = client.delete(f"/auth/sessions/{'20250514-AU-0000000000-0000000000-00'}", headers=bearer(logins[0]))
    assert unknown.status_code == 400  # 21405: the only code 2.9 lists here (the contract hook checks it)
    assert len(client.get("/auth/sessions", headers=bearer(logins[0]), params={"pageSize": 100}).json()["items"]) == 11


def test_owner_in_other_context_has_no_permissions_415(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key)
    k = Ksef(client)
    ch = k.challenge()
    started = k.start_xades(sign(auth_xml(ch["challenge"], OTHER_NIP), key, cert))
    status = k.status(started)["status"]
    assert status["code"] == 415 and status["details"] == ["Brak przypisanych uprawnień"]


def test_pesel_needs_person_link_or_grant(client):
    from .conftest import PESEL

    key = new_key("ec")
    cert = self_signed(subject(pesel=PESEL), key)
    k = Ksef(client)

    def attempt() -> int:
        ch = k.challenge()
        return k.status(k.start_xades(sign(auth_xml(ch["challenge"], NIP), key, cert)))["status"]["code"]

    assert attempt() == 415
    r = client.post("/testdata/person", json={"nip": NIP, "pesel": PESEL, "isBailiff": False, "description": "owner"})
    assert r.status_code == 200
    assert attempt() == 200
    client.post("/testdata/person/remove", json={"nip": NIP})
    assert attempt() == 415
    grant = {
        "contextIdentifier": {"type": "Nip", "value": NIP},
        "authorizedIdentifier": {"type": "Pesel", "value": PESEL},
        "permissions": [{"permissionType": "InvoiceRead", "description": "czytanie"}],
    }
    assert client.post("/testdata/permissions", json=grant).status_code == 200
    assert attempt() == 200
    client.post("/testdata/permissions/revoke", json={k_: grant[k_] for k_ in ("contextIdentifier", "authorizedIdentifier")})
    assert attempt() == 415


def test_fingerprint_needs_grant(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key)
    from cryptography.hazmat.primitives import hashes

    k = Ksef(client)

    def attempt() -> int:
        ch = k.challenge()
        xml = auth_xml(ch["challenge"], NIP, subject_type="certificateFingerprint")
        return k.status(k.start_xades(sign(xml, key, cert)))["status"]["code"]

    assert attempt() == 415
    client.post("/testdata/permissions", json={
        "contextIdentifier": {"type": "Nip", "value": NIP},
        "authorizedIdentifier": {"type": "Fingerprint", "value": cert.fingerprint(hashes.SHA256()).hex().upper()},
        "permissions": [{"permissionType": "InvoiceWrite", "description": "wysyłka"}],
    })
    assert attempt() == 200


def test_blocked_context_480(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key)
    k = Ksef(client)
    assert client.post("/testdata/context/block", json={"contextIdentifier": {"type": "Nip", "value": NIP}}).status_code == 200
    ch = k.challenge()
    assert k.status(k.start_xades(sign(auth_xml(ch["challenge"], NIP), key, cert)))["status"]["code"] == 480
    client.post("/testdata/context/unblock", json={"contextIdentifier": {"type": "Nip", "value": NIP}})
    assert k.login_xades(key, cert, NIP)


def test_token_and_xades_over_loopback(net_client, loopback):
    sim = loopback.sim
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="loopback")
    k = Ksef(net_client)
    assert k.login_token(token, NIP)["refreshToken"]["token"]
    key = new_key("ec")
    assert k.login_xades(key, self_signed(subject(nip=NIP), key), NIP)


async def test_async_httpx_asgi_transport(clock):
    from ksef_tui.simulator import create_app

    from .conftest import async_contract_hook, fast_config

    app = create_app(fast_config(clock=clock))
    token = app.state.sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim/v2",
                                 event_hooks={"response": [async_contract_hook]}) as http:
        ch = (await http.post("/auth/challenge")).json()
        keys = (await http.get("/security/public-key-certificates")).json()
        key = next(k for k in keys if "KsefTokenEncryption" in k["usage"])
        from .kclient import encrypt_token

        r = await http.post("/auth/ksef-token", json={
            "challenge": ch["challenge"], "contextIdentifier": {"type": "Nip", "value": NIP},
            "encryptedToken": encrypt_token(key["certificate"], token, ch["timestampMs"]),
        })
        assert r.status_code == 202
        auth = {"Authorization": f"Bearer {r.json()['authenticationToken']['token']}"}
        assert (await http.get(f"/auth/{r.json()['referenceNumber']}", headers=auth)).json()["status"]["code"] == 200
        assert (await http.post("/auth/token/redeem", headers=auth)).status_code == 200
