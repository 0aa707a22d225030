"""Renewal: a user who already logs in with a KSeF certificate that expires soon renews it through the
same ``e`` flow of the dashboard, directly (the current certificate opens the enrollment session; no
Profil Zaufany file). The new certificate is tested in KSeF *before* it replaces the one in use, and
when that test fails the old certificate stays stored and keeps working."""

from __future__ import annotations

from sqlalchemy import select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.store.models import AuditEntry, KsefCredential
from ksef_tui.ui.app import KsefApp
from ksef_tui.ui.ksef.bulk_run import ENROLL, BulkRunScreen
from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

from .conftest import (
    choose_types,
    counts,
    give_expiring_certificate,
    give_rights,
    open_bucket,
    same_serial,
    seed,
    shown,
    wait_for,
)
from .test_move_pilot import confirm_plan

DEMO = Environment.DEMO


class AfterRetrieve:
    """Watches the simulator's requests (its fault hook, called first for every request): once the
    new certificate has been retrieved, remembers which certificate the panel had stored when the new
    one's first authorization was redeemed, and can arm a fault for the requests that follow."""

    def __init__(self, sim, ctx, target, *, fault=None) -> None:
        self.sim, self.ctx, self.target, self.fault = sim, ctx, target, fault
        self.retrieved = False
        self.stored_at_first_redeem: str | None = None
        self._next_action = sim.faults.next_action
        sim.faults.next_action = self  # an instance attribute: the app calls this first

    def __call__(self, method: str, path: str):
        if path == "/certificates/retrieve":
            self.retrieved = True
        elif self.retrieved and path == "/auth/xades-signature" and self.fault is not None:
            self.fault(self.sim)
            self.fault = None
        elif self.retrieved and path == "/auth/token/redeem" and self.stored_at_first_redeem is None:
            self.stored_at_first_redeem = _row(self.ctx, self.target).cert_serial
        return self._next_action(method, path)


def _row(ctx, t) -> KsefCredential:
    with ctx.db.session() as s:
        row = s.scalars(select(KsefCredential).where(KsefCredential.user_id == t.user_id)).one()
        s.expunge(row)
        return row


def _actions(ctx) -> list[str]:
    with ctx.db.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def _renew(pilot, folder) -> BulkRunScreen:
    """F4, the "expires within 30 days" count, space, e: the enrollment screen, run to its end."""
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, KsefDashboardScreen), "the dashboard")
    assert counts(pilot.app.screen)[dash.CERT_30] == 1
    await open_bucket(pilot, dash.CERT_30)
    await pilot.press("space", "e")
    await choose_types(pilot)
    await confirm_plan(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BulkRunScreen), "the enrollment screen")
    run = pilot.app.screen
    assert run.operation == ENROLL
    await wait_for(pilot, lambda: run.report is not None and not run.running, "the renewal to finish")
    assert not run.files and not run.query_one("#bulk-files").display  # no Profil Zaufany file on this road
    assert not folder.exists() or not any(folder.iterdir())
    return run


def _setup(ctx, sim, tmp_path):
    (t,) = seed(ctx, sim, 1)
    give_rights(sim, [t], ctx)
    old = give_expiring_certificate(ctx, sim, t, days=20)
    ctx.options["downloads_dir"] = str(tmp_path / "Downloads")
    return t, old, tmp_path / "Downloads" / "ksef-tui-profil-zaufany"


async def test_renewal_is_direct_and_tests_the_new_certificate_before_storing_it(bulk_ctx, limited_sim, tmp_path):
    ctx, sim = bulk_ctx, limited_sim.sim
    t, old, folder = _setup(ctx, sim, tmp_path)
    spy = AfterRetrieve(sim, ctx, t)
    async with KsefApp(ctx).run_test(size=(120, 40)) as pilot:
        run = await _renew(pilot, folder)
        status = shown(run, "#bulk-status")
        assert status.startswith("Finished: 1 ok, 0 failed"), (status, run.report.results)
        new = run.report.results[0].detail
        assert new and new != old and "login switched to Certificate" in run.report.results[0].message

    # the new certificate authenticated in KSeF while the panel still held the old one
    assert spy.retrieved and spy.stored_at_first_redeem == old
    row = _row(ctx, t)
    assert row.cert_serial == new and row.method == AuthMethod.CERTIFICATE.value and row.last_auth_ok is True
    by_new = [o for o in sim.state.operations.values() if same_serial(o.certificate_serial, new)]
    by_old = [o for o in sim.state.operations.values() if same_serial(o.certificate_serial, old)]
    assert by_old and by_new and all(o.outcome_code == 200 and o.redeemed for o in by_new)
    assert row.last_auth_reference in {o.reference_number for o in by_new}
    enrolled = [e.after for e in ctx.audit.entries(ctx.actor, action="credential.ksef_certificate_enrolled")]
    assert [(a["road"], a["certificate_serial"]) for a in enrolled] == [("direct", new)]
    assert "credential.pz_file" not in _actions(ctx)


