"""Per-user KSeF flows through the service, the real gateway and loopback simulators."""

import asyncio

import pytest

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.ksef.views import CertificateFiles, KsefOperationError, describe
from ksef_tui.services.users import UserInput

NIP = "5265877635"
DEMO, PROD = Environment.DEMO, Environment.PRODUCTION


@pytest.fixture
def anna(ksef_ctx):
    ctx = ksef_ctx
    company = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    user = ctx.users.create(ctx.actor, UserInput(login="anna", full_name="Anna Nowak"), [company.id])
    return ctx, user.id, company.id


def run(coro):
    return asyncio.run(coro)


def test_pasted_token_authorizes_and_demo_token_fails_on_production(anna, ksef_servers):
    ctx, uid, cid = anna
    token = ksef_servers[DEMO].sim.issue_ksef_token(NIP)
    ctx.credentials.save_token(ctx.actor, uid, cid, DEMO, token)
    steps = []
    ok = run(ctx.credentials.test_authorization(ctx.actor, uid, cid, DEMO, progress=steps.append))
    assert ok.ok and ok.valid_until is not None and steps[0] == "challenge" and "redeemed" in steps
    view = ctx.credentials.get(ctx.actor, uid, cid, DEMO)
    assert view.last_auth_ok and describe(view, ctx.clock()).kind == "authorized"
    # the same token saved for PRODUCTION is refused by the PRODUCTION KSeF (another system)
    ctx.credentials.save_token(ctx.actor, uid, cid, PROD, token)
    bad = run(ctx.credentials.test_authorization(ctx.actor, uid, cid, PROD))
    assert not bad.ok and bad.hint
    assert describe(ctx.credentials.get(ctx.actor, uid, cid, PROD), ctx.clock()).kind == "failing"
    assert ctx.credentials.get(ctx.actor, uid, cid, DEMO).last_auth_ok  # DEMO untouched


def test_a_single_row_test_goes_through_the_hosts_limiter(anna, ksef_servers):
    """The row's "Test authorization" is paced like the bulk runs: by the one limiter of the host."""
    from ksef_tui.ksef.limits import limiter_for

    ctx, uid, cid = anna
    ctx.credentials.save_token(ctx.actor, uid, cid, DEMO, ksef_servers[DEMO].sim.issue_ksef_token(NIP))
    limiter = limiter_for(ksef_servers[DEMO].base_url)
    before = limiter.stats.requests
    assert run(ctx.credentials.test_authorization(ctx.actor, uid, cid, DEMO)).ok
    assert limiter.stats.requests - before >= 4  # challenge, token, status, redeem (and the keys once)


def test_profil_zaufany_token_flow(anna, ksef_servers, tmp_path):
    ctx, uid, cid = anna
    prepared = run(ctx.profil_zaufany.prepare_signed_file(ctx.actor, uid, cid, DEMO, tmp_path))
    assert prepared.path.exists() and prepared.challenge.encode() in prepared.path.read_bytes()
    signed = ksef_servers[DEMO].sim.sign_as_trusted_profile(prepared.path.read_bytes(), pesel="44051401359",
                                                           given_name="Jan", surname="Kowalski")
    # the person signing must have rights in the company (as after ZAW-FA): register them as on TEST
    sim = ksef_servers[DEMO].sim
    if not any(p.nip == NIP and p.pesel == "44051401359" for p in sim.state.persons):
        sim.testdata_person({"nip": NIP, "pesel": "44051401359", "isBailiff": False, "description": "owner"})
    view = run(ctx.profil_zaufany.token_from_signed_file(ctx.actor, uid, cid, DEMO, signed,
                                                     expected_challenge=prepared.challenge))
    assert view.method is AuthMethod.TOKEN and view.token_status == "Active"
    assert set(view.token_permissions) == {"InvoiceRead", "InvoiceWrite"}
    assert run(ctx.credentials.test_authorization(ctx.actor, uid, cid, DEMO)).ok


def test_certificate_authorization_saves_only_on_success(anna, ksef_servers):
    from ksef_tui.ksef.testcert import make_test_certificate

    ctx, uid, cid = anna
    cert, key = ksef_servers[PROD].sim.issue_ksef_certificate(nip=NIP, given_name="Anna", surname="Nowak")
    good = CertificateFiles(cert_data=cert.encode(), key_data=key.encode())
    view = run(ctx.credentials.authorize_certificate(ctx.actor, uid, cid, PROD, good))
    assert view.method is AuthMethod.CERTIFICATE and view.last_auth_ok and describe(view, ctx.clock()).kind == "authorized"
    # a self-signed certificate is refused by strict PRODUCTION: the previous one stays, still working
    self_pem, self_key = make_test_certificate(nip=NIP, key="ec")
    stranger = CertificateFiles(cert_data=self_pem, key_data=self_key.reveal())
    with pytest.raises(KsefOperationError) as e:
        run(ctx.credentials.authorize_certificate(ctx.actor, uid, cid, PROD, stranger))
    assert e.value.hint
    after = ctx.credentials.get(ctx.actor, uid, cid, PROD)
    assert after.cert_fingerprint == view.cert_fingerprint and after.version == view.version
    assert run(ctx.credentials.test_authorization(ctx.actor, uid, cid, PROD)).ok
