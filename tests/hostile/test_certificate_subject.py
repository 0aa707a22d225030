"""A certificate whose subject holds control characters (a name with ``ESC ] 2`` in it) ended in
"unexpected error: …" and could reach the terminal raw. Saved through the CLI, it is either saved with
its subject shown visibly or refused with a sentence; nothing raw, no traceback, no "unexpected"."""

from __future__ import annotations

from ksef_tui.domain.environments import Environment
from ksef_tui.ksef.testcert import make_test_certificate
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.users import UserInput

from .cli import no_raw_control, run

NIP = "5265877635"
HOSTILE_NAME = "Jan\x1b]2;PWNED\x07\x1b[2J\u202e"


def test_a_certificate_subject_with_escapes_is_shown_visibly_or_refused_in_words(ctx, db_url, tmp_path):
    a = ctx.actor
    company = ctx.companies.create(a, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    anna = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak"), [company.id])
    cert, key = make_test_certificate(nip=NIP, key="ec", given_name=HOSTILE_NAME, surname="Zły\x9b31m")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key.reveal())
    r = run("users", "ksef", "set", "anna", "--nip", NIP, "--env", "DEMO", "--cert", str(tmp_path / "c.pem"),
            "--key", str(tmp_path / "k.pem"), db=db_url)
    both = r.stdout + r.stderr
    assert b"Traceback" not in both and b"unexpected" not in both.lower(), both
    assert no_raw_control(r.stdout) and no_raw_control(r.stderr), both
    assert "\u202e".encode() not in both
    if r.returncode == 0:
        view = ctx.credentials.get(a, anna.id, company.id, Environment.DEMO)
        assert view.configured
