"""Credential rules, enforced by the service (no network here; flows with KSeF are in test_credentials_e2e)."""


import pytest

from ksef_tui.domain.auth import ApiVersion, AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.errors import PermissionDenied, ServiceError, ValidationFailed
from ksef_tui.services.actor import Actor
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.ksef.views import CertificateFiles, describe
from ksef_tui.services.users import UserInput

NIP, OTHER = "5265877635", "7762811692"
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9"


@pytest.fixture
def setup(ctx):
    a = ctx.actor
    on = ctx.companies.create(a, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    off = ctx.companies.create(a, CompanyInput(name="Beta", nip=OTHER, ksef_enabled=False))
    anna = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak", may_configure_ksef=True), [on.id, off.id])
    bob = ctx.users.create(a, UserInput(login="bob", full_name="Bob Kowalski"), [on.id])
    return ctx, on, off, anna, bob


def test_paste_token_saved_sealed_and_masked(setup):
    ctx, on, _off, anna, _bob = setup
    pasted = "  " + TOKEN[:50] + "\n" + TOKEN[50:] + " \r\n"
    view = ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, pasted)
    assert view.method is AuthMethod.TOKEN and view.token_last4 == TOKEN[-4:]
    assert view.token_masked.endswith(TOKEN[-4:]) and TOKEN[:20] not in view.token_masked
    assert view.token_reference == "20251010-EC-1DCE3E3000-12ECB5B36E-45"
    assert TOKEN not in repr(view)
    with ctx.db.engine.connect() as conn:
        raw = conn.exec_driver_sql("select token_blob from ksef_credential").fetchone()[0]
    assert TOKEN.encode() not in raw and TOKEN[-20:].encode() not in raw
    for e in ctx.audit.entries(ctx.actor):
        assert TOKEN[-20:] not in str(e.after) and TOKEN[-20:] not in str(e.before)
    rows = ctx.credentials.overview(ctx.actor, anna.id)
    assert [(r.company_name, r.environment.value, r.configured) for r in rows] == [
        ("Alfa", "DEMO", True), ("Alfa", "PRODUCTION", False), ("Beta", "DEMO", False), ("Beta", "PRODUCTION", False)]
    from ksef_tui.domain.clock import fixed_clock

    before_the_policy_day = fixed_clock("2026-12-03")()  # a token issued in 2025 still works then
    assert describe(rows[0], before_the_policy_day).kind == "token"
    assert describe(rows[1], ctx.clock()).kind == "not-configured" and describe(rows[2], ctx.clock()).kind == "ksef-off"


@pytest.mark.parametrize("bad,word", [
    ("", "Paste"), ("x" * 161, "160"), ("0123456789abcdef0123456789abcdef", "1.0 token"),
    ("not-a-token", "not a KSeF token"),
    ("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-7762811692|" + "a" * 64, "made for NIP 776-281-16-92"),
])
def test_bad_token_refused_and_nothing_saved(setup, bad, word):
    ctx, on, _off, anna, _bob = setup
    with pytest.raises(ValidationFailed) as e:
        ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, bad)
    assert word in e.value.errors["token"]
    assert not ctx.credentials.get(ctx.actor, anna.id, on.id, Environment.DEMO).configured


def test_ksef_off_or_not_a_member_is_refused(setup):
    ctx, _on, off, anna, bob = setup
    with pytest.raises(ServiceError, match=r"KSeF is switched off for Beta .*Additional data"):
        ctx.credentials.save_token(ctx.actor, anna.id, off.id, Environment.DEMO, TOKEN)
    with pytest.raises(ServiceError, match="bob does not belong to the company Beta"):
        ctx.credentials.save_token(ctx.actor, bob.id, off.id, Environment.DEMO, TOKEN)


def test_api_v1_refused_with_date(setup):
    ctx, on, _off, anna, _bob = setup
    with pytest.raises(ValidationFailed, match="switched off on 26 Jan 2026"):
        ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, TOKEN, api_version=ApiVersion.V1)


