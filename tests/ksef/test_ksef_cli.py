"""`ksef-tui ksef ...` through the command line's own entry point (no simulator needed here)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from conftest import NIP

from ksef_tui.cli import main as cli_main


def run(argv, capsys):
    try:
        code = cli_main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


def test_import_is_cheap():
    code = ("import sys, ksef_tui.cli; "
            "bad = [m for m in ('ksef_client', 'lxml', 'xmlsec', 'cryptography', 'httpx', 'textual') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_test_cert_writes_files(tmp_path, capsys):
    code, out, err = run(["ksef", "test-cert", "--nip", NIP, "--out-dir", str(tmp_path / "c"), "--kind", "seal",
                          "--key", "ec"], capsys)
    assert code == 0 and err == ""
    assert "seal EC P-256 certificate for NIP 5265877635" in out and "PRIVATE" not in out
    key = tmp_path / "c" / "key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and b"PRIVATE KEY" in key.read_bytes()
    code, out, err = run(["ksef", "test-cert", "--nip", NIP, "--out-dir", str(tmp_path / "c")], capsys)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv,needle", [
    (["ksef", "test-cert", "--nip", "1234567890", "--out-dir", "x"], "wrong check digit"),
    (["ksef", "auth", "--env", "TEST", "--nip", NIP], "one of the arguments"),
    (["ksef", "auth", "--env", "MARS", "--nip", NIP, "--token-file", "t"], "Unknown KSeF environment"),
    (["ksef", "auth", "--base-url", "http://example.com", "--nip", NIP, "--token-file", "t"], "Plain http"),
    (["ksef", "auth", "--env", "TEST", "--nip", NIP, "--token-file", "/nonexistent/t"], "Cannot read the token file"),
    (["ksef", "auth", "--env", "TEST", "--nip", NIP, "--cert", "/nonexistent/c", "--key", "k"], "Cannot read"),
    (["ksef", "auth", "--env", "TEST", "--nip", NIP, "--token-file", "t", "--cert", "c"], "not allowed with"),
    (["ksef", "token", "generate", "--env", "TEST", "--nip", NIP, "--token-file", "t"], "required"),
])
def test_wrong_input_one_line_exit_2(argv, needle, capsys):
    code, _out, err = run(argv, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_wrong_pkcs12_password_one_line(tmp_path, capsys, ec_pair):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    cert = x509.load_pem_x509_certificate(ec_pair[0])
    key = serialization.load_pem_private_key(ec_pair[1].reveal(), None)
    (tmp_path / "a.p12").write_bytes(pkcs12.serialize_key_and_certificates(b"a", key, cert, None,
                                                                           BestAvailableEncryption(b"dobre")))
    (tmp_path / "pw").write_text("zle\n")
    code, _out, err = run(["ksef", "auth", "--base-url", "http://127.0.0.1:9", "--nip", NIP, "--pkcs12",
                          str(tmp_path / "a.p12"), "--password-file", str(tmp_path / "pw")], capsys)
    assert code == 2
    assert err == ("ksef-tui: The password does not open the PKCS#12 file. "
                   "Hint: The password does not open this file. Check the password file.\n")


# ------------------------------------------------------------- against the loopback simulator

@pytest.fixture(scope="module")
def sim_server():
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", rate_limits=False, status_delay_s=0.0,
                                     token_activation_delay_s=0.0))
    with serve_in_thread(app, host="127.0.0.1", port=0) as running:
        yield running


def test_test_cert_then_auth_then_token_generate(tmp_path, capsys, sim_server):
    base = ["--base-url", sim_server.base_url, "--nip", NIP]
    assert run(["ksef", "test-cert", "--nip", NIP, "--out-dir", str(tmp_path), "--kind", "seal"], capsys)[0] == 0
    cert = ["--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem")]
    code, out, err = run(["ksef", "auth", *base, *cert], capsys)
    assert code == 0, err
    assert out.startswith(f"Authorized in KSeF {sim_server.base_url} for NIP {NIP} with a certificate (XAdES)")
    assert "access token valid until" in out and len(out.strip().splitlines()) == 1

    token_file = tmp_path / "token.txt"
    code, out, err = run(["ksef", "token", "generate", *base, *cert, "--permissions", "InvoiceRead,InvoiceWrite",
                          "--description", "token from the CLI test", "--out", str(token_file)], capsys)
    assert code == 0, err
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token and token not in out and "Active" in out

    code, out, err = run(["ksef", "auth", *base, "--token-file", str(token_file)], capsys)
    assert code == 0 and "with a KSeF token" in out and token not in out


def test_challenge_file_and_refusals(tmp_path, capsys, sim_server):
    out_file = tmp_path / "request.xml"
    code, out, err = run(["ksef", "challenge-file", "--base-url", sim_server.base_url, "--nip", NIP,
                          "--out", str(out_file)], capsys)
    assert code == 0 and "sign it and send it" in out and b"<Challenge>" in out_file.read_bytes()
    # the unsigned file is refused locally (exit 2), a wrong token by KSeF (exit 1)
    code, out, err = run(["ksef", "auth", "--base-url", sim_server.base_url, "--nip", NIP, "--signed-file",
                          str(out_file)], capsys)
    assert code == 2 and "no XML signature" in err and "Hint: Sign the file" in err
    (tmp_path / "bad.txt").write_text("20261124-EC-0000000000-0000000000-00|nip-5265877635|" + "0" * 64)
    code, out, err = run(["ksef", "auth", "--base-url", sim_server.base_url, "--nip", NIP, "--token-file",
                          str(tmp_path / "bad.txt")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "status 450" in err and "Hint: The KSeF token is wrong" in err and "0" * 64 not in err


def test_a_wrong_token_is_refused_in_polish_with_lang_pl(tmp_path, capsys, sim_server):
    (tmp_path / "bad.txt").write_text("20261124-EC-0000000000-0000000000-00|nip-5265877635|" + "0" * 64)
    code, _out, err = run(["--lang", "pl", "ksef", "auth", "--base-url", sim_server.base_url, "--nip", NIP,
                          "--token-file", str(tmp_path / "bad.txt")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("ksef-tui: Uwierzytelnianie w KSeF zakończone niepowodzeniem, status 450 (błędny token KSeF)")
    assert "Wskazówka: Token KSeF jest błędny" in err and "0" * 64 not in err
    assert "authentication failed" not in err and "Hint:" not in err


def test_a_wrong_pkcs12_password_and_a_bad_address_in_polish(tmp_path, capsys, ec_pair):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    cert = x509.load_pem_x509_certificate(ec_pair[0])
    key = serialization.load_pem_private_key(ec_pair[1].reveal(), None)
    (tmp_path / "a.p12").write_bytes(pkcs12.serialize_key_and_certificates(b"a", key, cert, None,
                                                                           BestAvailableEncryption(b"dobre")))
    (tmp_path / "pw").write_text("zle\n")
    code, _out, err = run(["--lang", "pl", "ksef", "auth", "--base-url", "http://127.0.0.1:9", "--nip", NIP,
                          "--pkcs12", str(tmp_path / "a.p12"), "--password-file", str(tmp_path / "pw")], capsys)
    assert code == 2 and err.startswith("ksef-tui: Hasło nie otwiera pliku PKCS#12. Wskazówka: "), err
    code, _out, err = run(["--lang", "pl", "ksef", "auth", "--base-url", "http://example.com", "--nip", NIP,
                          "--token-file", "t"], capsys)
    assert code == 2 and "Zwykły http jest dozwolony tylko na tym komputerze (loopback), nie dla example.com." in err
