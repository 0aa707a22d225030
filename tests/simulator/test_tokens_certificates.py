"""KSeF token management and KSeF certificate enrollment."""

from __future__ import annotations

import base64

from cryptography import x509

from .conftest import NIP, OTHER_NIP
from .kclient import Ksef, auth_xml, bearer, csr_b64, new_key, pem_pair, self_signed, sign, subject


def code_of(response) -> int:
    return response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"]


def xades_login(client, nip=NIP, kind="ec"):
    key = new_key(kind)
    cert = self_signed(subject(nip=nip), key)
    return Ksef(client).login_xades(key, cert, nip)


def test_generate_pending_active_use_revoke(make_client, clock):
    client = make_client(token_activation_delay_s=3.0)
    owner = xades_login(client)
    r = client.post("/tokens", headers=bearer(owner),
                    json={"permissions": ["InvoiceRead", "InvoiceWrite"], "description": "Token do faktur"})
    assert r.status_code == 202
    ref, token = r.json()["referenceNumber"], r.json()["token"]
    assert token.startswith(ref + "|nip-" + NIP + "|")
    assert client.get(f"/tokens/{ref}", headers=bearer(owner)).json()["status"] == "Pending"

    k = Ksef(client)
    pending = k.status(k.start_token(token, NIP))["status"]
    assert pending["code"] == 450 and pending["details"] == ["Token nieaktywny."]

    clock.advance(3.5)
    assert client.get(f"/tokens/{ref}", headers=bearer(owner)).json()["status"] == "Active"
    session = k.login_token(token, NIP)
    listed = client.get("/tokens", headers=bearer(owner), params={"status": "Active", "description": "faktur"}).json()
    assert [t["referenceNumber"] for t in listed["tokens"]] == [ref]
    assert listed["tokens"][0]["lastUseDate"]

    # a token-authenticated caller sees only its own token and may not generate new ones
    assert [t["referenceNumber"] for t in client.get("/tokens", headers=bearer(session)).json()["tokens"]] == [ref]
    forbidden = client.post("/tokens", headers=bearer(session), json={"permissions": ["InvoiceRead"], "description": "nested"})
    assert forbidden.status_code == 403 and forbidden.json()["reasonCode"] == "auth-method-not-allowed"

    assert client.delete(f"/tokens/{ref}", headers=bearer(owner)).status_code == 204
    revoked = k.status(k.start_token(token, NIP))["status"]
    assert revoked["code"] == 450 and revoked["details"] == ["Token unieważniony."]
    refresh = client.post("/auth/token/refresh", headers=bearer(session, "refreshToken"))
    assert refresh.status_code == 400 and "unieważniony" in refresh.json()["exception"]["exceptionDetailList"][0]["details"][0]


def test_wrong_token_other_context_bad_time_and_key(client, sim):
    k = Ksef(client)
    assert k.status(k.start_token("nonsense-token", NIP))["status"]["details"] == ["Nieprawidłowy token."]
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"])
    other = k.status(k.start_token(token, OTHER_NIP))["status"]
    assert other["code"] == 450 and other["details"] == [f"Token nie może być użyty w kontekście {OTHER_NIP}."]
    ch = k.challenge()
    wrong_time = k.status(k.start_token(token, NIP, challenge=ch, timestamp_ms=ch["timestampMs"] - 1))["status"]
    assert wrong_time["details"] == ["Nieprawidłowy czas tokena."]
    ch = k.challenge()
    body = {"challenge": ch["challenge"], "contextIdentifier": {"type": "Nip", "value": NIP},
            "encryptedToken": base64.b64encode(b"x" * 256).decode(), "publicKeyId": "A" * 43 + "="}
    r = client.post("/auth/ksef-token", json=body)
    assert r.status_code == 400 and code_of(r) == 21470
    body["challenge"] = k.challenge()["challenge"]
    del body["publicKeyId"]
    bad = client.post("/auth/ksef-token", json=body)
    assert k.status(bad)["status"]["details"] == ["Nieprawidłowe szyfrowanie tokena."]


def test_token_permissions_subset_26001(client):
    client.post("/testdata/permissions", json={
        "contextIdentifier": {"type": "Nip", "value": OTHER_NIP},
        "authorizedIdentifier": {"type": "Nip", "value": NIP},
        "permissions": [{"permissionType": "InvoiceRead", "description": "czytanie"}],
    })
    delegate = xades_login(client, nip=NIP) and Ksef(client)
    key = new_key("ec")
    tokens = delegate.login_xades(key, self_signed(subject(nip=NIP), key), OTHER_NIP)
    r = client.post("/tokens", headers=bearer(tokens), json={"permissions": ["InvoiceWrite"], "description": "za dużo"})
    assert r.status_code == 400 and code_of(r) == 26001
    ok = client.post("/tokens", headers=bearer(tokens), json={"permissions": ["InvoiceRead"], "description": "w sam raz"})
    assert ok.status_code == 202


