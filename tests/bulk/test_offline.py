"""Offline KSeF certificates (issue 11 item 5): enrolled in bulk with or without an Authentication one
in one pass, kept with their type, never used to log in; a company with one is offline-ready."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ValidationFailed
from ksef_tui.services.companies import CompanyFilter
from ksef_tui.services.ksef.bulk import OK, SKIPPED
from ksef_tui.services.ksef.certificate_move import CertificateMove
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.store.models import KsefCertificate, KsefCredential

from .conftest import PESEL, give_rights, seed
from .test_migration import _bulk

DEMO = Environment.DEMO


def _with_login_certificate(ctx, sim, t):
    cert_pem, key_pem = sim.issue_ksef_certificate(pesel=PESEL, given_name="Jan", surname="Kowalski")
    files = CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())
    ctx.credentials.save_certificate(ctx.actor, t.user_id, t.company_id, t.environment, files)
    return files


def _enroll(ctx, targets, types, folder=Path("/nonexistent")):
    async def run():
        async with _bulk(ctx) as bulk:
            return await CertificateMove(bulk, types=types).enroll(targets, folder, poll_s=0.05)

    return asyncio.run(run())


def test_offline_only_keeps_the_login_and_makes_the_company_offline_ready(bulk_ctx, limited_sim):
    sim = limited_sim.sim
    (t,) = seed(bulk_ctx, sim, 1)
    give_rights(sim, [t], bulk_ctx)
    login = _with_login_certificate(bulk_ctx, sim, t)
    assert bulk_ctx.companies.page(bulk_ctx.actor, CompanyFilter(), 0, 10)[0].offline_ready == ()

    report = _enroll(bulk_ctx, [t], ("Offline",))
    assert report.counts[OK] == 1, report.results
    assert "Offline certificate" in report.results[0].message and "stored" in report.results[0].message
    with bulk_ctx.db.session() as s:
        kept = s.scalars(select(KsefCertificate)).one()
        cred = s.scalars(select(KsefCredential)).one()
        assert kept.certificate_type == "Offline" and kept.status == "Active" and kept.environment == "DEMO"
        assert b"PRIVATE" not in kept.key_blob and b"BEGIN" not in kept.cert_blob  # sealed
        # the login is untouched: the certificate saved before, the method it had
        assert cred.cert_serial == bulk_ctx.credentials.inspect_certificate(login).serial_number
    issued = sim.state.certificates[kept.serial]
    assert issued.certificate_type == "Offline"
    (row,) = bulk_ctx.companies.page(bulk_ctx.actor, CompanyFilter(), 0, 10)
    assert row.offline_ready == (DEMO,)
    view = bulk_ctx.credentials.get(bulk_ctx.actor, t.user_id, t.company_id, DEMO)
    assert view.offline_serial == kept.serial and view.offline_status == "Active"
    # a second run: the row already holds an Offline certificate
    again = _enroll(bulk_ctx, [t], ("Offline",))
    assert again.counts[SKIPPED] == 1 and "Already holds an Offline certificate" in again.results[0].message
    # revoked in KSeF (as the refresh would record it): no longer offline-ready
    with bulk_ctx.db.session() as s:
        s.scalars(select(KsefCertificate)).one().status = "Revoked"
    assert bulk_ctx.companies.page(bulk_ctx.actor, CompanyFilter(), 0, 10)[0].offline_ready == ()


def test_both_types_in_one_pass_through_profil_zaufany(bulk_ctx, limited_sim, tmp_path):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 2)
    give_rights(sim, targets, bulk_ctx)

    from .test_migration import GovPl

    gov = GovPl(sim, tmp_path / "pz")
    (tmp_path / "pz").mkdir()
    gov.thread.start()
    try:
        report = _enroll(bulk_ctx, targets, ("Authentication", "Offline"), tmp_path / "pz")
    finally:
        gov.stop.set()
        gov.thread.join(2)
    assert report.counts[OK] == 2, [r.message for r in report.results]
    assert all("login switched to Certificate" in r.message and "Offline certificate" in r.message
               for r in report.results)
    assert len(gov.signed) == 2  # one signature per row for both certificates
    with bulk_ctx.db.session() as s:
        creds = list(s.scalars(select(KsefCredential)))
        kept = list(s.scalars(select(KsefCertificate)))
    assert {c.method for c in creds} == {"certificate"} and {c.cert_type for c in creds} == {"Authentication"}
    assert len(kept) == 2 and {k.certificate_type for k in kept} == {"Offline"}
    assert {c.cert_serial for c in creds}.isdisjoint({k.serial for k in kept})


def test_an_offline_certificate_never_logs_in(bulk_ctx, limited_sim):
    sim = limited_sim.sim
    (t,) = seed(bulk_ctx, sim, 1)
    cert_pem, key_pem = sim.issue_ksef_certificate(pesel=PESEL, given_name="Jan", surname="Kowalski",
                                                   certificate_type="Offline")
    files = CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())
    facts = bulk_ctx.credentials.inspect_certificate(files)
    assert facts.ksef_type == "Offline"
    for attempt in (lambda: bulk_ctx.credentials.check_certificate(files),
                    lambda: bulk_ctx.credentials.save_certificate(bulk_ctx.actor, t.user_id, t.company_id, DEMO, files)):
        with pytest.raises(ValidationFailed) as e:
            attempt()
        assert "Offline certificate" in e.value.errors["certificate"] and "never log in" in e.value.errors["certificate"]
    with pytest.raises(ValidationFailed):
        asyncio.run(bulk_ctx.credentials.authorize_certificate(bulk_ctx.actor, t.user_id, t.company_id, DEMO, files))
    with bulk_ctx.db.session() as s:
        assert s.scalars(select(KsefCredential)).one().method == AuthMethod.TOKEN.value  # nothing half-saved
    # the gateway itself refuses it too
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.errors import CredentialError
    from ksef_tui.ksef.models import Context

    async def login():
        async with _bulk(bulk_ctx) as bulk:
            await bulk.gateway(DEMO).authorize_with_certificate(
                Context.nip("5265877635"), load_credential(cert_data=cert_pem.encode(), key_data=key_pem.encode(),
                                                           strict=False))

    with pytest.raises(CredentialError) as e:
        asyncio.run(login())
    assert e.value.code == "offline-certificate"
    assert sim.state.certificates  # the simulator issued it; nothing was sent to log in with it
