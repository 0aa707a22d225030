"""The bulk permission check: a serial operation over users × companies with progress, a result per
row, the office's view read once, nothing recorded for rows KSeF could not answer."""

from __future__ import annotations

import asyncio
import threading

from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef.bulk import ERROR, FAILED, OK, SKIPPED, Target, run_bulk
from ksef_tui.services.ksef.permission_check import PermissionCheck

from .conftest import CLIENT, DEMO, OFFICE, OTHER_CLIENT, PIOTR

ANNA = "90010112340"


def _run(office, targets, **kw):
    ctx = office.ctx
    seen = []

    async def go():
        async with PermissionCheck(ctx.permissions, ctx.actor) as check:
            report = await run_bulk("permissions", targets, check.check_row, on_progress=seen.append, **kw)
            return report, check

    report, check = asyncio.run(go())
    return report, check, seen


def test_users_times_companies(office):
    ctx = office.ctx
    for company in (office.client_id, office.other_id):
        office.save_certificate(office.piotr, company, pesel=PIOTR)
        office.save_certificate(office.anna, company, pesel=ANNA, given="Anna", surname="Nowak")
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    office.sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceRead"], kind="indirect")  # all clients
    office.sim.grant_permissions(OTHER_CLIENT, ("Pesel", ANNA), ["InvoiceWrite"])
    ctx.companies.set_ksef(ctx.actor, office.other_id, True)
    targets = [Target(u, c, DEMO, f"{u}/{c}") for u in (office.piotr, office.anna)
               for c in (office.client_id, office.other_id)]
    targets.append(Target(office.piotr, office.client_id, Environment.PRODUCTION))  # nothing configured there
    report, check, seen = _run(office, targets, concurrency=2)
    by = {(r.target.user_id, r.target.company_id, r.target.environment): r for r in report.results}
    assert by[(office.piotr, office.client_id, DEMO)].status == OK
    assert by[(office.piotr, office.other_id, DEMO)].code == "chain-broken"  # Beta never delegated
    assert by[(office.anna, office.client_id, DEMO)].code == "no-permission"
    assert by[(office.anna, office.other_id, DEMO)].status == OK
    assert by[(office.piotr, office.client_id, targets[-1].environment)].status == SKIPPED
    assert [p.done for p in seen] == [1, 2, 3, 4, 5] and report.counts[FAILED] == 2
    # what the dashboard and the picture read afterwards
    beta = ctx.permissions.picture(ctx.actor, office.other_id, DEMO)
    causes = {u.login: u.cause for u in beta.users}
    assert causes == {"piotr": "chain-broken", "anna": "ok"}
    assert len(check.diagnoses) == 5


def test_cancel_and_ksef_unavailable_leave_rows_as_they_were(office):
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.save_certificate(office.anna, office.client_id, pesel=ANNA, given="Anna", surname="Nowak")
    office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    targets = [Target(office.piotr, office.client_id, DEMO), Target(office.anna, office.client_id, DEMO)]
    report, _check, _seen = _run(office, targets, concurrency=1)
    assert [r.code for r in report.results] == ["ok", "no-permission"]
    office.sim.faults.fail("/auth/challenge", 503, times=None)
    report, _check, _seen = _run(office, targets, concurrency=1)
    office.sim.faults.clear()
    assert [r.status for r in report.results] == [ERROR, ERROR]
    assert all("Nothing was saved" in r.message for r in report.results)
    picture = office.ctx.permissions.picture(office.ctx.actor, office.client_id, DEMO)
    assert {u.login: u.cause for u in picture.users} == {"piotr": "ok", "anna": "no-permission"}
    cancel = threading.Event()
    cancel.set()
    report, _check, _seen = _run(office, targets, cancel=cancel)
    assert report.cancelled and {r.status for r in report.results} == {"cancelled"}


def test_serial_grant_through_the_office(office):
    from ksef_tui.services.ksef.permission_check import SerialGrant, plan_grant

    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.save_certificate(office.piotr, office.other_id, pesel=PIOTR)
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    targets = [Target(office.piotr, office.client_id, DEMO), Target(office.piotr, office.other_id, DEMO),
               Target(office.anna, office.client_id, DEMO)]  # Anna: no KSeF identity known

    plan = plan_grant(ctx.permissions, ctx.actor, targets)  # told before it runs: the run's own rule
    assert [r.action for r in plan.rows] == ["run", "run", "skip"] and "PESEL" in plan.rows[2].reason

    async def go():
        async with SerialGrant(ctx.permissions, ctx.actor, ("InvoiceRead",)) as grant:
            report = await run_bulk("grant", targets, grant.grant_row, concurrency=1)
            await grant.finish()
            return report

    report = asyncio.run(go())
    assert [r.status for r in report.results] == [OK, OK, SKIPPED]
    assert "PESEL" in report.results[2].message
    # granted for both, but only Alfa delegated to the office: the picture says so
    alfa = ctx.permissions.picture(ctx.actor, office.client_id, DEMO)
    beta = ctx.permissions.picture(ctx.actor, office.other_id, DEMO)
    state = lambda pic: next(u for u in pic.users if u.login == "piotr").lines[0].state  # noqa: E731
    assert (state(alfa), state(beta)) == ("Active", "Inactive")
    assert ctx.audit.actions(ctx.actor).count("permission.grant_indirect") >= 1
    diag = office.diagnose(office.piotr, office.client_id)
    assert diag.cause == "ok"


def test_serial_grant_skips_what_the_office_does_not_grant(office):
    """The plan and the run say the same: a company working with direct grants (model C) is not the
    office's to grant, and without the office's own credential nothing can be granted."""
    from ksef_tui.services.ksef.permission_check import SerialGrant, plan_grant

    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    ctx.permissions.set_model(ctx.actor, office.client_id, "C")
    targets = [Target(office.piotr, office.client_id, DEMO)]
    (row,) = plan_grant(ctx.permissions, ctx.actor, targets).rows
    assert row.action == "skip" and "model C" in row.reason

    async def go():
        async with SerialGrant(ctx.permissions, ctx.actor, ("InvoiceRead",)) as grant:
            return await run_bulk("grant", targets, grant.grant_row, concurrency=1)

    (result,) = asyncio.run(go()).results
    assert (result.status, result.message) == (SKIPPED, row.reason)
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    ctx.office.remove(ctx.actor, DEMO)
    (row,) = plan_grant(ctx.permissions, ctx.actor, targets).rows
    assert row.action == "skip" and "no KSeF credential" in row.reason
    assert ctx.audit.actions(ctx.actor).count("permission.grant_indirect") == 0
