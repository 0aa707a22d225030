"""Bulk test authorization, refresh from KSeF, the dashboard counts and CSV, `ksef check`.

Against a strict simulator with the production request limits on; no timed assertions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import threading

from sqlalchemy import select

from ksef_tui.domain.environments import Environment
from ksef_tui.ksef.gateway import KsefGateway
from ksef_tui.ksef.limits import AUTH, OTHER, RateLimiter, group_for
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.services.ksef.bulk import CANCELLED, ERROR, FAILED, OK, SKIPPED, KsefBulk, Target, run_bulk
from ksef_tui.store.models import AuditEntry, KsefCredential

from .conftest import seed

DEMO = Environment.DEMO


def _bulk(ctx, limiter=None, observer=None, **kw):
    endpoint = ctx.credentials.connections.endpoint(DEMO)
    limiter = limiter or RateLimiter()
    return KsefBulk(ctx.credentials, ctx.actor, limiter=limiter,
                    gateway_factory=lambda e: KsefGateway(endpoint, limiter=limiter, observer=observer), **kw)


def _creds(ctx):
    with ctx.db.session() as s:
        return {(c.user_id, c.company_id): (c.last_auth_ok, c.last_auth_reference, c.last_auth_error, c.token_status)
                for c in s.scalars(select(KsefCredential))}


def test_limit_groups_and_bound():
    assert group_for("/auth/challenge") == AUTH
    assert group_for("/auth/20250101-AU-1") == AUTH
    assert group_for("/auth/sessions") == OTHER
    assert group_for("/tokens/abc") == OTHER
    assert group_for("/certificates/query") == OTHER
    lim = RateLimiter()
    assert lim.minimum_seconds(AUTH, 60) == 0
    assert lim.minimum_seconds(AUTH, 2001) == 33
    assert lim.minimum_seconds(OTHER, 31) == 60  # 30 a minute
    assert lim.minimum_seconds(OTHER, 121) == 3600


def test_limiter_never_lets_more_than_the_window_through():
    now = [0.0]
    lim = RateLimiter({"g": ((1.0, 3),)}, clock=lambda: now[0], margin_s=0.0)

    async def go():
        permits = [await lim.acquire("g", "k") for _ in range(3)]
        for p in permits:
            lim.done(p)
        waiter = asyncio.create_task(lim.acquire("g", "k"))
        await asyncio.sleep(0)
        assert not waiter.done()  # the 4th waits for the window to slide
        now[0] = 1.01
        lim.done(permits[0])  # any wake-up re-checks
        return await asyncio.wait_for(waiter, 5)

    permit = asyncio.run(go())
    assert permit.slot.at == 1.01
    lim.throttled("g", "k", 30)
    assert lim.stats.throttled == 1


def test_bulk_test_authorization_all_ok_and_429_honoured(bulk_ctx, limited_sim):
    targets = seed(bulk_ctx, limited_sim.sim, 30, users_per_company=3)
    limited_sim.sim.faults.throttle("/auth/challenge", retry_after=1, times=2)
    limiter = RateLimiter()
    progress = []

    async def run():
        async with _bulk(bulk_ctx, limiter) as bulk:
            return await run_bulk("test", targets, bulk.test_authorization, concurrency=16,
                                  on_progress=progress.append)

    report = asyncio.run(run())
    assert report.counts[OK] == 30, [r.message for r in report.results if not r.ok]
    assert limiter.stats.throttled == 2  # the injected 429s were met, waited out and repeated
    assert progress[-1].done == 30 and progress[-1].eta_s == 0
    assert all(ok for ok, *_ in _creds(bulk_ctx).values())
    assert report.rerun_targets() == []


def test_faults_give_precise_results_and_rerun_fixes_only_failed_rows(bulk_ctx, limited_sim):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 60)
    # three tokens revoked in KSeF: a final "no" that a re-run cannot fix
    with bulk_ctx.db.session() as s:
        refs = {c.user_id: c.token_reference for c in s.scalars(select(KsefCredential))}
    for t in targets[:3]:
        sim.state.ksef_tokens[refs[t.user_id]].revoked = True
    # 5% of the state-changing auth calls fail with a 5xx or a dropped connection
    sim.faults.fail("/auth/ksef-token", 503, times=None, probability=0.05)
    sim.faults.fail("/auth/challenge", 502, times=None, probability=0.05)
    sim.faults.drop("/auth/token/redeem", times=2)

    async def run(ts):
        async with _bulk(bulk_ctx, flow_attempts=1) as bulk:
            return await run_bulk("test", ts, bulk.test_authorization, concurrency=12)

    first = asyncio.run(run(targets))
    by_user = {r.target.user_id: r for r in first.results}
    assert all(r.status in (OK, FAILED, ERROR) for r in first.results)
    revoked = [by_user[t.user_id] for t in targets[:3]]
    for r in revoked:  # unless a fault came first, KSeF's final "no"
        assert r.status == ERROR or (r.status == FAILED and "450" in r.message and "unieważniony" in r.message.lower())
    errors = [r for r in first.results if r.status == ERROR]
    assert errors, "the injected faults hit no row"
    for r in errors:
        assert "nothing was saved" in r.message.lower()
        assert any(s in r.message for s in ("503", "502", "reach KSeF", "answer"))
    before = _creds(bulk_ctx)
    for r in errors:  # a temporary problem leaves the credential as it was
        assert before[(r.target.user_id, r.target.company_id)][0] is None
    for r in revoked:
        if r.status == FAILED:
            assert before[(r.target.user_id, r.target.company_id)][0] is False
            assert before[(r.target.user_id, r.target.company_id)][3] == "Revoked"

    sim.faults.clear()
    rerun_targets = first.rerun_targets()
    assert {t.user_id for t in rerun_targets} == {r.target.user_id for r in first.results if r.status != OK}
    second = asyncio.run(run(rerun_targets))
    after = _creds(bulk_ctx)
    merged = first.merged(second)
    assert merged.counts[OK] == 57 and merged.counts[FAILED] == 3
    assert {r.target.user_id for r in merged.results if r.status == FAILED} == {t.user_id for t in targets[:3]}
    assert all(after[(t.user_id, t.company_id)][3] == "Revoked" for t in targets[:3])
    for r in first.results:  # the rows that were fine were not touched again
        if r.status == OK:
            key = (r.target.user_id, r.target.company_id)
            assert after[key][1] == before[key][1] == r.reference


def test_above_the_http_layer_only_a_new_flow_is_started(bulk_ctx, limited_sim):
    """A state-changing step that failed for a temporary reason: the row starts a new flow (a fresh
    challenge); a 429 whose Retry-After is beyond the HTTP layer's budget: no repeat at all."""
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 2)
    sent = []

    async def run(ts):
        async with _bulk(bulk_ctx, observer=sent.append) as bulk:
            return await run_bulk("test", ts, bulk.test_authorization, concurrency=1)

    sim.faults.fail("/auth/ksef-token", 502, times=1)
    report = asyncio.run(run(targets[:1]))
    paths = [r.path for r in sent]
    assert report.counts[OK] == 1
    assert paths.count("/auth/challenge") == 2 and paths.count("/auth/ksef-token") == 2

    sent.clear()
    sim.faults.throttle("/auth/challenge", retry_after=3600, times=1)
    report = asyncio.run(run(targets[1:]))
    assert report.results[0].status == ERROR and "nothing was saved" in report.results[0].message.lower()
    assert [r.path for r in sent] == ["/auth/challenge"]
    assert _creds(bulk_ctx)[(targets[1].user_id, targets[1].company_id)][0] is None


