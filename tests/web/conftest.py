"""Portal fixtures: a database with demo-like accounts (fast scrypt is not possible across
processes, so real hashes), and ``ksef-tui serve`` on a free loopback port."""

from __future__ import annotations

import pytest

from tests.web.portal import Portal

CLIENT, CLIENT_PASSWORD = "klientka", "Hasło-Klientki-2026"
ADMIN, ADMIN_PASSWORD = "szefowa", "Hasło-Szefowej-2026"
NIP = "5265877635"


@pytest.fixture
def office_db(ctx, db_url):
    """A company with KSeF on, a client in it (may configure KSeF) and an administrator, with passwords."""
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.companies import CompanyInput
    from ksef_tui.services.users import UserInput

    company = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa Sp. z o.o.", nip=NIP, ksef_enabled=True))
    client = ctx.users.create(ctx.actor, UserInput(login=CLIENT, full_name="Klara Klientka",
                                                   may_configure_ksef=True), [company.id])
    admin = ctx.users.create(ctx.actor, UserInput(login=ADMIN, full_name="Sara Szefowa", role="admin"))
    accounts = AccountService(ctx.db)
    accounts.set_password(ctx.actor, client.id, CLIENT_PASSWORD)
    accounts.set_password(ctx.actor, admin.id, ADMIN_PASSWORD)
    return db_url


@pytest.fixture
def portal_factory(tmp_path):
    """``start(db_url, *serve_args)``: the portal as a process (it inherits the test's data and
    config folders, so the master key is the test's)."""
    started: list[Portal] = []

    def start(db_url: str, *extra: str) -> Portal:
        portal = Portal(db_url, *extra, log=tmp_path / f"serve-{len(started)}.log")
        started.append(portal)
        return portal

    yield start
    for portal in started:
        portal.stop()