def test_enrollment_retrieve_and_login_in_strict_mode(make_client, clock):
    strict = make_client(mode="strict", enrollment_delay_s=2.0)
    sim = strict.app.state.sim
    # In strict mode the first XAdES login uses a certificate of the simulator's own PKI.
    first_pem, first_key_pem = sim.issue_ksef_certificate(nip=NIP, key="rsa")
    cert, key = pem_pair(first_pem, first_key_pem)
    k = Ksef(strict)
    session = k.login_xades(key, cert, NIP)

    data = strict.get("/certificates/enrollments/data", headers=bearer(session)).json()
    assert data["organizationIdentifier"] == f"VATPL-{NIP}"
    limits = strict.get("/certificates/limits", headers=bearer(session)).json()
    assert limits["canRequest"] is True

    new = new_key("ec")
    wrong = dict(data, commonName="Someone Else")
    r = strict.post("/certificates/enrollments", headers=bearer(session),
                    json={"certificateName": "Zly certyfikat", "certificateType": "Authentication", "csr": csr_b64(wrong, new)})
    assert r.status_code == 400 and code_of(r) == 25003
    weak = __import__("cryptography.hazmat.primitives.asymmetric.rsa", fromlist=["rsa"]).generate_private_key(65537, 3072)
    r = strict.post("/certificates/enrollments", headers=bearer(session),
                    json={"certificateName": "Duzy klucz", "certificateType": "Authentication", "csr": csr_b64(data, weak)})
    assert code_of(r) == 25010

    r = strict.post("/certificates/enrollments", headers=bearer(session),
                    json={"certificateName": "Certyfikat biura", "certificateType": "Authentication", "csr": csr_b64(data, new)})
    assert r.status_code == 202
    ref = r.json()["referenceNumber"]
    assert strict.get(f"/certificates/enrollments/{ref}", headers=bearer(session)).json()["status"]["code"] == 100
    clock.advance(2.5)
    status = strict.get(f"/certificates/enrollments/{ref}", headers=bearer(session)).json()
    assert status["status"]["code"] == 200
    serial = status["certificateSerialNumber"]

    got = strict.post("/certificates/retrieve", headers=bearer(session), json={"certificateSerialNumbers": [serial]}).json()
    issued = x509.load_der_x509_certificate(base64.b64decode(got["certificates"][0]["certificate"]))
    assert issued.issuer.rfc4514_string() == "CN=TEST CCK KSeF,OU=Krajowa Administracja Skarbowa,O=Ministerstwo Finansów,C=PL"
    assert issued.subject == x509.load_der_x509_csr(base64.b64decode(csr_b64(data, new))).subject
    assert f"{issued.serial_number:016X}" == serial
    assert (issued.not_valid_after_utc - issued.not_valid_before_utc).days in (730, 731)

    enrolled = k.login_xades(new, issued, NIP)
    status = k.status(k.start_xades(sign(auth_xml(k.challenge()["challenge"], NIP), new, issued)))
    assert status["authenticationMethod"] == "InternalCertificate"

    query = strict.post("/certificates/query", headers=bearer(enrolled), json={"status": "Active"}).json()
    assert serial in [c["certificateSerialNumber"] for c in query["certificates"]]

    assert strict.post(f"/certificates/{serial}/revoke", headers=bearer(session),
                       json={"revocationReason": "Superseded"}).status_code == 204
    again = strict.post(f"/certificates/{serial}/revoke", headers=bearer(session), json={})
    assert code_of(again) == 25009
    revoked = k.status(k.start_xades(sign(auth_xml(k.challenge()["challenge"], NIP), new, issued)))["status"]
    assert revoked["code"] == 460 and revoked["details"] == ["Certyfikat odwołany."]


def test_enrollment_not_for_token_sessions(client, sim):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"])
    session = Ksef(client).login_token(token, NIP)
    assert code_of(client.get("/certificates/enrollments/data", headers=bearer(session))) == 25001
    r = client.post("/certificates/enrollments", headers=bearer(session),
                    json={"certificateName": "Nie wolno", "certificateType": "Authentication", "csr": "AAAA"})
    assert code_of(r) == 25002


def test_trusted_profile_signer_in_strict_mode(make_client):
    from .conftest import PESEL

    strict = make_client(mode="strict")
    sim = strict.app.state.sim
    # strict mode has no /testdata API (like DEMO/PRODUCTION): seed from Python
    sim.testdata_person({"nip": NIP, "pesel": PESEL, "isBailiff": False, "description": "właściciel"})
    k = Ksef(strict)
    signed = sim.sign_as_trusted_profile(auth_xml(k.challenge()["challenge"], NIP), pesel=PESEL,
                                         given_name="Jan", surname="Kowalski")
    started = k.start_xades(signed)
    status = k.status(started)
    assert status["status"]["code"] == 200
    assert status["authenticationMethod"] == "TrustedProfile"
    assert k.redeem(started).status_code == 200