def test_cancel_saves_nothing_half_done(bulk_ctx, limited_sim):
    targets = seed(bulk_ctx, limited_sim.sim, 10)
    cancel = threading.Event()
    cancel.set()

    async def run():
        async with _bulk(bulk_ctx) as bulk:
            return await run_bulk("test", targets, bulk.test_authorization, cancel=cancel)

    report = asyncio.run(run())
    assert report.cancelled and report.counts[CANCELLED] == 10
    assert len(report.rerun_targets()) == 10
    assert all(v[0] is None for v in _creds(bulk_ctx).values())


def test_refresh_marks_revoked_tokens_and_dashboard_counts(bulk_ctx, limited_sim):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 6)
    with bulk_ctx.db.session() as s:
        refs = {c.user_id: c.token_reference for c in s.scalars(select(KsefCredential))}
    sim.state.ksef_tokens[refs[targets[0].user_id]].revoked = True

    async def run():
        async with _bulk(bulk_ctx) as bulk:
            return await run_bulk("refresh", targets, bulk.refresh_from_ksef)

    report = asyncio.run(run())
    assert report.counts[OK] == 5 and report.counts[FAILED] == 1
    assert "Revoked" in report.results[0].message
    svc = dash.DashboardService(bulk_ctx.db)
    now = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    summary = svc.summary(bulk_ctx.actor, now=now)
    assert summary.today == dt.date(2026, 11, 24) and summary.policy.last_day == dt.date(2027, 11, 30)
    demo = summary.counts(DEMO)
    assert demo.counts[dash.TOKEN] == 6
    assert demo.counts[dash.TOKEN_INACTIVE] == 1
    assert demo.counts[dash.FAILING] == 1 and demo.reasons[0].count == 1
    assert demo.counts[dash.NEVER_TESTED] == 0
    assert demo.counts[dash.NOT_CONFIGURED] == 0
    rows = svc.page(bulk_ctx.actor, DEMO, dash.FAILING, 0, 10, now=now)
    assert [r.user_id for r in rows] == [targets[0].user_id]
    assert dash.split_row_id(rows[0].id) == (targets[0].user_id, targets[0].company_id, DEMO)
    out = io.StringIO()
    assert svc.export_csv(bulk_ctx.actor, DEMO, dash.TOKEN, out, now=now) == 6
    text = out.getvalue()
    assert text.splitlines()[0].startswith("environment,login")
    with bulk_ctx.db.session() as s:
        for c in s.scalars(select(KsefCredential)):
            assert c.token_last4 in text
    assert bulk_ctx.audit.count(bulk_ctx.actor, action="credential.token_status") == 1


