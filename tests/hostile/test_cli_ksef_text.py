"""KSeF's words and stored names through the CLI: `users ksef test` and `ksef check` (text and JSON)
print no raw control character, whatever a server answers or an old database holds. A KSeF server
(or anything posing as one) answering with ``ESC ] 52`` in its error text wrote the clipboard."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.users import UserInput

from .cli import no_raw_control, run

NIP = "5265877635"
TOKEN = f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-{NIP}|" + "c0ffee" * 10 + "1234"
HOSTILE = "Zły\x1b]52;c;ZXZpbA==\x07 \x1b]2;PWNED\x07\x1b[2J\x9b31m\u202e"


class _HostileKsef(BaseHTTPRequestHandler):
    """Every request refused, with escapes in every text KSeF's errors carry."""

    def _answer(self) -> None:
        body = json.dumps({"exception": {"exceptionDetailList": [
            {"exceptionCode": 21405, "exceptionDescription": HOSTILE, "details": [HOSTILE]}],
            "referenceNumber": HOSTILE, "serviceCode": HOSTILE}}, ensure_ascii=False).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hostile_ksef() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileKsef)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def configured(ctx, db_url, hostile_ksef):
    a = ctx.actor
    company = ctx.companies.create(a, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    user = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak"), [company.id])
    ctx.credentials.save_token(a, user.id, company.id, Environment.DEMO, TOKEN)
    ctx.credentials.connections.set_endpoint(a, Environment.DEMO, hostile_ksef)
    with ctx.db.engine.begin() as conn:  # written before the rule, or by another tool
        conn.execute(text("UPDATE company SET name = :n"), {"n": "Alfa " + HOSTILE})
        conn.execute(text("UPDATE user_account SET full_name = :n"), {"n": "Anna " + HOSTILE})
    return ctx.db.url


def test_users_ksef_test_prints_kse_f_words_without_raw_escapes(configured):
    r = run("users", "ksef", "test", "anna", "--nip", NIP, "--env", "DEMO", db=configured)
    assert r.returncode != 0 and b"Traceback" not in r.stderr
    assert no_raw_control(r.stdout) and no_raw_control(r.stderr), r.stderr


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_ksef_check_prints_names_and_kse_f_words_without_raw_escapes(configured, json_out):
    r = run("ksef", "check", "--env", "DEMO", *(["--json"] if json_out else []), db=configured)
    assert b"Traceback" not in r.stderr
    assert no_raw_control(r.stdout) and no_raw_control(r.stderr), r.stdout + r.stderr
    assert "\u202e" not in r.stdout.decode() and "\u202e" not in r.stderr.decode()
    if json_out:
        rows = json.loads(r.stdout)["rows"]
        assert rows and not rows[0]["ok"]
