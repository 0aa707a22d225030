"""Fixtures of the bulk tests: a fresh strict simulator (production limits on) per test."""

from __future__ import annotations

import pytest

PESEL = "44051401359"


@pytest.fixture
def limited_sim():
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    server = start_in_thread(create_app(SimulatorConfig(
        mode="strict", rate_limits=True, status_delay_s=0.0, token_activation_delay_s=0.0,
        enrollment_delay_s=0.0)))
    server.sim.faults._random.seed(5)
    yield server
    server.stop()


@pytest.fixture
def bulk_ctx(ctx, limited_sim):
    from ksef_tui.domain.environments import Environment

    ctx.credentials.set_endpoint(ctx.actor, Environment.DEMO, limited_sim.base_url)
    return ctx


def seed(ctx, sim, count, **kw):
    from benchmarks.bench_bulk import seed_token_users
    from ksef_tui.domain.environments import Environment

    return seed_token_users(ctx, sim, count, Environment.DEMO, **kw)


def give_rights(sim, targets, ctx) -> None:
    """The Profil Zaufany person has rights in every target's company."""
    from ksef_tui.store.models import Company

    with ctx.db.session() as s:
        nips = {s.get(Company, t.company_id).nip for t in targets}
    for nip in nips:
        sim.testdata_person({"nip": nip, "pesel": PESEL, "isBailiff": False, "description": "bulk test person"})


def pesel_for(index: int) -> str:
    """A valid PESEL per test person (born 1944-05-14, serial = index)."""
    base = f"440514{index:04d}"
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(base, weights)) % 10) % 10
    return base + str(check)


def give_each_rights(sim, targets, ctx) -> dict[int, str]:
    """Every user is a different person (a PESEL may hold only 6 KSeF certificates)."""
    from ksef_tui.store.models import Company, User

    out = {}
    with ctx.db.session() as s:
        for i, t in enumerate(targets):
            nip, login = s.get(Company, t.company_id).nip, s.get(User, t.user_id).login
            pesel = pesel_for(i)
            sim.testdata_person({"nip": nip, "pesel": pesel, "isBailiff": False, "description": f"person {login}"})
            out[login] = pesel
    return out