async def test_a_failing_test_of_the_new_certificate_keeps_the_old_one(bulk_ctx, limited_sim, tmp_path):
    ctx, sim = bulk_ctx, limited_sim.sim
    t, old, folder = _setup(ctx, sim, tmp_path)
    before = _row(ctx, t)
    actions_before = _actions(ctx)
    # KSeF fails every XAdES authorization from the moment the new certificate is retrieved
    spy = AfterRetrieve(sim, ctx, t, fault=lambda s: s.faults.fail("/auth/xades-signature", 503, times=None))
    async with KsefApp(ctx).run_test(size=(120, 40)) as pilot:
        run = await _renew(pilot, folder)
        status = shown(run, "#bulk-status")
        assert status.startswith("Finished: 0 ok, 0 failed, 1 temporary errors"), (status, run.report.results)
        (result,) = run.report.results
        issued = result.detail
        assert issued and issued != old and any(same_serial(issued, s) for s in sim.state.certificates)  # issued
        assert "Test with the new certificate" in result.message and "503" in result.message
        assert f"The new certificate {issued} was not stored; the one in use is unchanged." in result.message
        assert spy.retrieved

        # the old certificate is still the stored one, untouched, and still works
        after = _row(ctx, t)
        assert (after.cert_serial, after.cert_blob, after.key_blob, after.method, after.version) == \
            (old, before.cert_blob, before.key_blob, before.method, before.version)
        assert _actions(ctx) == actions_before  # nothing stored, nothing switched
        sim.faults.clear()
        test = await ctx.credentials.test_authorization(ctx.actor, t.user_id, t.company_id, DEMO)
        assert test.ok and test.method == AuthMethod.CERTIFICATE.value
        last = max(sim.state.operations.values(), key=lambda o: o.start_date)
        assert same_serial(last.certificate_serial, old) and last.outcome_code == 200

        # f re-runs the renewal, which now passes its test and replaces the old certificate
        failed = run.report
        await pilot.press("f")
        await wait_for(pilot, lambda: run.report is not failed and not run.running, "the re-run")
        assert shown(run, "#bulk-status").startswith("Finished: 1 ok, 0 failed"), run.report.results
        renewed = run.report.results[0].detail
    assert _row(ctx, t).cert_serial == renewed not in (old, issued)


async def test_refresh_finds_a_renewed_certificate_whose_serial_starts_with_zero(bulk_ctx, limited_sim, monkeypatch):
    """KSeF writes serials as 16 hex digits; the one read from the certificate drops leading zeros
    (about one KSeF certificate in 16): "Refresh from KSeF" must still find it in /certificates/query."""
    from ksef_tui.services.ksef.bulk import OK, KsefBulk, run_bulk
    from ksef_tui.simulator import pki

    ctx, sim = bulk_ctx, limited_sim.sim
    (t,) = seed(ctx, sim, 1)
    give_rights(sim, [t], ctx)
    monkeypatch.setattr(pki, "ksef_serial", lambda: 0x0123456789ABCDEF)
    serial = give_expiring_certificate(ctx, sim, t, days=20)
    assert "0123456789ABCDEF" in sim.state.certificates and serial.lstrip("0") == "123456789ABCDEF"

    async with KsefBulk(ctx.credentials, ctx.actor) as bulk:
        report = await run_bulk("refresh", [t], bulk.refresh_from_ksef)
    (result,) = report.results
    assert result.status == OK and "certificate Active" in result.message, result
    assert _row(ctx, t).last_auth_ok is True
