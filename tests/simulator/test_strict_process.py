"""A fresh strict simulator started like ``ksef-tui simulator --mode strict --trust-ca FILE``.

Strict mode behaves like DEMO/PRODUCTION: only certificates chaining to a trusted CA log in, and
there is no /testdata API. ``--trust-ca`` adds an outside CA, so an independent client logs in
with certificates of its own CA. Every response is validated against openapi-v2.9.0.json.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from .conftest import NIP, ROOT, contract_hook, simulator_process
from .kclient import Ksef, TestCa, auth_xml, new_key, self_signed, subject, xades_sign


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    trusted, other = TestCa("Kclient Trusted CA"), TestCa("Kclient Unknown CA")
    folder = tmp_path_factory.mktemp("ca")
    (folder / "trusted.pem").write_bytes(trusted.pem)
    return trusted, other, folder / "trusted.pem"


@pytest.fixture(scope="module")
def strict(cas):
    with simulator_process("--mode", "strict", "--trust-ca", str(cas[2])) as base_url, \
            httpx.Client(base_url=base_url, event_hooks={"response": [contract_hook]}, timeout=10) as http:
        yield http


def test_certificate_of_a_trusted_outside_ca_logs_in(strict, cas):
    trusted = cas[0]
    key = new_key("ec")
    cert = trusted.issue(subject(nip=NIP), key)
    k = Ksef(strict)
    tokens = k.login_xades_with(xades_sign, key, cert, NIP)
    sessions = strict.get("/auth/sessions", headers={"Authorization": f"Bearer {tokens['accessToken']['token']}"})
    assert sessions.json()["items"][0]["authenticationMethodInfo"]["code"] == "xades.qualified-seal"


def test_intermediate_ca_travels_in_key_info(strict, cas):
    intermediate = TestCa("Kclient Issuing CA", issuer=cas[0])
    key = new_key("rsa")
    cert = intermediate.issue(subject(nip=NIP, person=True), key)
    k = Ksef(strict)
    without = k.final_status(k.start_xades(xades_sign(auth_xml(k.challenge()["challenge"], NIP), key, cert)))
    assert without["status"]["details"] == ["Niezaufany łańcuch certyfikatów."]
    signed = xades_sign(auth_xml(k.challenge()["challenge"], NIP), key, cert, chain=[intermediate.cert], pss=True)
    assert k.final_status(k.start_xades(signed))["status"]["code"] == 200


@pytest.mark.parametrize("issuer", ["self-signed", "unknown CA"])
def test_other_certificates_are_untrusted(strict, cas, issuer):
    key = new_key("ec")
    cert = self_signed(subject(nip=NIP), key) if issuer == "self-signed" else cas[1].issue(subject(nip=NIP), key)
    k = Ksef(strict)
    status = k.final_status(k.start_xades(xades_sign(auth_xml(k.challenge()["challenge"], NIP), key, cert)))["status"]
    assert status == {"code": 460, "description": "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu "
                      "certyfikatu", "details": ["Niezaufany łańcuch certyfikatów."]}


def test_no_testdata_api(strict):
    r = strict.post("/testdata/person", json={"nip": NIP, "pesel": "90010112345", "isBailiff": False,
                                              "description": "właściciel"})
    assert r.status_code == 404


def test_trust_ca_file_that_is_not_a_certificate_is_refused(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    result = subprocess.run([sys.executable, "-m", "ksef_tui", "simulator", "--trust-ca", str(bad)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2 and "no PEM certificate" in result.stderr
