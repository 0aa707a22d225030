"""What API 2.9.0 added or changed for the operations the simulator serves (PROTOCOL.md §18).

Every response here passes the contract hook (``openapi-v2.9.0.json``) of the ``client`` fixture.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ksef_tui.simulator.ids import ksef_timestamp

from .conftest import NIP, OTHER_NIP
from .kclient import Ksef, auth_xml, bearer, new_key, pem_pair, self_signed, sign, subject


def code_of(response) -> int:
    return response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"]


def details_of(response) -> list[str]:
    return response.json()["exception"]["exceptionDetailList"][0]["details"]


def seal_login(client, nip: str = NIP) -> dict:
    key = new_key("ec")
    return Ksef(client).login_xades(key, self_signed(subject(nip=nip), key), nip)


# -- CollectiveIdentifierManage ------------------------------------------------------------------
def test_token_with_collective_identifier_manage(client):
    owner = seal_login(client)
    r = client.post("/tokens", headers=bearer(owner),
                    json={"permissions": ["InvoiceRead", "CollectiveIdentifierManage"], "description": "Zbiorcze"})
    assert r.status_code == 202
    session = Ksef(client).login_token(r.json()["token"], NIP)
    listed = client.get("/tokens", headers=bearer(session)).json()["tokens"]
    assert listed[0]["requestedPermissions"] == ["InvoiceRead", "CollectiveIdentifierManage"]


def test_testdata_grant_of_collective_identifier_manage_lets_a_fingerprint_in(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=OTHER_NIP), key)
    from cryptography.hazmat.primitives import hashes

    grant = {
        "contextIdentifier": {"type": "Nip", "value": NIP},
        "authorizedIdentifier": {"type": "Fingerprint", "value": cert.fingerprint(hashes.SHA256()).hex().upper()},
        "permissions": [{"permissionType": "CollectiveIdentifierManage", "description": "identyfikatory"}],
    }
    assert client.post("/testdata/permissions", json=grant).status_code == 200
    session = Ksef(client).login_xades(key, cert, NIP, subject_type="certificateFingerprint")
    r = client.post("/tokens", headers=bearer(session),
                    json={"permissions": ["CollectiveIdentifierManage"], "description": "tylko zbiorcze"})
    assert r.status_code == 202
    too_much = client.post("/tokens", headers=bearer(session),
                           json={"permissions": ["InvoiceRead"], "description": "za dużo"})
    assert code_of(too_much) == 26001


# -- request limits --------------------------------------------------------------------------------
def test_rate_limits_have_the_2_8_groups_and_raised_session_close_limits(client):
    limits = client.get("/rate-limits", headers=bearer(seal_login(client))).json()
    assert limits["onlineSessionClose"] == {"perSecond": 20, "perMinute": 60, "perHour": 240}
    assert limits["batchSessionClose"] == {"perSecond": 20, "perMinute": 40, "perHour": 120}
    assert limits["collectiveIdentifier"] == {"perSecond": 20, "perMinute": 120, "perHour": 240}
    assert limits["anonymous"] == {"perSecond": 60, "perMinute": -1, "perHour": -1}
    assert limits["global"] == {"perSecond": 75, "perMinute": -1, "perHour": -1}
    assert limits["other"] == {"perSecond": 10, "perMinute": 30, "perHour": 120}


def test_rate_limit_override_needs_collective_identifier_and_leaves_fixed_groups(client):
    session = seal_login(client)
    groups = ["onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList", "sessionInvoiceList",
              "sessionMisc", "invoiceMetadata", "invoiceExport", "invoiceExportStatus", "invoiceDownload", "other"]
    values = {g: {"perSecond": 1, "perMinute": 2, "perHour": 3} for g in groups}
    missing = client.post("/testdata/rate-limits", headers=bearer(session), json={"rateLimits": values})
    assert missing.status_code == 400 and code_of(missing) == 21405
    assert "collectiveIdentifier" in details_of(missing)[0]

    values["collectiveIdentifier"] = {"perSecond": 4, "perMinute": -1, "perHour": 6}
    assert client.post("/testdata/rate-limits", headers=bearer(session), json={"rateLimits": values}).status_code == 200
    limits = client.get("/rate-limits", headers=bearer(session)).json()
    assert limits["other"] == {"perSecond": 1, "perMinute": 2, "perHour": 3}
    assert limits["collectiveIdentifier"] == {"perSecond": 4, "perMinute": -1, "perHour": 6}
    assert limits["onlineSessionClose"]["perSecond"] == 20 and limits["global"]["perSecond"] == 75

    assert client.delete("/testdata/rate-limits", headers=bearer(session)).status_code == 200
    assert client.get("/rate-limits", headers=bearer(session)).json()["other"]["perSecond"] == 10


def test_minus_one_means_no_limit_in_that_window(make_client, clock):
    client = make_client(rate_limits=True)
    session = seal_login(client)
    groups = ["onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList", "sessionInvoiceList",
              "sessionMisc", "invoiceMetadata", "invoiceExport", "invoiceExportStatus", "invoiceDownload",
              "collectiveIdentifier"]
    values = {g: {"perSecond": 10, "perMinute": 30, "perHour": 120} for g in groups}
    values["other"] = {"perSecond": 2, "perMinute": -1, "perHour": -1}
    assert client.post("/testdata/rate-limits", headers=bearer(session), json={"rateLimits": values}).status_code == 200
    clock.advance(1.01)
    for _ in range(40):  # 40 a minute is over the production 30/min, fine without a minute limit
        assert [client.get("/tokens", headers=bearer(session)).status_code for _ in range(2)] == [200, 200]
        clock.advance(1.01)
    codes = [client.get("/tokens", headers=bearer(session)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize("enforced", [True, False])
def test_global_limit_per_ip_covers_every_group(make_client, clock, enforced):
    client = make_client(rate_limits=True, global_rate_limit=enforced)
    first, second = seal_login(client), seal_login(client, OTHER_NIP)
    clock.advance(1.01)
    codes = [client.post("/auth/challenge").status_code for _ in range(55)]
    codes += [client.get("/tokens", headers=bearer(session)).status_code for session in (first, second) for _ in range(10)]
    assert codes == [200] * 75  # every group (anonymous 60/s, other 10/s per context) is within its limit
    over = client.post("/auth/challenge")
    assert over.status_code == (429 if enforced else 200)  # the 76th request of this IP in one second
    clock.advance(1.01)
    assert client.post("/auth/challenge").status_code == 200


# -- /limits/context, /limits/subject and their test-data overrides --------------------------------
def test_context_limits_default_override_and_reset(client):
    session = seal_login(client)
    defaults = client.get("/limits/context", headers=bearer(session)).json()
    assert defaults["collectiveIdentifier"] == {"maxInvoices": 500}
    assert defaults["onlineSession"]["maxInvoices"] == 10000
    body = {
        "onlineSession": {"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 7},
        "batchSession": {"maxInvoiceSizeInMB": 5, "maxInvoiceWithAttachmentSizeInMB": 10, "maxInvoices": 100000},
        "collectiveIdentifier": {"maxInvoices": 2},
    }
    assert client.post("/testdata/limits/context/session", headers=bearer(session), json=body).status_code == 200
    assert client.get("/limits/context", headers=bearer(session)).json() == body
    other = seal_login(client, OTHER_NIP)
    assert client.get("/limits/context", headers=bearer(other)).json() == defaults  # per context

    too_few = dict(body, collectiveIdentifier={"maxInvoices": 1})
    r = client.post("/testdata/limits/context/session", headers=bearer(session), json=too_few)
    assert code_of(r) == 21405 and "2-5000" in details_of(r)[0]
    without = {k: body[k] for k in ("onlineSession", "batchSession")}
    assert code_of(client.post("/testdata/limits/context/session", headers=bearer(session), json=without)) == 21405

    assert client.delete("/testdata/limits/context/session", headers=bearer(session)).status_code == 200
    assert client.get("/limits/context", headers=bearer(session)).json() == defaults


def test_subject_certificate_limits_override_is_what_enrollment_checks(client, sim):
    session = seal_login(client)
    assert client.get("/limits/subject", headers=bearer(session)).json() == {
        "enrollment": {"maxEnrollments": 300}, "certificate": {"maxCertificates": 100}}
    wrong = client.post("/testdata/limits/subject/certificate", headers=bearer(session),
                        json={"subjectIdentifierType": "Pesel", "certificate": {"maxCertificates": 1}})
    assert code_of(wrong) == 21405
    r = client.post("/testdata/limits/subject/certificate", headers=bearer(session),
                    json={"subjectIdentifierType": "Nip", "certificate": {"maxCertificates": 1}})
    assert r.status_code == 200
    assert client.get("/limits/subject", headers=bearer(session)).json()["certificate"] == {"maxCertificates": 1}
    sim.issue_ksef_certificate(nip=NIP)
    limits = client.get("/certificates/limits", headers=bearer(session)).json()
    assert limits["canRequest"] is False and limits["certificate"] == {"remaining": 0, "limit": 1}

    assert client.delete("/testdata/limits/subject/certificate", headers=bearer(session)).status_code == 200
    assert client.get("/certificates/limits", headers=bearer(session)).json()["certificate"]["limit"] == 100


# -- PUT /testdata/certificates/{serialNumber} -----------------------------------------------------
def test_shortened_certificate_is_expired_and_fails_authentication(client, sim, clock):
    session = seal_login(client)
    cert_pem, key_pem = sim.issue_ksef_certificate(nip=NIP, key="ec")
    cert, key = pem_pair(cert_pem, key_pem)
    serial = f"{cert.serial_number:016X}"
    k = Ksef(client)
    assert k.login_xades(key, cert, NIP)  # valid for two years

    later = ksef_timestamp(cert.not_valid_after_utc + timedelta(days=1))
    r = client.put(f"/testdata/certificates/{serial}", headers=bearer(session), json={"validTo": later})
    assert code_of(r) == 21405 and "nie może być późniejsza" in details_of(r)[0]
    assert code_of(client.put(f"/testdata/certificates/{'0' * 16}", headers=bearer(session),
                              json={"validTo": ksef_timestamp(clock.now())})) == 25008
    assert code_of(client.put(f"/testdata/certificates/{serial}", headers=bearer(session), json={})) == 21405

    r = client.put(f"/testdata/certificates/{serial}", headers=bearer(session),
                   json={"validTo": ksef_timestamp(clock.now() + timedelta(minutes=5))})
    assert r.status_code == 200
    query = client.post("/certificates/query", headers=bearer(session), json={"certificateSerialNumber": serial})
    assert query.json()["certificates"][0]["status"] == "Active"
    clock.advance(301)
    query = client.post("/certificates/query", headers=bearer(session), json={"certificateSerialNumber": serial})
    assert query.json()["certificates"][0]["status"] == "Expired"
    assert client.post("/certificates/query", headers=bearer(session), json={"status": "Expired"}).json()[
        "certificates"][0]["certificateSerialNumber"] == serial
    started = k.start_xades(sign(auth_xml(k.challenge()["challenge"], NIP), key, cert))
    status = k.status(started)["status"]
    assert status["code"] == 460 and status["details"] == ["Nieważny certyfikat."]


def test_certificate_update_not_for_token_sessions(client, sim):
    session = Ksef(client).login_token(sim.issue_ksef_token(NIP), NIP)
    r = client.put(f"/testdata/certificates/{'0' * 16}", headers=bearer(session), json={"validTo": "2026-01-01T00:00:00Z"})
    assert r.status_code == 403 and r.json()["reasonCode"] == "auth-method-not-allowed"


# -- unreadable content ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "needs_session"),
    [
        ("POST", "/auth/ksef-token", False),
        ("POST", "/tokens", True),
        ("POST", "/certificates/enrollments", True),
        ("POST", "/certificates/retrieve", True),
        ("POST", "/certificates/query", True),
        ("POST", "/certificates/0123456789ABCDEF/revoke", True),
    ],
)
def test_unreadable_json_is_21001_where_2_9_lists_it(client, method, path, needs_session):
    headers = {"Content-Type": "application/json"}
    if needs_session:
        headers.update(bearer(seal_login(client)))
    for body in (b'{"challenge": ', b"\xff\xfe{}", b'{"a": NaN}', b"[" * 5000 + b"]" * 5000, b'{"n": 1' + b"0" * 5000 + b"}"):
        r = client.request(method, path, content=body, headers=headers)
        assert r.status_code == 400 and code_of(r) == 21001, (path, body[:20], r.text)


def test_unreadable_json_on_testdata_is_21405(client):
    r = client.post("/testdata/person", content=b'{"nip": "', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and code_of(r) == 21405 and "JSON" in details_of(r)[0]


def test_page_size_that_is_not_a_number_is_unreadable(client):
    session = seal_login(client)
    assert code_of(client.get("/tokens", params={"pageSize": "dziesięć"}, headers=bearer(session))) == 21001
    assert code_of(client.get("/auth/sessions", params={"pageSize": "1e3"}, headers=bearer(session))) == 21001
    assert code_of(client.get("/tokens", params={"pageSize": "5"}, headers=bearer(session))) == 21405


# -- warnings and faults ---------------------------------------------------------------------------
def test_test_system_warning_is_echoed_ascii_folded(client):
    r = client.post("/auth/challenge", headers={"X-Test-System-Warning": "[sig-001]: Podpis niezgodny z profilem"})
    assert r.headers["X-System-Warning"] == "[sig-001]: Podpis niezgodny z profilem"
    folded = client.get("/security/public-key-certificates",
                        headers={"X-Test-System-Warning": "[t-1]: Zażółć gęślą jaźń".encode()})
    assert folded.headers["X-System-Warning"] == "[t-1]: Zazolc gesla jazn"
    assert "X-System-Warning" not in client.post("/auth/challenge").headers


def test_no_warning_echo_and_no_testdata_in_strict_mode(make_client):
    strict = make_client(mode="strict")
    r = strict.post("/auth/challenge", headers={"X-Test-System-Warning": "[x]: y"})
    assert r.status_code == 200 and "X-System-Warning" not in r.headers
    for method, path in [("POST", "/testdata/person"), ("POST", "/testdata/context/block"),
                         ("POST", "/testdata/rate-limits"), ("PUT", f"/testdata/certificates/{'0' * 16}"),
                         ("POST", "/testdata/limits/context/session")]:
        r = strict.request(method, path, json={})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), path


def test_fault_injection_answers_21184(client, sim):
    from .conftest import check_contract

    # an injected fault is outside what the spec lists for /tokens: check the shape, not the code
    client.event_hooks["response"] = [lambda r: (r.read(), check_contract(r, codes=False))]
    sim.faults.error("/tokens", 21184, ["Trwają prace serwisowe i sesja jest tymczasowo niedostępna."], times=2)
    session = seal_login(client)
    r = client.get("/tokens", headers=bearer(session))
    assert r.status_code == 400 and code_of(r) == 21184
    assert r.json()["exception"]["exceptionDetailList"][0]["exceptionDescription"] == "Sesja tymczasowo niedostępna."
    problem = client.get("/tokens", headers={**bearer(session), "X-Error-Format": "problem-details"})
    assert problem.json()["errors"][0]["code"] == 21184
    assert client.get("/tokens", headers=bearer(session)).status_code == 200
