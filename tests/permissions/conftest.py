"""Fixtures of the permission tests: a fresh strict simulator per test (DEMO), an office with its own
KSeF identity, a client company and its users, and the CLI through its real entry point."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.services.users import UserInput

CLIENT = "5265877635"
OTHER_CLIENT = "3755747347"
OFFICE = "7762811692"
PIOTR = "44051401359"  # an office employee's PESEL
DEMO = Environment.DEMO


@pytest.fixture
def sim_server():
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    server = start_in_thread(create_app(SimulatorConfig(
        mode="strict", status_delay_s=0.0, token_activation_delay_s=0.0, enrollment_delay_s=0.0,
        permission_operation_delay_s=0.0)))
    yield server
    server.stop()


@dataclass
class Office:
    ctx: object
    sim: object
    base_url: str
    client_id: int
    other_id: int
    piotr: int
    anna: int

    def save_certificate(self, user_id: int, company_id: int, *, pesel: str | None = None, nip: str | None = None,
                         given: str = "Piotr", surname: str = "Zieliński", **kw) -> None:
        cert, key = self.sim.issue_ksef_certificate(pesel=pesel, nip=nip, given_name=given, surname=surname, **kw)
        self.ctx.credentials.save_certificate(self.ctx.actor, user_id, company_id, DEMO,
                                              CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))

    def diagnose(self, user_id: int, company_id: int | None = None):
        return asyncio.run(self.ctx.diagnosis.diagnose(self.ctx.actor, user_id, company_id or self.client_id, DEMO))

    def cli(self, *args: str) -> tuple[int, str, str]:
        cmd = [sys.executable, "-m", "ksef_tui", "--database", self.ctx.db.url, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=120)
        return r.returncode, r.stdout, r.stderr

    def cli_json(self, *args: str) -> tuple[int, dict]:
        code, out, err = self.cli(*args, "--json")
        assert "Traceback" not in err, err
        return code, json.loads(out)


@pytest.fixture
def office(ctx, sim_server) -> Office:
    """The office (NIP 7762811692, its seal in DEMO), a client Alfa and another client Beta, with
    Piotr (an office employee) and Anna in both."""
    ctx.credentials.connections.set_endpoint(ctx.actor, DEMO, sim_server.base_url)
    alfa = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa sp. z o.o.", nip=CLIENT, ksef_enabled=True))
    beta = ctx.companies.create(ctx.actor, CompanyInput(name="Beta S.A.", nip=OTHER_CLIENT, ksef_enabled=True))
    piotr = ctx.users.create(ctx.actor, UserInput(login="piotr", full_name="Piotr Zieliński"), [alfa.id, beta.id])
    anna = ctx.users.create(ctx.actor, UserInput(login="anna", full_name="Anna Nowak"), [alfa.id, beta.id])
    ctx.office.set_identity(ctx.actor, OFFICE, "Biuro Rachunkowe Bilans sp. z o.o.")
    cert, key = sim_server.sim.issue_ksef_certificate(nip=OFFICE, common_name="Biuro Bilans")
    ctx.office.save_certificate(ctx.actor, DEMO, CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))
    return Office(ctx, sim_server.sim, sim_server.base_url, alfa.id, beta.id, piotr.id, anna.id)
