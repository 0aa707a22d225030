"""Rejections of the XAdES endpoint (PROTOCOL.md §3.2) and certificate statuses (460)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import NIP
from .kclient import Ksef, auth_xml, new_key, self_signed, sign, subject


def code_of(response) -> int:
    return response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"]


@pytest.fixture
def seal():
    key = new_key("ec")
    return key, self_signed(subject(nip=NIP), key)


def test_one_changed_byte_gives_9105(client, seal):
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), *seal)
    position = signed.index(f"<Nip>{NIP}</Nip>".encode()) + len("<Nip>") + 9
    tampered = signed[:position] + b"6" + signed[position + 1 :]  # one byte: ...635 -> ...636
    assert len(tampered) == len(signed) and tampered != signed
    assert code_of(k.start_xades(tampered, expect=400)) == 9105


def test_unknown_challenge_21111(client, seal):
    signed = sign(auth_xml("20250101-CR-0000000000-0000000000-00", NIP), *seal)
    assert code_of(Ksef(client).start_xades(signed, expect=400)) == 21111


def test_challenge_used_twice_21111(client, seal):
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), *seal)
    k.start_xades(signed)
    assert code_of(k.start_xades(signed, expect=400)) == 21111


def test_expired_challenge_21111(client, seal, clock):
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), *seal)
    clock.advance(601)
    r = k.start_xades(signed, expect=400)
    assert code_of(r) == 21111 and "wygasło" in r.json()["exception"]["exceptionDetailList"][0]["details"][0]


def test_expired_certificate_460(client):
    key = new_key("rsa")
    now = datetime.now(UTC)
    cert = self_signed(subject(nip=NIP), key, not_before=now - timedelta(days=800), not_after=now - timedelta(days=1))
    k = Ksef(client)
    started = k.start_xades(sign(auth_xml(k.challenge()["challenge"], NIP), key, cert))
    status = k.status(started)["status"]
    assert status["code"] == 460
    assert status["description"] == "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu"
    assert status["details"] == ["Nieważny certyfikat."]


def test_strict_mode_rejects_self_signed_as_untrusted(make_client, seal):
    client = make_client(mode="strict")
    k = Ksef(client)
    started = k.start_xades(sign(auth_xml(k.challenge()["challenge"], NIP), *seal))
    assert k.status(started)["status"]["details"] == ["Niezaufany łańcuch certyfikatów."]


def test_verify_certificate_chain_query_in_test_mode(client, seal):
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), *seal)
    started = k.start_xades(signed, params={"verifyCertificateChain": "true"})
    assert k.status(started)["status"]["code"] == 460


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (subject(nip=NIP, serial="1111111111"), 21115),  # organizationIdentifier without VATPL-
        (subject(nip=NIP, person=True, serial="ABC-123"), 21115),
    ],
)
def test_bad_subject_attributes_21115(client, name, code):
    key = new_key("ec")
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), key, self_signed(name, key))
    assert code_of(k.start_xades(signed, expect=400)) == code


def test_wrong_content_type_415(client):
    r = client.post("/auth/xades-signature", content=b"<a/>", headers={"Content-Type": "application/json"})
    assert r.status_code == 415


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0"><Challenge>&x;</Challenge></AuthTokenRequest>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_dtd_and_entities_rejected(client, payload):
    r = Ksef(client).start_xades(payload, expect=400)
    detail = r.json()["exception"]["exceptionDetailList"][0]
    assert detail["exceptionCode"] == 21001 and "DTD" in detail["details"][0]
    assert b"root:" not in r.content


def test_oversize_and_garbage(client):
    k = Ksef(client)
    assert code_of(k.start_xades(b"<a>" + b"x" * 600_000 + b"</a>", expect=400)) == 21001
    assert code_of(k.start_xades(b"not xml at all", expect=400)) == 21001
    assert code_of(k.start_xades("<a>\u00e9</a>".encode("latin-1"), expect=400)) == 21217


def test_unsigned_9102_and_xsd_21401(client):
    k = Ksef(client)
    ch = k.challenge()["challenge"]
    assert code_of(k.start_xades(auth_xml(ch, NIP), expect=400)) == 9102
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key)
    bad = auth_xml(ch, NIP, subject_type="somethingElse")
    r = k.start_xades(sign(bad, key, cert), expect=400)
    assert code_of(r) == 21401


def test_problem_details_on_request(client):
    r = client.post("/auth/xades-signature", content=b"<x/>",
                    headers={"Content-Type": "application/xml", "X-Error-Format": "problem-details"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["code"] == 9101


def test_signature_without_signed_properties_rejected(client):
    """A plain XMLDSig (no XAdES SignedProperties) is not an accepted profile."""
    from lxml import etree
    from signxml import XMLSigner

    key = new_key("rsa")
    cert = self_signed(subject(nip=NIP), key)
    k = Ksef(client)
    root = etree.fromstring(auth_xml(k.challenge()["challenge"], NIP))
    signed = etree.tostring(XMLSigner().sign(root, key=key, cert=[cert]))
    r = k.start_xades(signed, expect=400)
    assert code_of(r) == 9105
