"""Roles × actions × ownership × switch: every denied cell raises, every allowed one succeeds.

The services are the guard (the UI only hides). Cells:
  actor: administrator | client (anna)
  subject: anna's own credential | another user's (bob) — both in Alfa
  company: a member company with KSeF on (Alfa) | not a member (Beta) | a member with KSeF off (Gamma)
  switch: anna may configure KSeF herself | blocked
"""

from __future__ import annotations

import asyncio

import pytest

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.errors import PermissionDenied, ServiceError
from ksef_tui.services.actor import Actor
from ksef_tui.services.ksef.views import CertificateFiles

from .conftest import NIP_ALFA, Office

ENV = Environment.TEST
ACTIONS = ("overview", "get", "save_token", "save_certificate", "set_method", "test_authorization", "remove")
WRITES = {"save_token", "save_certificate", "set_method", "remove"}


@pytest.fixture
def matrix(office: Office, ksef_servers):
    from ksef_tui.ksef.testcert import make_test_certificate

    ctx = office.ctx
    ctx.credentials.connections.set_endpoint(ctx.actor, ENV, ksef_servers[ENV].base_url)
    sim = ksef_servers[ENV].app.state.sim
    cert_pem, key = make_test_certificate(nip=NIP_ALFA, key="ec")
    cred = CertificateFiles(cert_data=cert_pem, key_data=key.reveal())
    return office, sim, cred


def _switch(office: Office, allowed: bool) -> None:
    office.ctx.users.serial_set_may_configure(office.ctx.actor, [office.anna], allowed)


def _prepare(office: Office, sim, cred, subject: int, company: int) -> None:
    """An administrator saves a token and a certificate first (where the company allows it)."""
    ctx = office.ctx
    enabled = ctx.companies.get(ctx.actor, company).ksef_enabled if hasattr(ctx.companies, "get") else True
    member = company in ctx.users.get(ctx.actor, subject).company_ids
    if enabled and member:
        ctx.credentials.save_certificate(ctx.actor, subject, company, ENV, cred)
        ctx.credentials.save_token(ctx.actor, subject, company, ENV, sim.issue_ksef_token(context_nip=NIP_ALFA)
                                   if company == office.alfa else _token_for(ctx, company, sim))


def _token_for(ctx, company: int, sim) -> str:
    return sim.issue_ksef_token(context_nip=ctx.companies.get(ctx.actor, company).nip)


def _run(office: Office, sim, cred, actor: Actor, action: str, subject: int, company: int):
    svc = office.ctx.credentials
    if action == "overview":
        return svc.overview(actor, subject)
    if action == "get":
        return svc.get(actor, subject, company, ENV)
    if action == "save_token":
        nip = office.ctx.companies.get(office.ctx.actor, company).nip
        return svc.save_token(actor, subject, company, ENV, sim.issue_ksef_token(context_nip=nip))
    if action == "save_certificate":
        return svc.save_certificate(actor, subject, company, ENV, cred)
    if action == "set_method":
        return svc.set_method(actor, subject, company, ENV, AuthMethod.CERTIFICATE)
    if action == "test_authorization":
        return asyncio.run(svc.test_authorization(actor, subject, company, ENV))
    if action == "remove":
        return svc.remove(actor, subject, company, ENV)
    raise AssertionError(action)


def _expected(actor_role: str, own: bool, company: str, allowed: bool, action: str):
    """None: allowed; else (exception class, message pattern)."""
    if action == "overview":
        if actor_role == "admin" or own:
            return None
        return PermissionDenied, "only your own KSeF settings"
    if company == "beta":  # not a member: a rule for everyone
        if actor_role == "client" and not own:
            return PermissionDenied, "only your own KSeF settings"
        if actor_role == "client" and action in WRITES - {"remove"} and not allowed:
            return PermissionDenied, "has not allowed you to configure KSeF"
        # remove checks membership first; a client is refused with a permission error, an admin told the rule
        return (ServiceError if actor_role == "admin" else PermissionDenied), "does not belong to the company"
    if actor_role == "client" and not own:
        return PermissionDenied, "only your own KSeF settings"
    if actor_role == "client" and action in WRITES and not allowed:
        return PermissionDenied, "has not allowed you to configure KSeF"
    denied = ServiceError if actor_role == "admin" else PermissionDenied
    if company == "gamma" and (action in WRITES - {"remove"} or action == "test_authorization"):
        return denied, "KSeF is switched off"
    if company == "gamma" and action == "remove" and actor_role == "client":
        return denied, "KSeF is switched off"
    return None


CELLS = [
    (role, own, company, allowed, action)
    for role in ("admin", "client")
    for own in (True, False)
    for company in ("alfa", "beta", "gamma")
    for allowed in (True, False)
    for action in ACTIONS
    if not (role == "admin" and not own)  # "own" means nothing for an administrator
]


@pytest.mark.parametrize("role,own,company,allowed,action", CELLS,
                         ids=["-".join([c[0], "own" if c[1] else "other", c[2], "allowed" if c[3] else "blocked", c[4]])
                              for c in CELLS])
def test_credential_matrix(matrix, role, own, company, allowed, action):
    office, sim, cred = matrix
    company_id = {"alfa": office.alfa, "beta": office.beta, "gamma": office.gamma}[company]
    subject = office.anna if own else office.bob
    _prepare(office, sim, cred, subject, company_id)
    _switch(office, allowed)
    actor = office.ctx.actor if role == "admin" else office.actor(office.anna)
    expected = _expected(role, own, company, allowed, action)
    if expected is None:
        result = _run(office, sim, cred, actor, action, subject, company_id)
        if action == "test_authorization":
            assert result.ok, result.message
        if action == "overview" and role == "client":
            # a client sees only their companies with KSeF on
            assert {v.company_id for v in result} == {office.alfa}
    else:
        exc, pattern = expected
        with pytest.raises(exc, match=pattern):
            _run(office, sim, cred, actor, action, subject, company_id)


def test_client_reads_of_the_panel_are_denied(office: Office):
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.services.users import UserFilter

    ctx, anna = office.ctx, office.actor(office.anna)
    denied = [
        lambda: ctx.companies.count(anna, CompanyFilter()),
        lambda: ctx.companies.page(anna, CompanyFilter(), 0, 10),
        lambda: ctx.companies.set_ksef(anna, office.alfa, False),
        lambda: ctx.users.count(anna),
        lambda: ctx.users.page(anna, UserFilter(), 0, 10),
        lambda: ctx.users.get(anna, office.bob),
        lambda: ctx.users.companies_of(anna, office.bob),
        lambda: ctx.users.serial_set_may_configure(anna, [office.anna], True),
        lambda: ctx.audit.entries(anna),
        lambda: ctx.audit.count(anna),
        lambda: AccountService(ctx.db).issue_code(anna, office.anna),
        lambda: AccountService(ctx.db).status(anna, office.bob),
    ]
    for call in denied:
        with pytest.raises(PermissionDenied):
            call()
    # their own user record and company list they may read
    assert ctx.users.get(anna, office.anna).login == "anna"
    assert {c[0] for c in ctx.users.companies_of(anna, office.anna)} == {office.alfa, office.gamma}
