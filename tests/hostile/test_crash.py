"""No secret on any crash path: a crash forced in the panel with a PKCS#12 password and a KSeF token
in scope leaves neither on the screen, on stderr or in any log (byte search, like the suite's scan).
Textual's own crash screen prints every frame's local variables: this failed before the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from textual.widgets import Input

from ksef_tui.domain.environments import Environment
from tests.ui_ksef.conftest import NIP, host
from tests.ui_ksef.test_user_ksef_flows import open_pkcs12_form

PASSWORD = "Crash-Test-P12-Passw0rd!"
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|c0ffee04466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16d1234"


def every_log_file() -> list[Path]:
    roots = [Path(os.environ[v]) for v in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")]
    return [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]


async def test_a_crash_with_a_password_and_a_token_in_scope_shows_neither(panel, tmp_path, monkeypatch, capsys):
    from ksef_tui.ksef.testcert import make_test_certificate
    from ksef_tui.ui.ksef.cert_form import KsefCertForm

    cert_pem, key_pem = make_test_certificate(nip=NIP, key="ec")
    p12 = pkcs12.serialize_key_and_certificates(
        b"anna", serialization.load_pem_private_key(key_pem.reveal(), None), x509.load_pem_x509_certificate(cert_pem),
        None, serialization.BestAvailableEncryption(PASSWORD.encode()))
    (tmp_path / "anna.p12").write_bytes(p12)

    real_paths = KsefCertForm._paths

    def exploding_paths(form):  # a fault in the panel itself, with a password and a token in its frame
        password_in_clear = form.query_one("#cert-password", Input).value
        token_being_saved = TOKEN  # noqa: F841
        if password_in_clear:
            raise RuntimeError("an unexpected fault")
        return real_paths(form)

    monkeypatch.setattr(KsefCertForm, "_paths", exploding_paths)
    app = host(panel)
    with pytest.raises(RuntimeError, match="an unexpected fault"):
        async with app.run_test(size=(120, 40)) as pilot:
            form = await open_pkcs12_form(pilot, Environment.PRODUCTION)
            form.query_one("#p12-file", Input).value = str(tmp_path / "anna.p12")
            await pilot.pause()
            form.query_one("#cert-password", Input).value = PASSWORD  # the form looks again: the fault
            for _ in range(3):
                await pilot.pause()
    assert app.return_code == 1
    out, err = capsys.readouterr()
    shown = (out + err).encode()
    logs = every_log_file()
    for secret in (PASSWORD, TOKEN, TOKEN.split("|")[-1]):
        assert secret.encode() not in shown, "a secret on the crash screen"
        for f in logs:
            assert secret.encode() not in f.read_bytes(), f"a secret in {f}"
    assert b"stopped on an unexpected error (RuntimeError)" in shown and b"entry " in shown
    log = next(p for p in logs if p.name == "ksef-tui.log")
    assert str(log).encode() in shown.replace(b"\n", b"")  # the message names the log ...
    ref = shown.split(b"entry ")[1][:8]
    text = log.read_bytes()
    assert b"[" + ref + b"]" in text and b"Traceback" in text and b"exploding_paths" in text  # ... and the entry
    assert os.stat(log).st_mode & 0o077 == 0
