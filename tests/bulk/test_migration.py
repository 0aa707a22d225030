"""The whole move token → KSeF certificate: one pilot user, then 20 users through the watched folder."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import select

from ksef_tui.ksef.gateway import KsefGateway
from ksef_tui.ksef.limits import RateLimiter
from ksef_tui.services.ksef.bulk import OK, SKIPPED, KsefBulk, run_bulk
from ksef_tui.services.ksef.certificate_move import CertificateMove
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.store.models import KsefCredential

from .conftest import PESEL, give_each_rights, give_rights, seed


def _bulk(ctx):
    from ksef_tui.domain.environments import Environment

    endpoint = ctx.credentials.connections.endpoint(Environment.DEMO)
    limiter = RateLimiter()
    return KsefBulk(ctx.credentials, ctx.actor, limiter=limiter,
                    gateway_factory=lambda e: KsefGateway(endpoint, limiter=limiter))


class GovPl:
    """Simulated gov.pl Profil Zaufany: signs each unsigned file that appears, one by one, as
    ``<name>-podpisany.xml`` (any name works: the watch matches by challenge)."""

    def __init__(self, sim, folder: Path, people: dict[str, str] | None = None) -> None:
        self.sim, self.folder, self.people = sim, folder, people or {}
        self.stop = threading.Event()
        self.signed: list[Path] = []
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        done: set[Path] = set()
        while not self.stop.wait(0.02):
            for path in sorted(self.folder.glob("AuthTokenRequest-*.xml")):
                if path in done or path.stem.endswith("-podpisany"):
                    continue
                done.add(path)
                login = path.stem.rsplit("-", 1)[-1]
                signed = self.sim.sign_as_trusted_profile(path.read_bytes(), pesel=self.people.get(login, PESEL),
                                                          given_name="Jan", surname="Kowalski")
                out = path.with_name(path.stem + "-podpisany.xml")
                tmp = out.with_suffix(".part")
                tmp.write_bytes(signed)
                tmp.rename(out)
                self.signed.append(out)


def _move(ctx, targets, folder, sim, people=None):
    gov = GovPl(sim, folder, people)
    gov.thread.start()
    files = []

    async def run():
        async with _bulk(ctx) as bulk:
            move = CertificateMove(bulk)
            report = await move.enroll(targets, folder, on_files=files.extend, poll_s=0.05)
            revoked = await run_bulk("revoke", targets, move.revoke_token)
            return report, revoked

    try:
        return (*asyncio.run(run()), files, gov)
    finally:
        gov.stop.set()
        gov.thread.join(2)


def test_pilot_one_user_token_to_certificate(bulk_ctx, limited_sim, tmp_path):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 1)
    give_rights(sim, targets, bulk_ctx)
    with bulk_ctx.db.session() as s:
        token_ref = s.scalars(select(KsefCredential)).one().token_reference
    report, revoked, files, gov = _move(bulk_ctx, targets, tmp_path / "pz", sim)

    assert report.counts[OK] == 1, report.results
    assert len(files) == 1 and files[0].path.exists() and len(gov.signed) == 1
    assert "login switched to Certificate" in report.results[0].message
    assert revoked.counts[OK] == 1, revoked.results
    with bulk_ctx.db.session() as s:
        cred = s.scalars(select(KsefCredential)).one()
        assert cred.method == "certificate" and cred.cert_serial == report.results[0].detail
        assert cred.last_auth_ok is True and cred.token_blob is None and cred.token_status == "Revoked"
        assert b"BEGIN" not in cred.cert_blob and b"PRIVATE" not in cred.key_blob  # sealed
    assert sim.state.ksef_tokens[token_ref].revoked
    # the certificate works on its own now
    test = asyncio.run(bulk_ctx.credentials.test_authorization(bulk_ctx.actor, targets[0].user_id,
                                                               targets[0].company_id, targets[0].environment))
    assert test.ok and test.method == "certificate"
    actions = [e.action for e in bulk_ctx.audit.entries(bulk_ctx.actor, limit=50)]
    for action in ("credential.pz_file", "credential.ksef_certificate_enrolled", "credential.method",
                   "credential.token_revoked"):
        assert action in actions, actions
    # a second run has nothing left to do
    async def again():
        async with _bulk(bulk_ctx) as bulk:
            return await CertificateMove(bulk).enroll(targets, tmp_path / "pz")

    assert asyncio.run(again()).counts[SKIPPED] == 1


def test_twenty_users_through_the_watched_folder(bulk_ctx, limited_sim, tmp_path):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 20, users_per_company=2)  # two users of each company
    people = give_each_rights(sim, targets, bulk_ctx)
    report, revoked, files, gov = _move(bulk_ctx, targets, tmp_path / "pz", sim, people)
    assert report.counts[OK] == 20, [r.message for r in report.results if not r.ok]
    assert len({f.path for f in files}) == 20 and len(gov.signed) == 20
    assert revoked.counts[OK] == 20
    with bulk_ctx.db.session() as s:
        creds = list(s.scalars(select(KsefCredential)))
    assert {c.method for c in creds} == {"certificate"} and len({c.cert_serial for c in creds}) == 20
    assert all(c.token_blob is None for c in creds)


def test_direct_enrollment_with_a_certificate(bulk_ctx, limited_sim):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 1)
    give_rights(sim, targets, bulk_ctx)
    t = targets[0]
    cert_pem, key_pem = sim.issue_ksef_certificate(pesel=PESEL, given_name="Jan", surname="Kowalski",
                                                   valid_from=None)
    # the user also has a (soon to expire) certificate saved, the login is still the token
    cred = CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())
    bulk_ctx.credentials.save_certificate(bulk_ctx.actor, t.user_id, t.company_id, t.environment, cred)
    from ksef_tui.domain.auth import AuthMethod

    bulk_ctx.credentials.set_method(bulk_ctx.actor, t.user_id, t.company_id, t.environment, AuthMethod.TOKEN)

    async def run():
        async with _bulk(bulk_ctx) as bulk:
            move = CertificateMove(bulk)
            assert move.road(t) == "direct"
            return await move.enroll([t], Path("/nonexistent"))

    report = asyncio.run(run())
    assert report.counts[OK] == 1, report.results
    with bulk_ctx.db.session() as s:
        row = s.scalars(select(KsefCredential)).one()
        assert row.method == "certificate" and row.cert_serial == report.results[0].detail
        assert row.cert_serial != bulk_ctx.credentials.inspect_certificate(cred).serial_number
