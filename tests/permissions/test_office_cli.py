"""`ksef-tui ksef office ...` through the real entry point, then a diagnosis that reads the chain with it."""

from __future__ import annotations

from .conftest import CLIENT, OFFICE, PIOTR


def test_the_office_from_the_command_line(office, tmp_path):
    ctx, sim = office.ctx, office.sim
    ctx.office.remove(ctx.actor, __import__("ksef_tui.domain.environments", fromlist=["Environment"]).Environment.DEMO)
    code, out, err = office.cli("ksef", "office", "set", "--nip", "1234567890", "--name", "Biuro")
    assert code == 2 and "NIP" in err and "Traceback" not in err
    code, out, err = office.cli("ksef", "office", "set", "--nip", OFFICE, "--name", "Biuro Rachunkowe Bilans sp. z o.o.")
    assert code == 0 and f"NIP {OFFICE}" in out
    cert, key = sim.issue_ksef_certificate(nip=OFFICE, common_name="Biuro Bilans")
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_text(key)
    code, out, err = office.cli("ksef", "office", "credential", "--env", "DEMO", "--cert", str(tmp_path / "cert.pem"),
                                "--key", str(tmp_path / "key.pem"))
    assert code == 0 and "VATPL-7762811692" in out, err
    code, out, err = office.cli("ksef", "office", "test", "--env", "DEMO", "--base-url", "ftp://nowhere")
    assert code == 2
    code, out, err = office.cli("ksef", "office", "test", "--env", "DEMO")
    assert code == 0 and "authorized" in out
    code, out, err = office.cli("ksef", "office", "show")
    assert code == 0 and "DEMO" in out and "authorized" in out and key.splitlines()[1] not in out
    # the office's view is what tells a broken chain from a missing permission
    office.save_certificate(office.piotr, office.client_id, pesel=PIOTR)
    sim.grant_permissions(OFFICE, ("Pesel", PIOTR), ["InvoiceRead"], kind="indirect", client_nip=CLIENT)
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and out["cause"] == "chain-broken"
    code, out, err = office.cli("ksef", "office", "remove", "--env", "DEMO")
    assert code == 0
    code, out = office.cli_json("ksef", "diagnose", "piotr", "--nip", CLIENT, "--env", "DEMO")
    assert code == 1 and out["cause"] == "no-permission"  # without the office's view: no chain to see
    chain = {s["step"]: s for s in out["steps"]}["chain"]
    assert chain["status"] == "unknown" and "no KSeF credential" in chain["evidence"]