def test_dashboard_states_in_sql(ctx):
    from benchmarks.bench_bulk import seed_token_users  # noqa: F401  (same seeding shape)
    from ksef_tui.demo.seed import seed_demo

    seed_demo(ctx.db, ctx.actor, companies=40, users=60, seed=3)
    svc = dash.DashboardService(ctx.db)
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    summary = svc.summary(ctx.actor, now=now)
    assert [e.environment for e in summary.environments] == [Environment.DEMO, Environment.PRODUCTION]
    n = summary.counts(DEMO).counts[dash.NOT_CONFIGURED]
    assert n == svc.count(ctx.actor, DEMO, dash.NOT_CONFIGURED) > 0
    assert len(svc.keys(ctx.actor, DEMO, dash.NOT_CONFIGURED)) == n
    rows = svc.page(ctx.actor, DEMO, dash.NOT_CONFIGURED, 0, 5)
    assert [r.id for r in svc.rows_for(ctx.actor, [r.id for r in rows])] == sorted(r.id for r in rows)


def test_ksef_check_cli_json(bulk_ctx, limited_sim, db_url, capsys, monkeypatch):
    """The token end date is the policy's (here: 20 days from today, whatever the day), never a constant."""
    from ksef_tui.cli import main as cli_main
    from ksef_tui.domain.clock import system_clock, today
    from ksef_tui.settings import reset_settings

    targets = seed(bulk_ctx, limited_sim.sim, 4)
    with bulk_ctx.db.session() as s:
        refs = {c.user_id: c.token_reference for c in s.scalars(select(KsefCredential))}
    limited_sim.sim.state.ksef_tokens[refs[targets[1].user_id]].revoked = True
    day = today(system_clock)  # the CLI's clock is the system's: the policy is set relative to it
    last_day = day + dt.timedelta(days=19)  # 20 days left, today included
    monkeypatch.setenv("KSEF_TUI_TOKEN_LAST_DAY", last_day.isoformat())
    reset_settings()

    def check(*extra):
        code = cli_main(["--database", db_url, "ksef", "check", "--json", *extra])
        return code, json.loads(capsys.readouterr().out)

    code, out = check("--env", "DEMO", "--within-days", "0")
    assert code == 1 and out["total"] == 4 and out["problems"] == 1
    assert out["token_policy"]["last_day"] == last_day.isoformat()
    assert out["token_policy"]["origin"] == "environment" and "KSEF_TUI_TOKEN_LAST_DAY" in out["token_policy"]["source"]
    bad = [r for r in out["rows"] if not r["ok"]]
    assert [r["login"] for r in bad] == ["user0001"] and "450" in bad[0]["message"]
    assert bad[0]["cause"] == "token-revoked" and bad[0]["permission_state"] is None
    assert {r["valid_to"] for r in out["rows"]} == {last_day.isoformat()}
    assert {r["valid_to_basis"] for r in out["rows"]} == {"policy"}
    assert {r["days_left"] for r in out["rows"]} == {20}
    code, out = check("--within-days", "20")  # every token stops working within 20 days
    assert code == 1 and out["problems"] == 4
    code, out = check("--within-days", "19")
    assert code == 1 and out["problems"] == 1
    with bulk_ctx.db.session() as s:
        secrets = [bulk_ctx.credentials.open_material(c).reveal() for c in s.scalars(select(KsefCredential))]
    assert not any(sec in json.dumps(out) for sec in secrets)


