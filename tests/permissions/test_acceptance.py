"""Issue 15 acceptance, end to end against the simulator through the CLI and the services (no mocks):
no grant → no-permission; a direct grant → ok; withdrawn → no-permission; model B (client → office
with canDelegate, office → employee from the panel) → ok; the client withdraws → chain-broken with
the employee's grant shown Inactive; a token whose author lost the rights → the token cause."""

from __future__ import annotations

import asyncio

from .conftest import CLIENT, DEMO, OFFICE, PIOTR


def test_direct_grant_then_withdrawal_through_the_cli(office):
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and out["cause"] == "no-permission"
    steps = {s["step"]: s for s in out["steps"]}
    assert steps["permission"]["status"] == "fail" and steps["permission"]["code"] == "415"
    assert "Brak przypisanych uprawnień" in steps["permission"]["evidence"]
    assert [s["step"] for s in out["steps"]] == ["company", "configured", "environment", "credential", "blocked",
                                                "permission", "chain", "identity", "availability", "challenge"]
    assert "Piotr Zieliński" in out["hint"] and "Alfa sp. z o.o." in out["hint"]
    assert out["request"] and "Pesel 44051401359" in out["request"]

    (grant,) = office.sim.grant_permissions(CLIENT, ("Pesel", PIOTR), ["InvoiceRead"])
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", "526-587-76-35", "--env", "demo",
                                "--base-url", office.base_url)
    assert code == 0 and out["cause"] == "ok" and out["permissions"] == ["InvoiceRead"]
    assert {s["step"]: s["status"] for s in out["steps"]}["permission"] == "ok"

    office.sim.revoke_permission(grant)
    code, text, err = office.cli("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and "cause: no-permission (authorized but no permission)" in text and not err
    assert "FAIL A permission in the company's context: KSeF answered 415" in text


def test_model_b_chain_and_the_client_withdrawing(office):
    ctx = office.ctx
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    (entity,) = office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity",
                                             can_delegate=True)
    first = office.diagnose(office.piotr)
    assert first.cause == "no-permission" and first.actions  # the office may grant it itself
    action = first.actions[0]
    assert (action.kind, action.identifier, action.scopes) == ("grant-indirect", f"Pesel {PIOTR}",
                                                               ("InvoiceRead", "InvoiceWrite"))
    done = asyncio.run(ctx.permissions.grant_indirect(ctx.actor, DEMO, office.piotr, action.identifier,
                                                      ["InvoiceRead"], office.client_id))
    assert done.ok and done.reference_number
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 0 and out["cause"] == "ok" and out["model"] == "B"
    picture = ctx.permissions.picture(ctx.actor, office.client_id, DEMO)
    piotr = next(u for u in picture.users if u.login == "piotr")
    assert piotr.state == "Active" and {(ln.scope, ln.source) for ln in piotr.lines} == {("InvoiceRead", "indirect")}

    office.sim.revoke_permission(entity)  # the client withdraws the office's grant
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and out["cause"] == "chain-broken"
    chain = {s["step"]: s for s in out["steps"]}["chain"]
    assert chain["status"] == "fail" and "Inactive" in chain["evidence"]
    assert "with the right to delegate" in out["hint"] and "NIP 776-281-16-92" in out["request"]
    picture = ctx.permissions.picture(ctx.actor, office.client_id, DEMO)
    piotr = next(u for u in picture.users if u.login == "piotr")
    assert piotr.cause == "chain-broken"
    assert [(ln.scope, ln.source, ln.state) for ln in piotr.lines if ln.source == "indirect"] == [
        ("InvoiceRead", "indirect", "Inactive")]
    audit = ctx.audit.actions(ctx.actor)
    assert "permission.grant_indirect" in audit and "credential.permission_check" in audit


def test_token_whose_author_lost_the_rights(office):
    ctx = office.ctx
    author = ("Nip", "9512431109")
    (grant,) = office.sim.grant_permissions(CLIENT, author, ["InvoiceRead"])
    token = office.sim.issue_ksef_token(CLIENT, ["InvoiceRead"], "token of a bookkeeper", author_nip=author[1])
    ctx.credentials.save_token(ctx.actor, office.anna, office.client_id, DEMO, token)
    assert office.diagnose(office.anna).cause == "ok"
    office.sim.revoke_permission(grant)
    diag = office.diagnose(office.anna)
    assert diag.cause == "token-invalid" and not diag.ok
    credential = {s.key: s for s in diag.steps}["credential"]
    assert credential.status == "fail" and "author" in credential.evidence and "415" in credential.evidence
    assert "author no longer holds" in diag.hint


def test_ksef_check_json_rows_carry_the_permission_state_and_cause(office):
    """`ksef-tui ksef check --json`: each row gains its permission state and diagnosis cause (item 6):
    Piotr through the office in Alfa (Active, ok), the same grant for Beta, which never delegated
    (Inactive, chain-broken), Anna with no grant (missing, no-permission); exit 1 with 2 problems."""
    ctx = office.ctx
    ctx.permissions.set_model(ctx.actor, office.client_id, "B")
    ctx.permissions.set_model(ctx.actor, office.other_id, "B")
    for company in (office.client_id, office.other_id):
        office.save_certificate(office.piotr, company, pesel=PIOTR)
    office.save_certificate(office.anna, office.client_id, pesel="90010112340", given="Anna", surname="Nowak")
    office.sim.grant_permissions(CLIENT, ("Nip", OFFICE), ["InvoiceRead"], kind="entity", can_delegate=True)
    office.sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceRead"], kind="indirect")  # all clients
    code, out = office.cli_json("ksef", "check", "--env", "DEMO", "--within-days", "0")
    rows = {(r["login"], r["nip"]): r for r in out["rows"]}
    assert code == 1 and out["total"] == 3 and out["problems"] == 2
    facts = {k: (r["ok"], r["cause"], r["permission_state"], r["permissions"]) for k, r in rows.items()}
    assert facts == {("piotr", CLIENT): (True, "ok", "Active", ["InvoiceRead"]),
                     ("piotr", "3755747347"): (False, "chain-broken", "Inactive", []),
                     ("anna", CLIENT): (False, "no-permission", "missing", [])}
    anna = rows[("anna", CLIENT)]
    assert anna["code"] == "415" and "Brak przypisanych uprawnień" in anna["message"]
    code, text, err = office.cli("ksef", "check", "--env", "DEMO", "--within-days", "0")
    assert code == 1 and not err and "chain-broken" in text and "2 with problems" in text
