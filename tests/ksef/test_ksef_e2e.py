"""End to end over a real loopback socket against the project's KSeF simulator."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from conftest import NIP, OTHER_NIP

from ksef_tui.domain.clock import system_clock  # the suite's now (KSEF_TUI_TEST_DAY moves it)
from ksef_tui.domain.secret import Secret
from ksef_tui.ksef.certificates import load_credential
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import (
    CredentialError,
    KsefAuthFailed,
    KsefHttpError,
    KsefTimeout,
    SignedFileError,
)
from ksef_tui.ksef.gateway import GatewayPolicy, KsefGateway
from ksef_tui.ksef.http import HttpPolicy
from ksef_tui.ksef.models import Context
from ksef_tui.ksef.public_keys import KeyCache
from ksef_tui.ksef.testcert import make_test_certificate

PESEL = "44051401359"


class Recorder(list):
    def __call__(self, sent) -> None:
        self.append(sent)

    def count(self, method: str, path: str) -> int:  # type: ignore[override]
        return sum(1 for s in self if s.method == method and s.path == path)


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def gw_factory(server, rec):
    def make(**policy) -> KsefGateway:
        return KsefGateway(Endpoint.custom(server.base_url), observer=rec, key_cache=KeyCache(),
                           policy=GatewayPolicy(**policy))
    return make


def _pem_cred(pair):
    return load_credential(cert_data=pair[0], key_data=pair[1].reveal())


# ------------------------------------------------------------------------- happy paths

async def test_token_authorization(sim, gw_factory):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="e2e token")
    steps: list[str] = []
    async with gw_factory() as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), Secret(token), progress=steps.append)
    assert steps == ["challenge", "encrypted", "sent", "status", "redeemed"]
    assert session.method == "token" and session.context == Context.nip(NIP)
    assert session.access_valid_until > system_clock()
    assert token not in repr(session)


@pytest.mark.parametrize("key", ["rsa", "ec"])
async def test_certificate_authorization_pem(key, gw_factory):
    cred = _pem_cred(make_test_certificate(nip=NIP, key=key))
    async with gw_factory() as gw:
        session = await gw.authorize_with_certificate(Context.nip(NIP), cred)
    assert session.method == "certificate" and session.ksef_method


async def test_certificate_authorization_pkcs12_with_password(tmp_path, rsa_pair, gw_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    cert = x509.load_pem_x509_certificate(rsa_pair[0])
    key = serialization.load_pem_private_key(rsa_pair[1].reveal(), None)
    (tmp_path / "a.p12").write_bytes(pkcs12.serialize_key_and_certificates(b"a", key, cert, None,
                                                                           BestAvailableEncryption(b"p@ss")))
    cred = load_credential(pkcs12_file=tmp_path / "a.p12", password=Secret("p@ss"))
    async with gw_factory() as gw:
        session = await gw.authorize_with_certificate(Context.nip(NIP), cred)
    assert session.reference_number


async def _grant_person(server, nip: str, pesel: str) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(server.base_url + "/testdata/person",
                         json={"nip": nip, "pesel": pesel, "isBailiff": False, "description": "e2e person"})
        assert r.status_code < 300 or "30001" in r.text, r.text  # 30001: already granted


async def test_signed_file_authorization(server, sim, gw_factory):
    await _grant_person(server, NIP, PESEL)
    async with gw_factory() as gw:
        req = await gw.prepare_signed_file_request(Context.nip(NIP))
        assert req.expires_at == req.challenge.timestamp + dt.timedelta(minutes=10)
        signed = sim.sign_as_trusted_profile(req.xml, pesel=PESEL, given_name="Anna", surname="Nowak")
        session = await gw.authorize_with_signed_file(signed, expected_challenge=req.challenge,
                                                      expected_context=Context.nip(NIP))
    assert session.method == "signed-file"


async def test_refresh_and_revoke(ec_pair, gw_factory):
    async with gw_factory() as gw:
        session = await gw.authorize_with_certificate(Context.nip(NIP), _pem_cred(ec_pair))
        newer = await gw.refresh(session)
        assert newer.access_token != session.access_token
        sessions = await gw.list_sessions(newer)
        assert any(s.is_current and s.reference_number == session.reference_number for s in sessions)
        await gw.revoke_current(newer)
        with pytest.raises(KsefHttpError) as e:
            await gw.refresh(newer)
    assert e.value.code == 21301 and "Log in again" in e.value.hint


async def test_token_generate_active_authorize_revoke(seal_pair, gw_factory):
    async with gw_factory() as gw:
        owner = await gw.authorize_with_certificate(Context.nip(NIP), _pem_cred(seal_pair))
        generated = await gw.generate_token(owner, ["InvoiceRead", "InvoiceWrite"], "token from e2e test")
        info = await gw.wait_token_active(owner, generated.reference_number)
        assert info.status == "Active" and set(info.permissions) == {"InvoiceRead", "InvoiceWrite"}
        assert any(t.reference_number == generated.reference_number for t in await gw.list_tokens(owner))
        session = await gw.authorize_with_token(Context.nip(NIP), generated.token)
        assert session.method == "token"
        await gw.revoke_token(owner, generated.reference_number)
        with pytest.raises(KsefAuthFailed) as e:
            await gw.authorize_with_token(Context.nip(NIP), generated.token)
    assert e.value.code == 450 and "KSeF token is wrong, revoked" in e.value.hint


async def test_certificate_enrollment_then_authorize_with_it(seal_pair, gw_factory):
    async with gw_factory() as gw:
        owner = await gw.authorize_with_certificate(Context.nip(NIP), _pem_cred(seal_pair))
        limits = await gw.certificate_limits(owner)
        assert limits.can_request
        cert, key = await gw.request_certificate(owner, "Certyfikat e2e")
        cred = load_credential(cert_data=cert.pem, key_data=key.reveal())
        assert cred.facts.nip == NIP and not cred.facts.self_signed
        session = await gw.authorize_with_certificate(Context.nip(NIP), cred)
        assert session.method == "certificate"
        found, _more = await gw.query_certificates(owner, serial_number=cert.serial_number)
        assert [c.serial_number for c in found] == [cert.serial_number]
        await gw.revoke_certificate(owner, cert.serial_number, "Superseded")


# ------------------------------------------------------------------------------ negatives

async def test_signed_file_with_one_byte_changed(server, sim, gw_factory):
    import re

    await _grant_person(server, NIP, PESEL)
    async with gw_factory() as gw:
        req = await gw.prepare_signed_file_request(Context.nip(NIP))
        signed = sim.sign_as_trusted_profile(req.xml, pesel=PESEL, given_name="Anna", surname="Nowak")
        m = re.search(rb"<ds:SignatureValue[^>]*>\s*(.)", signed)
        i = m.start(1)
        tampered = signed[:i] + (b"A" if signed[i:i + 1] != b"A" else b"B") + signed[i + 1:]
        with pytest.raises((KsefAuthFailed, KsefHttpError)) as e:
            await gw.authorize_with_signed_file(tampered, expected_challenge=req.challenge,
                                                expected_context=Context.nip(NIP))
    assert e.value.code in (9105, 460, 21001)
    assert "KSeF" in str(e.value) and e.value.hint


async def test_signature_over_another_challenge(server, sim, gw_factory, rec):
    await _grant_person(server, NIP, PESEL)
    async with gw_factory() as gw:
        first = await gw.prepare_signed_file_request(Context.nip(NIP))
        second = await gw.prepare_signed_file_request(Context.nip(NIP))
        signed = sim.sign_as_trusted_profile(first.xml, pesel=PESEL, given_name="Anna", surname="Nowak")
        with pytest.raises(SignedFileError) as e:
            await gw.authorize_with_signed_file(signed, expected_challenge=second.challenge)
    assert e.value.code == "challenge-mismatch"
    assert f"signed for challenge {first.challenge.challenge}" in str(e.value)
    assert "generated most recently" in e.value.hint
    assert rec.count("POST", "/auth/xades-signature") == 0


async def test_expired_challenge(server, sim, gw_factory, rec):
    async with gw_factory() as gw:
        req = await gw.prepare_signed_file_request(Context.nip(NIP))
    signed = sim.sign_as_trusted_profile(req.xml, pesel=PESEL, given_name="Anna", surname="Nowak")
    later = KsefGateway(Endpoint.custom(server.base_url), observer=rec,
                        clock=lambda: req.challenge.timestamp + dt.timedelta(minutes=10, seconds=5))
    async with later:
        with pytest.raises(SignedFileError) as e:
            await later.authorize_with_signed_file(signed, expected_challenge=req.challenge)
    assert e.value.code == "challenge-expired" and "expired at" in str(e.value)
    assert "A challenge lives 10 minutes" in e.value.hint
    assert rec.count("POST", "/auth/xades-signature") == 0


async def test_wrong_token(gw_factory):
    bogus = Secret("20261124-EC-0000000000-0000000000-00|nip-5265877635|" + "0" * 64)
    async with gw_factory() as gw:
        with pytest.raises(KsefAuthFailed) as e:
            await gw.authorize_with_token(Context.nip(NIP), bogus)
    assert e.value.code == 450 and str(e.value).startswith("KSeF authentication failed with status 450 (bad KSeF token)")
    assert "Check the token and the NIP" in e.value.hint
    assert bogus.reveal() not in str(e.value)


async def test_token_for_another_nip(sim, gw_factory):
    token = sim.issue_ksef_token(context_nip=OTHER_NIP, permissions=["InvoiceRead"], description="other company")
    async with gw_factory() as gw:
        with pytest.raises(KsefAuthFailed) as e:
            await gw.authorize_with_token(Context.nip(NIP), Secret(token))
    assert e.value.code == 450 and e.value.details
    assert "meant for another company" in e.value.hint and token not in str(e.value)


async def test_local_credential_problems_never_reach_the_network(rsa_pair, ec_pair, gw_factory, rec):
    with pytest.raises(CredentialError) as e:
        load_credential(cert_data=rsa_pair[0], key_data=ec_pair[1].reveal())
    assert e.value.code == "key-mismatch"
    old = make_test_certificate(nip=NIP, key="ec", now=system_clock() - dt.timedelta(days=800))
    expired = load_credential(cert_data=old[0], key_data=old[1].reveal(), strict=False)
    async with gw_factory() as gw:
        with pytest.raises(CredentialError) as e:
            await gw.authorize_with_certificate(Context.nip(NIP), expired)
    assert e.value.code == "expired" and "expired on" in str(e.value)
    assert rec == []


async def test_xxe_and_billion_laughs_never_reach_the_network(gw_factory, rec):
    from test_ksef_files import LAUGHS, XXE

    async with gw_factory() as gw:
        for doc in (XXE, LAUGHS):
            with pytest.raises(SignedFileError) as e:
                await gw.authorize_with_signed_file(doc)
            assert e.value.code == "unsafe-xml"
    assert rec == []


async def test_429_retry_after_is_honoured(sim, gw_factory, rec):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="throttled token")
    sim.faults.throttle("/auth/challenge", retry_after=1, times=1)
    async with gw_factory() as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), Secret(token))
    assert session.reference_number
    assert [s.status for s in rec if s.path == "/auth/challenge"] == [429, 200]


async def test_5xx_while_polling_is_retried(sim, gw_factory, rec):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="5xx token")
    sim.faults.fail("/auth/20*", status=503, times=2, method="GET")
    async with gw_factory() as gw:
        await gw.authorize_with_token(Context.nip(NIP), Secret(token))
    statuses = [s.status for s in rec if s.method == "GET" and s.path.startswith("/auth/20")]
    assert statuses == [503, 503, 200]


async def test_timeout_is_reported_clearly(sim, gw_factory):
    sim.faults.delay("/auth/challenge", seconds=1.5, times=1)
    async with gw_factory(http=HttpPolicy(timeout_s=0.3)) as gw:
        with pytest.raises(KsefTimeout) as e:
            await gw.challenge()
    assert str(e.value).startswith("KSeF did not answer the authorization challenge request within 0.3 s")
    assert "did not answer in time" in e.value.hint


async def test_redeem_is_never_sent_twice(sim, gw_factory, rec):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="redeem token")
    sim.faults.fail("/auth/token/redeem", status=503, times=1)
    async with gw_factory() as gw:
        with pytest.raises(KsefHttpError) as e:
            await gw.authorize_with_token(Context.nip(NIP), Secret(token))
    assert e.value.http_status == 503
    assert rec.count("POST", "/auth/token/redeem") == 1


# ------------------------------------------------------------------------------- contract

async def test_requests_match_openapi(server, sim, seal_pair, gw_factory, rec, shared_dir):
    from openapi_check import use_spec, validate_request

    use_spec(shared_dir)
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="contract token")
    async with gw_factory() as gw:
        await gw.authorize_with_token(Context.nip(NIP), Secret(token), allowed_ips={"Ip4Mask": ["127.0.0.0/8"]})
        owner = await gw.authorize_with_certificate(Context.nip(NIP), _pem_cred(seal_pair))
        await gw.refresh(owner)
        await gw.list_sessions(owner)
        generated = await gw.generate_token(owner, ["InvoiceRead"], "contract generated")
        await gw.wait_token_active(owner, generated.reference_number)
        await gw.list_tokens(owner, statuses=["Active"])
        await gw.revoke_token(owner, generated.reference_number)
        await gw.certificate_limits(owner)
        cert, _key = await gw.request_certificate(owner, "Certyfikat kontrakt")
        await gw.query_certificates(owner, status="Active")
        await gw.revoke_certificate(owner, cert.serial_number, "Unspecified")
        await gw.revoke_current(owner)
    templates = set()
    for sent in rec:
        body = sent.json() if sent.body and sent.content_type == "application/json" else None
        templates.add((sent.method, validate_request(sent.method, sent.path, body, sent.content_type)))
    assert ("POST", "/auth/ksef-token") in templates and ("POST", "/auth/xades-signature") in templates
    assert len(templates) >= 18