def test_ksef_check_token_policy_default_and_override(bulk_ctx, limited_sim, db_url, capsys, monkeypatch):
    """Acceptance: one token credential reports valid_to 2027-11-30 by default, 2026-12-31 under
    KSEF_TUI_TOKEN_LAST_DAY=2026-12-31; the plain report names no 31 Dec 2026 by default."""
    from ksef_tui.cli import main as cli_main
    from ksef_tui.settings import reset_settings

    seed(bulk_ctx, limited_sim.sim, 1)

    def check(*extra):
        code = cli_main(["--database", db_url, "ksef", "check", *extra])
        captured = capsys.readouterr()
        check.err = captured.err
        return code, captured.out

    _code, out = check("--json")
    data = json.loads(out)
    assert data["token_policy"]["last_day"] == "2027-11-30" and data["token_policy"]["origin"] == "default"
    assert "announced by MF" in data["token_policy"]["source"]
    assert [r["valid_to"] for r in data["rows"]] == ["2027-11-30"]
    _code, plain = check()
    assert "30 Nov 2027" in plain and "announced by MF" in plain
    assert "31 Dec 2026" not in plain and "2026-12-31" not in plain
    monkeypatch.setenv("KSEF_TUI_TOKEN_LAST_DAY", "2026-12-31")
    reset_settings()
    _code, out = check("--json")
    data = json.loads(out)
    assert data["token_policy"]["last_day"] == "2026-12-31"
    assert [r["valid_to"] for r in data["rows"]] == ["2026-12-31"]
    monkeypatch.setenv("KSEF_TUI_TOKEN_LAST_DAY", "31.12.2026")
    reset_settings()
    code, out = check("--json")
    assert code == 1 and out == ""
    assert "KSEF_TUI_TOKEN_LAST_DAY must be a date in the form YYYY-MM-DD" in check.err


def test_skipped_rows_have_a_reason(bulk_ctx, limited_sim):
    targets = seed(bulk_ctx, limited_sim.sim, 2)
    missing = Target(targets[0].user_id, targets[0].company_id, Environment.PRODUCTION, "x")

    async def run():
        async with _bulk(bulk_ctx) as bulk:
            return await run_bulk("test", [missing], bulk.test_authorization)

    report = asyncio.run(run())
    assert report.results[0].status == SKIPPED and "PRODUCTION" in report.results[0].message
    assert AuditEntry is not None
