"""Every other cause of the diagnosis (issue 15 item 4), each from what the simulator really answers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef.views import CertificateFiles

from .conftest import CLIENT, DEMO, OFFICE, PIOTR

CAUSES = ("ok", "not-configured", "ksef-off", "environment-mismatch", "certificate-expired", "certificate-revoked",
          "certificate-not-for-login", "token-revoked", "token-inactive", "token-other-context", "token-invalid",
          "subject-blocked", "no-permission", "chain-broken", "wrong-identity-type", "ksef-unavailable",
          "rate-limited", "challenge-expired")


def step(diag, key):
    return {s.key: s for s in diag.steps}[key]


def test_the_causes_are_the_issues_list():
    from ksef_tui.ksef.diagnostics import CAUSES as ours

    assert set(ours) == set(CAUSES) and len(ours) == len(CAUSES)


def test_not_configured_and_ksef_off(office):
    diag = office.diagnose(office.piotr)
    assert diag.cause == "not-configured" and step(diag, "configured").status == "fail"
    assert "Configure piotr's KSeF credential for DEMO" in diag.hint
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.ctx.companies.set_ksef(office.ctx.actor, office.client_id, False)
    diag = office.diagnose(office.piotr)
    assert diag.cause == "ksef-off" and step(diag, "company").status == "fail"
    assert [s.status for s in diag.steps[1:]] == ["skipped"] * 9


def test_environment_mismatch_self_signed_and_a_token_of_another_environment(office, sim_server):
    from ksef_tui.ksef.testcert import make_test_certificate
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    ctx = office.ctx
    cert, key = make_test_certificate(pesel=PIOTR, key="ec")
    ctx.credentials.save_certificate(ctx.actor, office.piotr, office.client_id, DEMO,
                                     CertificateFiles(cert_data=cert, key_data=key.reveal()))
    diag = office.diagnose(office.piotr)
    assert diag.cause == "environment-mismatch" and "self-signed" in step(diag, "environment").evidence

    token = office.sim.issue_ksef_token(CLIENT, ["InvoiceRead"], "token of DEMO")
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, token)
    assert office.diagnose(office.anna).cause == "ok"
    production = start_in_thread(create_app(SimulatorConfig(mode="strict", status_delay_s=0.0)))
    try:
        ctx.credentials.connections.set_endpoint(ctx.actor, Environment.PRODUCTION, production.base_url)
        ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, Environment.PRODUCTION, token)
        diag = asyncio.run(ctx.diagnosis.diagnose(ctx.actor, office.anna, office.client_id, Environment.PRODUCTION))
    finally:
        production.stop()
    assert diag.cause == "environment-mismatch" and "works in DEMO" in step(diag, "environment").evidence


def test_certificate_expired_here_and_in_ksef(office):
    from ksef_tui.services.ksef.diagnosis import DiagnosisService
    from ksef_tui.services.ksef.permissions import PermissionService

    ctx = office.ctx
    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    later = office.sim.now() + dt.timedelta(days=800)  # after the two years a KSeF certificate lives
    service = DiagnosisService(PermissionService(ctx.credentials, clock=lambda: later))
    diag = asyncio.run(service.diagnose(ctx.actor, office.piotr, office.client_id, DEMO))
    assert diag.cause == "certificate-expired" and "expired on" in step(diag, "credential").evidence

    # KSeF itself cut the certificate short (PUT /testdata/certificates/{serial}): it answers 460
    serial = office.ctx.credentials.get(ctx.actor, office.piotr, office.client_id, DEMO).cert_serial
    with office.sim.lock:
        office.sim.state.certificates[serial.upper().zfill(16)].valid_to = office.sim.now() - dt.timedelta(minutes=1)
    diag = office.diagnose(office.piotr)
    assert diag.cause == "certificate-expired" and step(diag, "credential").code == "460"


def test_certificate_revoked_by_its_owner(office):
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.endpoints import Endpoint
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import Context

    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    cert, key = office.sim.issue_ksef_certificate(pesel=PIOTR, given_name="Piotr", surname="Zieliński")
    office.ctx.credentials.save_certificate(office.ctx.actor, office.piotr, office.client_id, DEMO,
                                            CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))
    assert office.diagnose(office.piotr).cause == "ok"
    credential = load_credential(cert_data=cert.encode(), key_data=key.encode())

    async def revoke() -> None:
        async with KsefGateway(Endpoint.custom(office.base_url)) as gw:
            session = await gw.authorize_with_certificate(Context.nip(CLIENT), credential)
            await gw.revoke_certificate(session, credential.facts.serial_number, "KeyCompromise")

    asyncio.run(revoke())
    diag = office.diagnose(office.piotr)
    assert diag.cause == "certificate-revoked" and "odwołany" in step(diag, "credential").evidence
    assert "request a new KSeF certificate for piotr" in diag.hint


def test_offline_certificate_cannot_log_in(office):
    """Saving an Offline certificate as the login is refused (issue 11); one a version before that kept
    as the login (its sealed material replaced here as such a version wrote it) is diagnosed."""
    from ksef_tui.errors import ValidationFailed
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.services.ksef.vault_access import seal_certificate
    from ksef_tui.store.models import KsefCredential

    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    with pytest.raises(ValidationFailed, match="Offline certificate"):
        office.save_certificate(office.piotr, office.client_id, pesel=PIOTR, certificate_type="Offline")
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    cert, key = office.sim.issue_ksef_certificate(pesel=PIOTR, given_name="Piotr", surname="Zieliński",
                                                  certificate_type="Offline")
    offline = load_credential(cert_data=cert.encode(), key_data=key.encode(), strict=False)
    ctx = office.ctx
    with ctx.db.session() as s:
        row = s.scalars(select(KsefCredential).where(KsefCredential.user_id == office.piotr)).one()
        seal_certificate(ctx.credentials.vaults.vault(), row, offline)
    diag = office.diagnose(office.piotr)
    assert diag.cause == "certificate-not-for-login" and "Offline" in step(diag, "credential").evidence


def _owner_session(office):
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.endpoints import Endpoint
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import Context

    cert, key = office.sim.issue_ksef_certificate(nip=CLIENT)
    owner = load_credential(cert_data=cert.encode(), key_data=key.encode())
    return KsefGateway(Endpoint.custom(office.base_url)), Context.nip(CLIENT), owner


def test_token_revoked_inactive_other_context_and_invalid(office, sim_server):
    ctx = office.ctx
    token = office.sim.issue_ksef_token(CLIENT, ["InvoiceRead", "InvoiceWrite"], "token to revoke")
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, token)
    gw, where, owner = _owner_session(office)

    async def revoke() -> None:
        async with gw:
            session = await gw.authorize_with_certificate(where, owner)
            await gw.revoke_token(session, token.split("|")[0])

    asyncio.run(revoke())
    assert office.diagnose(office.anna).cause == "token-revoked"

    with office.sim.lock:  # a token KSeF has not activated yet (Pending)
        pending = office.sim.issue_ksef_token(CLIENT, ["InvoiceRead"], "token still pending")
        office.sim.state.ksef_tokens[pending.split("|")[0]].active_from = office.sim.now() + dt.timedelta(hours=1)
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, pending)
    diag = office.diagnose(office.anna)
    assert diag.cause == "token-inactive" and "nieaktywny" in step(diag, "credential").evidence

    other = office.sim.issue_ksef_token(f"{CLIENT}-12345", ["InvoiceRead"], "token of a unit", context_type="InternalId")
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, other)
    diag = office.diagnose(office.anna)
    assert diag.cause == "token-other-context" and "generate a token in the context of Alfa" in diag.hint

    bogus = "20261124-EC-0000000000-0000000000-00|nip-5265877635|" + "ab" * 32
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, bogus)
    diag = office.diagnose(office.anna)
    assert diag.cause == "token-invalid" and bogus not in repr(diag)


def test_subject_blocked(office):
    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.sim.testdata.block_context({"contextIdentifier": {"type": "Nip", "value": CLIENT}})
    diag = office.diagnose(office.piotr)
    assert diag.cause == "subject-blocked" and step(diag, "blocked").code == "480"


def test_wrong_identity_type(office):
    """The office granted Piotr's PESEL, but he logs in with a certificate on his NIP."""
    ctx = office.ctx
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead", "InvoiceWrite"], kind="entity",
                                 can_delegate=True)
    done = asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, PIOTR, ["InvoiceRead"],
                                                      office.client_id))
    assert done.ok
    office.save_certificate(office.piotr, office.client_id, nip="9512431109")
    diag = office.diagnose(office.piotr)
    assert diag.cause == "wrong-identity-type"
    assert step(diag, "identity").status == "fail" and "Pesel 44051401359" in step(diag, "identity").evidence
    assert "Nip 9512431109" in diag.hint and "Pesel 44051401359" in diag.hint


