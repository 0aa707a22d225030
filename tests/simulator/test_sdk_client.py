"""Another KSeF client works unchanged: the ksef-client SDK's own token and XAdES flows over loopback."""

from __future__ import annotations

import pytest
from ksef_client import KsefClient, KsefClientOptions
from ksef_client.services.workflows import AuthCoordinator

from .conftest import NIP
from .kclient import new_key, self_signed, subject


@pytest.fixture(autouse=True)
def _sdk_on_the_suites_day(monkeypatch):
    """The SDK picks KSeF's public-key certificate valid "now" from the machine's clock; on a shifted-day
    run (``KSEF_TUI_TEST_DAY``) the simulator issued it for the suite's day, so the SDK is asked on that
    day too, as a client and KSeF on the same day would be. Without a shift this changes nothing."""
    from ksef_client.clients import security

    from ksef_tui.domain import clock

    if not clock.shift:
        return
    select = security._select_public_key_certificate
    monkeypatch.setattr(security, "_select_public_key_certificate",
                        lambda certificates, usage, now=None: select(certificates, usage, now=now or clock.system_clock()))


def sdk(base_url: str) -> KsefClient:
    return KsefClient(KsefClientOptions(base_url=base_url, timeout_seconds=10))


def test_sdk_token_flow(loopback):
    token = loopback.sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="ksef-client SDK")
    client = sdk(loopback.base_url)
    cert = client.security.get_public_key_certificate("KsefTokenEncryption")
    result = AuthCoordinator(client.auth).authenticate_with_ksef_token(
        token=token,
        public_certificate=cert.certificate,
        public_key_id=cert.public_key_id,
        context_identifier_type="nip",
        context_identifier_value=NIP,
        poll_interval_seconds=0.05,
    )
    assert result.access_token and result.refresh_token
    refreshed = client.auth.refresh_access_token(result.refresh_token)
    assert refreshed.access_token.token
    sessions = client.auth.get_active_sessions(access_token=refreshed.access_token.token)
    assert any(item.reference_number == result.reference_number for item in sessions.items)


def test_sdk_xades_flow_two_references(loopback):
    from cryptography.hazmat.primitives import serialization

    key = new_key("rsa")
    cert = self_signed(subject(nip=NIP), key)
    client = sdk(loopback.base_url)
    result = AuthCoordinator(client.auth).authenticate_with_xades(
        context_identifier_type="nip",
        context_identifier_value=NIP,
        subject_identifier_type="certificateSubject",
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        verify_certificate_chain=False,
        poll_interval_seconds=0.05,
    )
    assert result.access_token


def test_sdk_xades_ec_with_ksef_certificate(loopback):
    cert_pem, key_pem = loopback.sim.issue_ksef_certificate(nip=NIP, given_name="Jan", surname="Kowalski", key="ec")
    client = sdk(loopback.base_url)
    result = AuthCoordinator(client.auth).authenticate_with_xades(
        context_identifier_type="nip",
        context_identifier_value=NIP,
        subject_identifier_type="certificateSubject",
        certificate_pem=cert_pem,
        private_key_pem=key_pem,
        poll_interval_seconds=0.05,
    )
    status = client.auth.get_auth_status(result.reference_number, result.authentication_token)
    assert status.status.code == 200
