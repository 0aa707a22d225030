"""The KSeF libraries loaded ahead (services/ksef/preload.py, ksef/preload.py): after it, a token
test and a certificate authorization import nothing more of the gateway or its libraries.

Checked in a fresh process (this one has imported everything already), against a simulator in
this one (the simulator's own libraries must not be in the process that is checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.ksef.credentials import CertificateFiles
from ksef_tui.services.users import UserInput

NIP = "5265877635"
#: the gateway and the libraries it imports where they are first needed
HEAVY = ("ksef_tui.ksef", "ksef_tui.vault", "cryptography", "lxml", "ksef_client", "xmlsec", "httpx", "httpcore",
         "anyio", "h11", "certifi", "idna")

CHECKED = r"""
import asyncio, json, sys

import ksef_tui.ui.app  # what the panel has loaded when it starts
from ksef_tui.domain.environments import Environment
from ksef_tui.services.actor import Actor
from ksef_tui.services.context import AppContext
from ksef_tui.store.engine import open_database

url, user_id, company_id, preload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
ctx = AppContext(open_database(url, migrate=False), Actor.local_admin("preload"))
if preload:
    from ksef_tui.services.ksef.preload import load_ksef_libraries

    load_ksef_libraries()
before = set(sys.modules)

async def both():
    return [await ctx.credentials.test_authorization(ctx.actor, user_id, company_id, env)
            for env in (Environment.DEMO, Environment.PRODUCTION)]

outcomes = asyncio.run(both())
print(json.dumps({"ok": [o.ok for o in outcomes], "imported": sorted(set(sys.modules) - before)}))
"""


def _run(db_url: str, user_id: int, company_id: int, preload: bool) -> dict:
    done = subprocess.run([sys.executable, "-c", CHECKED, db_url, str(user_id), str(company_id),
                           "1" if preload else "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_after_the_preload_a_token_test_and_a_certificate_authorization_import_nothing_more(
        ctx, db_url, server) -> None:
    from ksef_tui.ksef.testcert import make_test_certificate

    a = ctx.actor
    company = ctx.companies.create(a, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    user = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak"), [company.id])
    for env in (Environment.DEMO, Environment.PRODUCTION):
        ctx.credentials.connections.set_endpoint(a, env, server.base_url)
    ctx.credentials.save_token(a, user.id, company.id, Environment.DEMO, server.sim.issue_ksef_token(context_nip=NIP))
    cert, key = make_test_certificate(nip=NIP, kind="seal", key="ec")
    ctx.credentials.save_certificate(a, user.id, company.id, Environment.PRODUCTION,
                                     CertificateFiles(cert_data=cert, key_data=key.reveal()))

    without = _run(db_url, user.id, company.id, preload=False)
    assert without["ok"] == [True, True]
    heavy = [m for m in without["imported"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert "ksef_tui.ksef.gateway" in heavy and "lxml.etree" in heavy, "the check sees the first call's imports"

    after = _run(db_url, user.id, company.id, preload=True)
    assert after["ok"] == [True, True]
    assert [m for m in after["imported"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)] == []
