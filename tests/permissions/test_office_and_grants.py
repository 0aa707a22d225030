"""The office's own identity, granting and withdrawing from the panel's services, reading a company's
picture, and the words to send the client: against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from ksef_tui.errors import ServiceError, ValidationFailed

from .conftest import CLIENT, DEMO, OFFICE, PIOTR


def test_office_identity_rules(ctx, sim_server):
    office = ctx.office
    with pytest.raises(ValidationFailed) as e:
        office.set_identity(ctx.actor, "1234567890", "")
    assert set(e.value.errors) == {"nip", "name"}
    with pytest.raises(ServiceError, match="Set the office's NIP first"):
        office.save_token(ctx.actor, DEMO, "x")
    office.set_identity(ctx.actor, "776-281-16-92", "Biuro  Bilans ")
    view = office.get(ctx.actor)
    assert (view.nip, view.name) == (OFFICE, "Biuro Bilans") and view.credential(DEMO) is None
    client_token = sim_server.sim.issue_ksef_token(CLIENT, ["InvoiceRead"], "token of the client")
    with pytest.raises(ValidationFailed, match="not for this company's NIP"):
        office.save_token(ctx.actor, DEMO, client_token)
    token = sim_server.sim.issue_ksef_token(OFFICE, ["CredentialsManage", "CredentialsRead"], "token of the office")
    saved = office.save_token(ctx.actor, DEMO, token)
    assert saved.method == "token" and saved.token_masked.endswith(token[-4:]) and token not in repr(saved)
    with pytest.raises(ValidationFailed, match="remove them before changing the NIP"):
        office.set_identity(ctx.actor, CLIENT, "Inne biuro")
    ctx.credentials.connections.set_endpoint(ctx.actor, DEMO, sim_server.base_url)
    assert asyncio.run(office.test(ctx.actor, DEMO)).ok
    assert office.get(ctx.actor).credential(DEMO).last_auth_ok is True
    office.remove(ctx.actor, DEMO)
    assert office.get(ctx.actor).credential(DEMO) is None
    actions = ctx.audit.actions(ctx.actor)
    assert {"office.identity", "office.token_set", "office.auth_ok", "office.remove"} <= set(actions)


def test_key_rotation_rewraps_the_office_credential(office, tmp_path):
    from ksef_tui.services.key_rotation import rotate_master_key

    result = rotate_master_key(office.ctx.db, office.ctx.actor)
    assert result.secrets >= 2  # the office's certificate and key
    office.ctx.credentials.vaults.reset(__import__("ksef_tui.vault.envelope", fromlist=["Vault"]).Vault(
        __import__("ksef_tui.vault.envelope", fromlist=["load_master_key"]).load_master_key(create=False)))
    assert asyncio.run(office.ctx.office.test(office.ctx.actor, DEMO)).ok


def test_person_grant_in_the_clients_context_and_its_withdrawal(office):
    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    # without CredentialsManage in the client's context the office cannot grant there
    refused = None
    try:
        refused = asyncio.run(ctx.permissions.grant_person(ctx.actor, DEMO, office.client_id, office.piotr, PIOTR,
                                                           ["InvoiceRead"]))
    except ServiceError as exc:
        assert "415" in str(exc) or "permission" in str(exc).lower()
    assert refused is None or not refused.ok
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["CredentialsManage"])
    done = asyncio.run(ctx.permissions.grant_person(ctx.actor, DEMO, office.client_id, office.piotr, PIOTR,
                                                    ["InvoiceRead", "InvoiceWrite"]))
    assert done.ok, done
    assert office.diagnose(office.piotr).cause == "ok"
    picture = ctx.permissions.picture(ctx.actor, office.client_id, DEMO)
    piotr = next(u for u in picture.users if u.login == "piotr")
    direct = [ln for ln in piotr.lines if ln.source == "direct"]
    assert {ln.scope for ln in direct} == {"InvoiceRead", "InvoiceWrite"}
    for line in direct:
        out = asyncio.run(ctx.permissions.withdraw(ctx.actor, DEMO, office.client_id, line.permission_id))
        assert out.ok
    diag = office.diagnose(office.piotr)
    assert diag.cause == "no-permission"
    assert {"permission.grant_person", "permission.withdraw"} <= set(ctx.audit.actions(ctx.actor))


def test_indirect_grant_for_all_clients_and_its_withdrawal(office):
    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.save_certificate(office.piotr, office.other_id, pesel=PIOTR)
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    done = asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, f"Pesel {PIOTR}",
                                                      ["InvoiceRead"], None))
    assert done.ok
    assert office.diagnose(office.piotr, office.client_id).cause == "ok"
    # Beta never granted the office anything: the grant for all clients does not work there
    beta = office.diagnose(office.piotr, office.other_id)
    assert beta.cause == "chain-broken"
    picture = ctx.permissions.picture(ctx.actor, office.other_id, DEMO)
    line = next(ln for u in picture.users if u.login == "piotr" for ln in u.lines)
    assert (line.source, line.state, line.target) == ("indirect", "Inactive", "AllPartners")
    out = asyncio.run(ctx.permissions.withdraw(ctx.actor, DEMO, office.client_id, line.permission_id))
    assert out.ok
    assert office.diagnose(office.piotr, office.client_id).cause == "no-permission"


def test_bad_grants_are_refused_before_ksef(office):
    ctx = office.ctx
    with pytest.raises(ValidationFailed):
        asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, PIOTR, ["CredentialsManage"],
                                                   office.client_id))
    with pytest.raises(ValidationFailed):
        asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, "12345", ["InvoiceRead"],
                                                   office.client_id))
    with pytest.raises(ValidationFailed):
        ctx.permissions.set_model(ctx.actor, office.client_id, "E")
    assert "permission.grant_indirect" not in ctx.audit.actions(ctx.actor)


def test_reading_a_company_picture(office):
    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    office.save_certificate(office.anna, office.client_id, pesel="90010112340", given="Anna", surname="Nowak")
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead", "InvoiceWrite"], kind="entity",
                                 can_delegate=True)
    office.sim.grant_permissions(CLIENT, ("Pesel", "90010112340"), ["InvoiceRead"])
    office.sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceWrite"], kind="indirect", client_nip=CLIENT)
    picture = asyncio.run(ctx.permissions.read_picture(ctx.actor, office.client_id, DEMO))
    assert picture.read_at is not None and picture.office_configured
    assert {(ln.scope, ln.can_delegate) for ln in picture.office.lines} == {("InvoiceRead", True), ("InvoiceWrite", True)}
    users = {u.login: u for u in picture.users}
    assert users["piotr"].state == "Active" and users["piotr"].cause == "ok"
    assert {(ln.scope, ln.source) for ln in users["piotr"].lines} == {("InvoiceWrite", "indirect")}
    assert {(ln.scope, ln.source) for ln in users["anna"].lines} == {("InvoiceRead", "direct")}
    # the office may not read the client's grants (no CredentialsRead there): said, not hidden
    assert "cannot read the client's grants" in (picture.note or "")


def test_request_to_the_client(office):
    ctx = office.ctx
    text = ctx.permissions.request_text(ctx.actor, office.client_id, DEMO)
    assert "Biuro Rachunkowe Bilans sp. z o.o., NIP 776-281-16-92" in text
    assert "viewing invoices (InvoiceRead)" in text and "canDelegate" in text and "NIP 526-587-76-35" in text
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    person = ctx.permissions.request_text(ctx.actor, office.client_id, DEMO, user_id=office.piotr)
    assert "Piotr Zieliński (Pesel 44051401359)" in person
    from ksef_tui import i18n

    i18n.set_language("pl")
    try:
        polish = ctx.permissions.request_text(ctx.actor, office.client_id, DEMO)
    finally:
        i18n.set_language("en")
    assert polish != text
