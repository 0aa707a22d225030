"""Credential loading (PEM, DER, PKCS#12), typed credential errors, signed-file checks."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import NIP, OTHER_NIP

from ksef_tui.domain.clock import system_clock  # the suite's now (KSEF_TUI_TEST_DAY moves it)
from ksef_tui.domain.secret import Secret
from ksef_tui.ksef import authxml
from ksef_tui.ksef.certificates import inspect_credential, load_credential, read_password
from ksef_tui.ksef.errors import CredentialError, SignedFileError
from ksef_tui.ksef.models import Challenge, Context
from ksef_tui.ksef.signedfile import MAX_SIGNED_FILE_BYTES, check_signed_file


def _objs(pair):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(pair[0])
    key = serialization.load_pem_private_key(pair[1].reveal(), None)
    return cert, key


def test_pem_facts(rsa_pair, seal_pair):
    facts = load_credential(cert_data=rsa_pair[0], key_data=rsa_pair[1].reveal()).facts
    assert facts.nip == NIP and facts.pesel is None and facts.identifier == f"TINPL-{NIP}" and not facts.is_seal
    assert facts.key_type == "RSA 2048" and facts.key_matches and facts.self_signed
    assert len(facts.fingerprint_sha256) == 64 and facts.serial_number.isalnum()
    now = system_clock()
    assert now - dt.timedelta(minutes=62) < facts.valid_from < now - dt.timedelta(minutes=60)
    assert 729 <= (facts.valid_to - facts.valid_from).days <= 730
    seal = load_credential(cert_data=seal_pair[0], key_data=seal_pair[1].reveal()).facts
    assert seal.is_seal and seal.nip == NIP and seal.identifier == f"VATPL-{NIP}" and seal.key_type == "EC P-256"
    assert "2.5.4.42" not in seal.subject


def test_pesel_certificate():
    from ksef_tui.ksef.testcert import make_test_certificate

    cert, key = make_test_certificate(pesel="44051401359", key="ec")
    facts = inspect_credential(cert_data=cert, key_data=key.reveal())
    assert facts.pesel == "44051401359" and facts.nip is None and facts.identifier == "PNOPL-44051401359"


def test_der_and_encrypted_pem_files(tmp_path, rsa_pair):
    from cryptography.hazmat.primitives import serialization

    cert, key = _objs(rsa_pair)
    (tmp_path / "c.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (tmp_path / "k.der").write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    cred = load_credential(cert_file=tmp_path / "c.der", key_file=tmp_path / "k.der")
    assert cred.facts.key_matches and b"BEGIN CERTIFICATE" in cred.certificate_pem
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                                       serialization.BestAvailableEncryption(b"tajne")))
    (tmp_path / "pw").write_text("tajne\n")
    cred = load_credential(cert_file=tmp_path / "c.der", key_file=tmp_path / "k.pem",
                           password=read_password(tmp_path / "pw"))
    assert cred.facts.key_matches
    with pytest.raises(CredentialError) as e:
        load_credential(cert_file=tmp_path / "c.der", key_file=tmp_path / "k.pem", password=Secret("zle"))
    assert e.value.code == "wrong-password" and "password" in str(e.value)
    with pytest.raises(CredentialError) as e:
        load_credential(cert_file=tmp_path / "c.der", key_file=tmp_path / "k.pem")
    assert e.value.code == "password-needed"
    # one PEM file holding both
    (tmp_path / "both.pem").write_bytes(rsa_pair[0] + rsa_pair[1].reveal())
    assert load_credential(cert_file=tmp_path / "both.pem").facts.key_matches


def test_pkcs12_with_password(tmp_path, ec_pair):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    cert, key = _objs(ec_pair)
    p12 = pkcs12.serialize_key_and_certificates(b"jan", key, cert, None, BestAvailableEncryption(b"haslo-123"))
    (tmp_path / "a.p12").write_bytes(p12)
    cred = load_credential(pkcs12_file=tmp_path / "a.p12", password=Secret("haslo-123"))
    assert cred.facts.nip == NIP and cred.facts.key_type == "EC P-256"
    with pytest.raises(CredentialError) as e:
        load_credential(pkcs12_file=tmp_path / "a.p12", password=Secret("wrong"))
    assert e.value.code == "wrong-password"
    assert str(e.value) == "The password does not open the PKCS#12 file."
    assert "Check the password file" in e.value.hint


def test_key_mismatch_expired_and_not_yet_valid(rsa_pair, ec_pair):
    from ksef_tui.ksef.testcert import make_test_certificate

    with pytest.raises(CredentialError) as e:
        load_credential(cert_data=rsa_pair[0], key_data=ec_pair[1].reveal())
    assert e.value.code == "key-mismatch" and "does not belong" in str(e.value)
    assert "private key that belongs" in e.value.hint
    facts = inspect_credential(cert_data=rsa_pair[0], key_data=ec_pair[1].reveal())
    assert facts.key_matches is False

    old = system_clock() - dt.timedelta(days=800)
    cert, key = make_test_certificate(nip=NIP, key="ec", now=old)
    with pytest.raises(CredentialError) as e:
        load_credential(cert_data=cert, key_data=key.reveal())
    assert e.value.code == "expired" and "expired on" in str(e.value)
    future = system_clock() + dt.timedelta(days=3)
    cert, key = make_test_certificate(nip=NIP, key="ec", now=future)
    with pytest.raises(CredentialError) as e:
        load_credential(cert_data=cert, key_data=key.reveal())
    assert e.value.code == "not-yet-valid"


def test_bad_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"not a certificate")
    with pytest.raises(CredentialError) as e:
        load_credential(cert_file=tmp_path / "junk", key_file=tmp_path / "junk")
    assert e.value.code == "bad-file"
    with pytest.raises(CredentialError) as e:
        load_credential(cert_file=tmp_path / "missing.pem", key_file=tmp_path / "junk")
    assert e.value.code == "bad-file" and "Cannot read" in str(e.value)
    with pytest.raises(CredentialError) as e:
        load_credential(pkcs12_data=b"garbage", password=Secret("x"))
    assert e.value.code == "bad-file"


def test_credential_never_shows_key(ec_cred):
    assert "PRIVATE" not in repr(ec_cred) and "PRIVATE" not in str(ec_cred)


# ----------------------------------------------------------------- signed files

def _challenge(ts: dt.datetime) -> Challenge:
    return Challenge(f"{ts:%Y%m%d}-CR-226FB7B000-3ACF9BE4C0-10", ts, int(ts.timestamp() * 1000))


@pytest.fixture
def signed(ec_cred):
    from ksef_tui.ksef.xades import sign_auth_request

    ch = _challenge(system_clock())
    return ch, sign_auth_request(authxml.build_auth_token_request(ch.challenge, Context.nip(NIP)), ec_cred)


def test_signed_file_ok(signed):
    ch, data = signed
    facts = check_signed_file(data, expected_challenge=ch, expected_context=Context.nip(NIP))
    assert facts.challenge == ch.challenge and facts.context == Context.nip(NIP) and facts.signatures == 1


def test_signed_file_wrong_challenge_context_and_expiry(signed):
    ch, data = signed
    other = Challenge(ch.challenge.replace("226FB7B000", "111111B000"), ch.timestamp, ch.timestamp_ms)
    with pytest.raises(SignedFileError) as e:
        check_signed_file(data, expected_challenge=other)
    assert e.value.code == "challenge-mismatch" and "signed for challenge" in str(e.value)
    assert "Sign the request file generated most recently" in e.value.hint
    with pytest.raises(SignedFileError) as e:
        check_signed_file(data, expected_context=Context.nip(OTHER_NIP))
    assert e.value.code == "context-mismatch" and OTHER_NIP in str(e.value)
    with pytest.raises(SignedFileError) as e:
        check_signed_file(data, expected_challenge=ch, now=ch.timestamp + dt.timedelta(minutes=10, seconds=1))
    assert e.value.code == "challenge-expired" and "expired" in str(e.value)
    assert "10 minutes" in e.value.hint


def test_unsigned_file_refused():
    xml = authxml.build_auth_token_request(_challenge(system_clock()).challenge, Context.nip(NIP))
    with pytest.raises(SignedFileError) as e:
        check_signed_file(xml)
    assert e.value.code == "unsigned"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0"><Challenge>&xxe;</Challenge></AuthTokenRequest>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0"><Challenge>&lol9;</Challenge></AuthTokenRequest>"""


@pytest.mark.parametrize("data", [XXE, LAUGHS, XXE.decode().encode("utf-16")], ids=["xxe", "billion-laughs", "utf16"])
def test_dtd_and_entities_refused_unread(data, monkeypatch):
    import lxml.etree

    def boom(*a, **k):  # the parser must never be reached
        raise AssertionError("parsed a document with a DTD")

    monkeypatch.setattr(lxml.etree, "fromstring", boom)
    with pytest.raises(SignedFileError) as e:
        check_signed_file(data)
    assert e.value.code == "unsafe-xml" and "DTD" in str(e.value)
    assert "DTD" in e.value.hint


def test_size_cap_and_not_xml():
    with pytest.raises(SignedFileError) as e:
        check_signed_file(b"<a>" + b" " * MAX_SIGNED_FILE_BYTES + b"</a>")
    assert e.value.code == "too-large"
    with pytest.raises(SignedFileError) as e:
        check_signed_file(b"\x89PNG not xml")
    assert e.value.code == "not-xml"
    with pytest.raises(SignedFileError) as e:
        check_signed_file(b"<Other xmlns='urn:x'/>")
    assert e.value.code == "not-auth-request"
