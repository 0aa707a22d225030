"""Issue 11 acceptance: the independent client (kclient, written from the spec, sharing no code with
the simulator or the gateway) passes against a TEST-mode simulator over real loopback HTTP.

Strict mode (no /testdata, an outside CA passed by --trust-ca) is in test_strict_process.py. Every
response here goes through the 2.9.0 contract hook of ``net_client``.
"""

from __future__ import annotations

from functools import partial

import pytest

from .conftest import NIP
from .kclient import Ksef, exception_code, new_key, self_signed, sign, subject, xades_sign


@pytest.fixture
def owner(net_client) -> dict:
    key = new_key("ec")
    return Ksef(net_client).login_xades_with(xades_sign, key, self_signed(subject(nip=NIP), key), NIP)


def test_token_with_collective_identifier_manage(net_client, owner):
    k = Ksef(net_client)
    generated = k.generate_token(owner, ["InvoiceWrite", "CollectiveIdentifierManage"], "kclient: zbiorcze")
    session = k.login_token(generated["token"], NIP)
    status = k.token(session, generated["referenceNumber"])
    assert status["requestedPermissions"] == ["InvoiceWrite", "CollectiveIdentifierManage"]
    assert status["status"] == "Active" and status["lastUseDate"]


def test_rate_limit_groups_of_2_8(net_client, owner):
    limits = Ksef(net_client).rate_limits(owner)
    assert {"anonymous", "global", "onlineSessionClose", "batchSessionClose", "collectiveIdentifier"} <= set(limits)
    assert limits["onlineSessionClose"] == {"perSecond": 20, "perMinute": 60, "perHour": 240}
    assert limits["batchSessionClose"] == {"perSecond": 20, "perMinute": 40, "perHour": 120}
    assert Ksef(net_client).context_limits(owner)["collectiveIdentifier"]["maxInvoices"] >= 2


@pytest.mark.parametrize("problem_details", [False, True])
def test_unreadable_json_is_21001(net_client, owner, problem_details):
    k = Ksef(net_client)
    headers = {"Content-Type": "application/json"}
    if problem_details:
        headers["X-Error-Format"] = "problem-details"
    public = k.call("POST", "/auth/ksef-token", content=b'{"challenge": "20250', headers=headers, expect=400)
    protected = k.call("POST", "/tokens", owner, content=b"\x00\x01", headers=headers, expect=400)
    assert exception_code(public) == exception_code(protected) == 21001


def test_system_warning_echo(net_client):
    r = Ksef(net_client).call("POST", "/auth/challenge", warning="[kc-1]: Próba ostrzeżeń | [kc-2]: druga",
                              expect=200)
    assert r.headers["X-System-Warning"] == "[kc-1]: Proba ostrzezen | [kc-2]: druga"


@pytest.mark.parametrize("signer", [partial(xades_sign, pss=True), partial(sign, pss=True)],
                         ids=["kclient-xmldsig", "signxml"])
def test_rsa_pss_signed_request_authenticates(net_client, signer):
    key = new_key("rsa")
    session = Ksef(net_client).login_xades_with(signer, key, self_signed(subject(nip=NIP, person=True), key), NIP)
    assert session["accessToken"]["token"] and session["refreshToken"]["token"]


def test_the_client_shares_no_code_with_the_simulator_or_the_gateway():
    import ast
    from pathlib import Path

    from . import kclient

    tree = ast.parse(Path(kclient.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    # the spec validator (tests.contract) is the spec itself, not code of the simulator or the gateway
    shared = [n for n in imported if n.startswith(("ksef_tui", "ksef_client", "tests")) and n != "tests.contract.openapi"]
    assert not shared, imported
