"""The dashboard's picture (services/ksef/health): states per environment that add up, the 24-month
timeline of token and certificate ends, and a title computed from what is most urgent, on any day."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ksef_tui.domain.clock import fixed_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.token_policy import DEFAULT_POLICY, PolicyOrigin
from ksef_tui.services.ksef.health import ERROR, NOTE, WARNING, HealthService, next_end_text
from ksef_tui.store.models import KsefCredential

from .conftest import seed

DEMO = Environment.DEMO


def _states(ctx, limited_sim, n=6):
    """n token users; two failing, one with a certificate tested OK expiring 2027-01-20."""
    targets = seed(ctx, limited_sim.sim, n)
    with ctx.db.session() as s:
        creds = list(s.scalars(select(KsefCredential).order_by(KsefCredential.id)))
        creds[0].last_auth_ok, creds[0].last_auth_error = False, "status 450"
        creds[1].last_auth_ok, creds[1].last_auth_error = False, "status 450"
        creds[2].method, creds[2].cert_blob = "certificate", b"x"
        creds[2].cert_valid_to = dt.datetime(2027, 1, 20, tzinfo=dt.UTC)
        creds[2].last_auth_ok = True
        for c in creds[3:]:
            c.token_reference = "20261015-EC-1DCE3E3000-12ECB5B36E-45"
    return targets


@pytest.mark.parametrize("day", ["2026-11-30", "2026-12-31", "2027-01-01", "2027-12-01"])
def test_health_on_the_four_days(bulk_ctx, limited_sim, day):
    _states(bulk_ctx, limited_sim)
    svc = HealthService(bulk_ctx.db, clock=fixed_clock(day), policy=DEFAULT_POLICY)
    h = svc.health(bulk_ctx.actor)
    demo = h.env(DEMO)
    assert demo.total == 6 and demo.companies == 6
    if day == "2027-12-01":  # tokens ended by policy; the certificate too
        assert (demo.ready, demo.token, demo.failing, demo.token_ended, demo.cert_expired) == (0, 0, 6, 5, 1)
        assert h.urgency == ERROR and "credentials fail" in h.title
        assert all(m.tokens == 0 for m in h.timeline)  # nothing left to end: they have ended
    else:
        assert (demo.ready, demo.token, demo.failing) == (1, 3, 2)
        assert h.urgency == ERROR and h.title == "DEMO: 2 credentials fail; fix them first"
        nov = next(m for m in h.timeline if m.month == dt.date(2027, 11, 1))
        assert nov.tokens == 5  # every token in use (failing or not) ends by policy on 30 Nov 2027
        jan = [m for m in h.timeline if m.month == dt.date(2027, 1, 1)]
        assert (jan[0].certificates if jan else 0) == (0 if day == "2027-12-01" else 1)
    assert len(h.timeline) == 24 and h.timeline[0].month == dt.date.fromisoformat(day).replace(day=1)


def test_title_follows_the_facts(bulk_ctx, limited_sim):
    targets = seed(bulk_ctx, limited_sim.sim, 3)
    clock = fixed_clock("2026-12-03")
    h = HealthService(bulk_ctx.db, clock=clock).health(bulk_ctx.actor)
    # nothing fails or ends soon: what is left to do, production first
    assert h.urgency == NOTE and h.title == "PRODUCTION: 3 users of companies with KSeF on are not configured"
    soon = DEFAULT_POLICY.with_last_day(dt.date(2026, 12, 31), origin=PolicyOrigin.ENVIRONMENT)
    h = HealthService(bulk_ctx.db, clock=clock, policy=soon).health(bulk_ctx.actor)
    assert h.urgency == WARNING and h.title == ("DEMO: 3 tokens stop working by 31 Dec 2026 (set by "
                                                "KSEF_TUI_TOKEN_LAST_DAY); move them to KSeF certificates")
    h = HealthService(bulk_ctx.db, clock=fixed_clock("2027-01-02"), policy=soon).health(bulk_ctx.actor)
    assert h.urgency == ERROR and "expired by policy on 31 Dec 2026" in h.title
    assert next_end_text(HealthService(bulk_ctx.db, clock=clock).health(bulk_ctx.actor).timeline) == \
        "3 tokens end in Nov 2027"
    assert targets