def test_client_rules(setup):
    ctx, on, _off, anna, bob = setup
    as_anna = Actor(anna.id, "anna", "client")
    as_bob = Actor(bob.id, "bob", "client")
    ctx.credentials.save_token(as_anna, anna.id, on.id, Environment.DEMO, TOKEN)  # allowed: herself, switch on
    with pytest.raises(PermissionDenied, match="only your own"):
        ctx.credentials.save_token(as_anna, bob.id, on.id, Environment.DEMO, TOKEN)
    with pytest.raises(PermissionDenied, match="not allowed you to configure"):
        ctx.credentials.save_token(as_bob, bob.id, on.id, Environment.DEMO, TOKEN)
    with pytest.raises(PermissionDenied):
        ctx.credentials.overview(as_bob, anna.id)
    assert [r.company_name for r in ctx.credentials.overview(as_anna, anna.id)] == ["Alfa", "Alfa"]  # KSeF-off company hidden


def test_demo_material_never_opens_for_production(setup):
    ctx, on, _off, anna, _bob = setup
    ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, TOKEN)
    ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.PRODUCTION, TOKEN)
    with ctx.db.engine.begin() as conn:  # copy the DEMO blob into the PRODUCTION row
        conn.exec_driver_sql(
            "UPDATE ksef_credential SET token_blob=(SELECT token_blob FROM ksef_credential WHERE environment='DEMO') "
            "WHERE environment='PRODUCTION'")
    from ksef_tui.store.models import KsefCredential
    from ksef_tui.vault.envelope import VaultError

    with ctx.db.session() as s:
        rows = {r.environment: r for r in s.query(KsefCredential)}
        assert ctx.credentials.open_material(rows["DEMO"]).reveal() == TOKEN
        with pytest.raises(VaultError, match="does not belong to this record"):
            ctx.credentials.open_material(rows["PRODUCTION"])


def test_certificate_saved_with_facts_and_method_rules(setup, database_bytes):
    from ksef_tui.ksef.testcert import make_test_certificate

    ctx, on, _off, anna, _bob = setup
    cert_pem, key = make_test_certificate(nip=NIP, key="ec")
    cred = CertificateFiles(cert_data=cert_pem, key_data=key.reveal())
    ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, TOKEN)
    with pytest.raises(ValidationFailed, match="No certificate"):
        ctx.credentials.set_method(ctx.actor, anna.id, on.id, Environment.DEMO, AuthMethod.CERTIFICATE)
    view = ctx.credentials.save_certificate(ctx.actor, anna.id, on.id, Environment.DEMO, cred)
    assert view.method is AuthMethod.CERTIFICATE and view.has_token and view.has_certificate
    assert view.cert_identifier and NIP in view.cert_identifier and len(view.cert_fingerprint) == 64
    back = ctx.credentials.set_method(ctx.actor, anna.id, on.id, Environment.DEMO, AuthMethod.TOKEN)
    assert back.method is AuthMethod.TOKEN and back.version == view.version + 1
    key_pem = key.reveal()
    raw = database_bytes(ctx.db.url)
    assert key_pem[40:80] not in raw and b"PRIVATE KEY" not in raw


def test_wrong_material_is_refused_by_field(setup):
    from ksef_tui.ksef.testcert import make_test_certificate

    ctx, *_ = setup
    cert_a, _key_a = make_test_certificate(nip=NIP, key="ec")
    _cert_b, key_b = make_test_certificate(nip=NIP, key="ec")
    with pytest.raises(ValidationFailed) as e:
        ctx.credentials.load_certificate(CertificateFiles(cert_data=cert_a, key_data=key_b.reveal()))
    assert "key" in e.value.errors and "does not belong" in e.value.errors["key"]
    with pytest.raises(ValidationFailed):
        ctx.credentials.load_certificate(CertificateFiles(cert_data=b"garbage", key_data=b"garbage"))


def test_wrong_master_key_stops_with_clear_message(setup, monkeypatch):
    ctx, on, _off, anna, _bob = setup
    ctx.credentials.save_token(ctx.actor, anna.id, on.id, Environment.DEMO, TOKEN)
    from ksef_tui.services.ksef.vault_access import VaultAccess
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, VaultError, encode_key

    monkeypatch.setenv(MASTER_KEY_ENV, encode_key(MasterKey.generate().raw()))
    with pytest.raises(VaultError, match="is not the key these secrets were stored with"):
        VaultAccess(ctx.db).check()
