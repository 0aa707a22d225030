"""Keys, token encryption, AuthTokenRequest XML + XSD, XAdES produced, CSR subjects."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from conftest import NIP

from ksef_tui.domain.secret import Secret
from ksef_tui.ksef import authxml
from ksef_tui.ksef.errors import KsefError, KsefInputError
from ksef_tui.ksef.models import Context, EnrollmentData
from ksef_tui.ksef.public_keys import PublicKeyCert, encrypt_token, select_key

CHALLENGE = "20250604-CR-461EA5B000-537A6BA15D-D7"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _mf_cert(days_from: int, days_to: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ministerstwo Finansów")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW + dt.timedelta(days=days_from))
            .not_valid_after(NOW + dt.timedelta(days=days_to)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)


def _pk(der, vf, vt, usage, kid):
    return PublicKeyCert(der, kid, NOW + dt.timedelta(days=vf), NOW + dt.timedelta(days=vt), tuple(usage))


def test_key_selection_by_usage_validity_and_latest_valid_from():
    d = b"x"
    certs = [
        _pk(d, -100, 100, ["SymmetricKeyEncryption"], "sym"),
        _pk(d, -100, 100, ["KsefTokenEncryption"], "old"),
        _pk(d, -10, 100, ["KsefTokenEncryption", "SymmetricKeyEncryption"], "new"),
        _pk(d, 5, 100, ["KsefTokenEncryption"], "future"),
        _pk(d, -300, -1, ["KsefTokenEncryption"], "expired"),
    ]
    assert select_key(certs, now=NOW).public_key_id == "new"
    assert select_key(certs, "SymmetricKeyEncryption", now=NOW).public_key_id == "new"
    with pytest.raises(KsefError) as e:
        select_key(certs[:1], now=NOW)
    assert e.value.code == "no-public-key"


def test_public_key_cert_from_json():
    item = {"certificate": base64.b64encode(b"abc").decode(), "publicKeyId": "k" * 44,
            "validFrom": "2025-07-11T12:23:56.0154302+00:00", "validTo": "2027-07-11T12:23:56Z",
            "usage": ["KsefTokenEncryption"]}
    pk = PublicKeyCert.from_json(item)
    assert pk.certificate_der == b"abc" and pk.valid_from.year == 2025 and pk.usage == ("KsefTokenEncryption",)


def test_token_encryption_is_rsa_oaep_sha256_round_trip():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key, der = _mf_cert(-1, 100)
    pk = PublicKeyCert(der, "id", NOW, NOW, ("KsefTokenEncryption",))
    token = "20251010-EC-1234567890-ABCDEF0123-45|nip-5265877635|" + "ab" * 32
    enc = encrypt_token(Secret(token), 1752236636015, pk)
    raw = base64.b64decode(enc)
    assert len(raw) == 256
    plain = key.decrypt(raw, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    assert plain == f"{token}|1752236636015".encode()


def test_official_samples_validate(shared_dir):
    samples = sorted((shared_dir / "ksef" / "samples").glob("AuthTokenRequest-*.xml"))
    assert samples, "no official AuthTokenRequest samples in shared/ksef/samples"
    for sample in samples:
        assert authxml.validate(sample.read_bytes()) == "2.0", sample.name


@pytest.mark.parametrize("version", ["2.0", "2.1"])
@pytest.mark.parametrize("context", [Context.nip(NIP), Context.internal_id("5265877635-12345"),
                                     Context("NipVatUe", "5265877635-ATU12345678"), Context("PeppolId", "PAB123456")])
@pytest.mark.parametrize("subject", ["certificateSubject", "certificateFingerprint"])
def test_built_request_validates_against_both_xsds(version, context, subject):
    from lxml import etree

    xml = authxml.build_auth_token_request(CHALLENGE, context, subject_type=subject, schema_version=version,
                                           allowed_ips={"Ip4Address": ["10.1.2.3"], "Ip4Range": ["10.0.0.1-10.0.0.9"],
                                                        "Ip4Mask": ["192.168.0.0/16"]})
    assert xml.startswith(b"<?xml")
    root = etree.fromstring(xml)
    assert root.tag == f"{{{authxml.NAMESPACES[version]}}}AuthTokenRequest"
    assert [etree.QName(c).localname for c in root] == ["Challenge", "ContextIdentifier", "SubjectIdentifierType",
                                                       "AuthorizationPolicy"]
    assert authxml.schema(version).validate(root)


@pytest.mark.parametrize("challenge,context", [("bad", Context.nip(NIP)), (CHALLENGE, Context.nip("0123456789")),
                                               (CHALLENGE, Context("PeppolId", "X"))])
def test_invalid_request_refused_before_signing(challenge, context):
    with pytest.raises(KsefInputError) as e:
        authxml.build_auth_token_request(challenge, context)
    assert e.value.code == "schema" and "XSD" in str(e.value)


def _signature_value(signed: bytes) -> bytes:
    m = re.search(rb"<ds:SignatureValue>(.*?)</ds:SignatureValue>", signed, re.S)
    assert m
    return base64.b64decode(m.group(1))


@pytest.mark.parametrize("cred_name,sig_len", [("rsa_cred", 256), ("ec_cred", 64)])
def test_our_xades_verifies(cred_name, sig_len, request):
    from signxml import SignatureConfiguration
    from signxml.xades import XAdESVerifier

    from ksef_tui.ksef.xades import sign_auth_request

    cred = request.getfixturevalue(cred_name)
    xml = authxml.build_auth_token_request(CHALLENGE, Context.nip(NIP))
    signed = sign_auth_request(xml, cred)
    assert len(_signature_value(signed)) == sig_len  # EC P-256: raw R||S, 32 + 32 bytes
    from ksef_tui.domain.clock import system_clock

    results = XAdESVerifier().verify(signed, x509_cert=cred.certificate_pem.decode(),
                                     expect_config=SignatureConfiguration(expect_references=2,
                                                                          verification_time=system_clock()))
    assert len(results) == 2
    text = signed.decode()
    for needle in ("xmldsig#enveloped-signature", "xmlenc#sha256", "SigningTime", "SigningCertificate",
                   'Type="http://uri.etsi.org/01903#SignedProperties"'):
        assert needle in text
    alg = "rsa-sha256" if sig_len == 256 else "ecdsa-sha256"
    assert f"xmldsig-more#{alg}" in text
    assert authxml.validate(signed) == "2.0"  # still valid once the signature is set aside


def test_csr_subject_copies_enrollment_data_in_csharp_order():
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID

    from ksef_tui.ksef.csr import build_csr

    data = EnrollmentData(common_name="Jan Kowalski", country_name="PL", given_name="Jan", surname="Kowalski",
                          serial_number="TINPL-5265877635", organization_name="Firma Sp. z o.o.",
                          organization_identifier="VATPL-5265877635", unique_identifier="abc-123")
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    for key, key_cls in (("ec", ec.EllipticCurvePublicKey), ("rsa", rsa.RSAPublicKey)):
        res = build_csr(data, key=key)
        csr = x509.load_der_x509_csr(res.csr_der)
        assert csr.is_signature_valid
        assert isinstance(csr.public_key(), key_cls)
        attrs = list(csr.subject)
        assert [a.oid.dotted_string for a in attrs] == ["2.5.4.3", "2.5.4.4", "2.5.4.42", "2.5.4.10", "2.5.4.97",
                                                       "2.5.4.6", "2.5.4.5", "2.5.4.45"]
        assert [a.value for a in attrs] == ["Jan Kowalski", "Kowalski", "Jan", "Firma Sp. z o.o.", "VATPL-5265877635",
                                            "PL", "TINPL-5265877635", "abc-123"]
        types = {a.oid: a._type for a in attrs}
        assert types[NameOID.COUNTRY_NAME] == _ASN1Type.PrintableString
        assert types[NameOID.SERIAL_NUMBER] == _ASN1Type.PrintableString
        assert types[NameOID.COMMON_NAME] == _ASN1Type.UTF8String
        assert b"PRIVATE KEY" in res.private_key_pem.reveal() and "PRIVATE" not in repr(res)
    sparse = build_csr(EnrollmentData(common_name="X Y", country_name="PL"))
    assert [a.oid.dotted_string for a in x509.load_der_x509_csr(sparse.csr_der).subject] == ["2.5.4.3", "2.5.4.6"]
