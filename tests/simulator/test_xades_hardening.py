"""XAdES the docs accept (RSA-PSS, ECDSA R||S) and signature wrapping refused (issue 11 item 6, issue 12 item 2).

The wrapped documents are real: signed properly by the test-side signer (kclient.xades_sign), so
every rejection below comes from the simulator's document rules, not from a broken signature.
"""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from .conftest import NIP, OTHER_NIP
from .kclient import Ksef, Ref, auth_xml, new_key, self_signed, sign, subject, xades_sign

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def exception_of(response) -> tuple[int, list[str]]:
    detail = response.json()["exception"]["exceptionDetailList"][0]
    return detail["exceptionCode"], detail["details"]


@pytest.fixture
def seal():
    key = new_key("rsa")
    return key, self_signed(subject(nip=NIP), key)


def login_status(k: Ksef, signed: bytes) -> dict:
    return k.status(k.start_xades(signed))


# -- algorithms the docs accept --------------------------------------------------------------------
@pytest.mark.parametrize("producer", ["signxml", "kclient"])
def test_rsa_pss_signature_authenticates(client, seal, producer):
    k = Ksef(client)
    xml = auth_xml(k.challenge()["challenge"], NIP)
    signed = sign(xml, *seal, pss=True) if producer == "signxml" else xades_sign(xml, *seal, pss=True)
    assert b"sha256-rsa-MGF1" in signed
    started = k.start_xades(signed)
    assert k.status(started)["status"]["code"] == 200
    assert k.redeem(started).status_code == 200


def test_ecdsa_signature_value_is_r_concatenated_with_s(client):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key)
    k = Ksef(client)
    assert login_status(k, xades_sign(auth_xml(k.challenge()["challenge"], NIP), key, cert))["status"]["code"] == 200
    der = xades_sign(auth_xml(k.challenge()["challenge"], NIP), key, cert, der_ecdsa=True)
    code, details = exception_of(k.start_xades(der, expect=400))
    assert code == 9105 and details[0] == "Podpis zweryfikowany negatywnie."


def test_key_value_naming_another_key_is_refused(client, seal):
    k = Ksef(client)
    signed = etree.fromstring(xades_sign(auth_xml(k.challenge()["challenge"], NIP), *seal))
    other = new_key("rsa").public_key().public_numbers()
    key_value = etree.SubElement(signed.find(f"{DS}Signature/{DS}KeyInfo"), f"{DS}KeyValue")
    rsa_value = etree.SubElement(key_value, f"{DS}RSAKeyValue")
    etree.SubElement(rsa_value, f"{DS}Modulus").text = base64.b64encode(other.n.to_bytes(256, "big")).decode()
    etree.SubElement(rsa_value, f"{DS}Exponent").text = "AQAB"
    code, details = exception_of(k.start_xades(etree.tostring(signed), expect=400))
    assert code == 9105 and "różne klucze" in details[1]


def test_extra_reference_to_harmless_object_is_accepted(client, seal):
    k = Ksef(client)
    note = etree.Element("Note", Id="note-1")
    note.text = "dowolna treść obok podpisu"
    signed = xades_sign(auth_xml(k.challenge()["challenge"], NIP), *seal,
                        references=[Ref("", enveloped=True), Ref("#note-1")], objects=[note])
    assert login_status(k, signed)["status"]["code"] == 200


# -- signature wrapping ----------------------------------------------------------------------------
def inner_request(challenge: str, nip: str = OTHER_NIP, *, namespace: str | None = None) -> etree._Element:
    xml = auth_xml(challenge, nip) if namespace is None else auth_xml(challenge, nip, namespace=namespace)
    element = etree.fromstring(xml)
    element.set("Id", "inner")
    return element


def test_second_signed_request_in_ds_object_is_refused_not_authenticated(client):
    """The attack of issue 12: the root names NIP A, a signed inner AuthTokenRequest names NIP B."""
    key = new_key("ec")
    cert = self_signed(subject(nip=OTHER_NIP), key)
    k = Ksef(client)
    challenge = k.challenge()["challenge"]
    signed = xades_sign(auth_xml(challenge, NIP), key, cert,
                        references=[Ref("", enveloped=True), Ref("#inner")], objects=[inner_request(challenge)])
    code, details = exception_of(k.start_xades(signed, expect=400))
    assert code == 9105
    assert details == ["Dokument musi być podpisany w całości jako jeden AuthTokenRequest (element główny).",
                       "Plik zawiera drugi element AuthTokenRequest (wewnątrz Object)."]


@pytest.mark.parametrize(
    ("case", "references", "namespace"),
    [
        ("unreferenced inner request", [Ref("", enveloped=True)], None),
        ("unsigned root, signed inner request", [Ref("#inner")], None),
        ("inner request in a foreign namespace", [Ref("", enveloped=True), Ref("#inner")], "urn:inny"),
    ],
)
def test_any_second_auth_token_request_is_refused(client, seal, case, references, namespace):
    k = Ksef(client)
    challenge = k.challenge()["challenge"]
    signed = xades_sign(auth_xml(challenge, NIP), *seal, references=references,
                        objects=[inner_request(challenge, namespace=namespace)])
    code, details = exception_of(k.start_xades(signed, expect=400))
    assert code == 9105 and "drugi element AuthTokenRequest" in details[1], case


def test_unsigned_root_is_refused(client, seal):
    k = Ksef(client)
    signed = xades_sign(auth_xml(k.challenge()["challenge"], NIP), *seal, references=[])
    code, details = exception_of(k.start_xades(signed, expect=400))
    assert code == 9105 and details[1] == 'Brak referencji (URI="") obejmującej cały dokument.'


def test_document_referenced_twice_is_refused(client, seal):
    k = Ksef(client)
    signed = xades_sign(auth_xml(k.challenge()["challenge"], NIP), *seal,
                        references=[Ref("", enveloped=True), Ref("", enveloped=True)])
    code, details = exception_of(k.start_xades(signed, expect=400))
    assert code == 9105 and details[1] == "Dokument jest wskazany przez 2 referencje."


def test_the_authenticated_context_is_the_root_s(client, seal):
    """A proper file: the operation is for the NIP of the root, the one the signature covers."""
    k = Ksef(client)
    signed = xades_sign(auth_xml(k.challenge()["challenge"], NIP), *seal)
    started = k.start_xades(signed)
    assert k.status(started)["status"]["code"] == 200
    tokens = k.redeem(started).json()
    sessions = client.get("/auth/sessions", headers={"Authorization": f"Bearer {tokens['accessToken']['token']}"})
    assert sessions.status_code == 200 and len(sessions.json()["items"]) == 1
    other = xades_sign(auth_xml(k.challenge()["challenge"], OTHER_NIP), *seal)
    assert login_status(k, other)["status"]["code"] == 415  # the seal of NIP has no rights in OTHER_NIP
