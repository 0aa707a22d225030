"""Fixtures for the user's KSeF screen: a small panel database, simulators, a host app."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.context import AppContext
from ksef_tui.services.users import UserInput
from tests.pilot import PanelApp, no_blink, settle, wait_until  # noqa: F401  (the tests import them from here)

NIP = "5265877635"  # Alfa, KSeF on
OTHER_NIP = "7762811692"  # Beta, KSeF off
PESEL = "90010112345"
DATA = Path(__file__).parent / "data"
#: the moment the snapshot tests freeze (the fixed test certificates are valid 2026-01-01 → 2028-01-01)
FROZEN = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@dataclass
class Panel:
    ctx: AppContext
    user_id: int
    alfa: int
    beta: int


@pytest.fixture
def panel(ctx: AppContext) -> Panel:
    a = ctx.actor
    alfa = ctx.companies.create(a, CompanyInput(name="Alfa Sp. z o.o.", nip=NIP, ksef_enabled=True))
    beta = ctx.companies.create(a, CompanyInput(name="Beta [/] S.A.", nip=OTHER_NIP, ksef_enabled=False))
    anna = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak", may_configure_ksef=True),
                            [alfa.id, beta.id])
    return Panel(ctx, anna.id, alfa.id, beta.id)


def _start_sim():
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", status_delay_s=0.0, token_activation_delay_s=0.0,
                                     enrollment_delay_s=0.0))
    return app.state.sim, serve_in_thread(app)


@dataclass
class Sims:
    demo: object
    prod: object
    demo_url: str
    prod_url: str


@pytest.fixture
def sims(panel: Panel) -> Iterator[Sims]:
    """Two simulators: one plays DEMO, the other PRODUCTION (so the two are really apart)."""
    demo, demo_server = _start_sim()
    prod, prod_server = _start_sim()
    with demo_server as d, prod_server as p:
        panel.ctx.credentials.connections.set_endpoint(panel.ctx.actor, Environment.DEMO, d.base_url)
        panel.ctx.credentials.connections.set_endpoint(panel.ctx.actor, Environment.PRODUCTION, p.base_url)
        yield Sims(demo, prod, d.base_url, p.base_url)


def host(panel: Panel, clock=None) -> PanelApp:
    """The panel with the user's KSeF screen open (over the first section)."""
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    kwargs = {"clock": clock} if clock else {}
    return PanelApp(panel.ctx, lambda: UserKsefScreen(panel.ctx, panel.user_id, **kwargs))