def test_chain_broken_when_the_grant_names_another_client(office):
    ctx = office.ctx
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    assert asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, PIOTR, ["InvoiceRead"],
                                                      office.other_id)).ok
    diag = office.diagnose(office.piotr)
    assert diag.cause == "chain-broken" and "another client (Nip 3755747347)" in step(diag, "chain").evidence
    assert diag.actions and diag.actions[0].kind == "grant-indirect"


def test_chain_broken_when_the_client_did_not_let_the_office_delegate(office):
    """§17 item 5: the client granted the office InvoiceRead without the right to delegate: the
    employee's indirect grant from the office does not work in the client's context."""
    ctx = office.ctx
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=False)
    office.sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceRead"], kind="indirect", client_nip=CLIENT)
    diag = office.diagnose(office.piotr)
    assert diag.cause == "chain-broken" and step(diag, "chain").status == "fail"
    assert "delegate" in step(diag, "chain").evidence + diag.hint
    assert diag.request and "canDelegate" in diag.request  # only the client can fix it: the words to send


@pytest.mark.parametrize("cause,fault", [
    ("ksef-unavailable", dict(path="/auth/challenge", status=503, times=None)),
    ("ksef-unavailable", dict(path="/auth/xades-signature", status=502, times=None)),
    ("ksef-unavailable", dict(path="/auth/xades-signature", code=21184, times=None)),
    ("rate-limited", dict(path="/auth/challenge", status=429, retry_after=3600, times=None)),
    ("challenge-expired", dict(path="/auth/xades-signature", code=21111, details=["Wyzwanie wygasło."], times=1)),
])
def test_ksef_not_answering_is_never_a_permission_problem(office, cause, fault):
    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    assert office.diagnose(office.piotr).cause == "ok"
    office.sim.faults.add(**fault)
    diag = office.diagnose(office.piotr)
    office.sim.faults.clear()
    assert diag.cause == cause
    if cause != "challenge-expired":
        assert not diag.final and "not a permission problem" in diag.hint
        assert step(diag, "availability").status == "fail"
        view = office.ctx.credentials.get(office.ctx.actor, office.piotr, office.client_id, DEMO)
        assert view.last_auth_ok is True  # no answer: nothing recorded


def test_ksefs_words_are_printed_as_text_by_the_cli(office):
    """The CLI prints KSeF's untrusted text with control characters made visible (no escape reaches the
    terminal); the JSON carries it as data."""
    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    hostile = "Wyzwanie wygasło \x1b[2J\x1b]0;owned\x07 [bold]koniec[/]"
    office.sim.faults.add(path="/auth/xades-signature", code=21111, details=[hostile], times=None)
    code, text, err = office.cli("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and "cause: challenge-expired" in text and not err
    assert "\x1b" not in text and "\x07" not in text
    assert "Wyzwanie wygasło ␛[2J␛]0;owned␇ [bold]koniec[/]" in text
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert hostile in {s["step"]: s for s in out["steps"]}["challenge"]["evidence"]
