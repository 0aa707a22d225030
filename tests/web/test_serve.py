"""``ksef-tui serve`` through HTTP and the terminal's websocket (what the page does)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.web.conftest import ADMIN, ADMIN_PASSWORD, CLIENT, CLIENT_PASSWORD
from tests.web.portal import CTRL_Q, ENTER, TerminalClient


def test_serve_refuses_without_any_password(db_url, ctx):
    out = subprocess.run([sys.executable, "-m", "ksef_tui", "--database", db_url, "serve", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "no account has a password" in out.stderr and "ksef-tui admin create" in out.stderr
    assert out.stdout == ""


async def log_in(client: TerminalClient, login: str, password: str) -> None:
    await client.wait_for("Log in")
    await client.type(login)
    await asyncio.sleep(0.3)
    await client.send(ENTER)  # to the password field
    await asyncio.sleep(0.5)
    await client.type(password)
    await asyncio.sleep(0.3)
    await client.send(ENTER)


async def test_page_health_and_a_session_that_starts_at_the_login_screen(office_db, portal_factory):
    portal = portal_factory(office_db)
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(portal.url + "/") as r:
            assert r.status == 200
            page = await r.text()
            assert "fonts.googleapis" not in page and "/static/js/textual.js" in page
            cookie = r.cookies["ksef_portal"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        async with http.get(portal.url + "/health") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
    async with TerminalClient(portal.url) as client:
        await client.connect()
        await client.wait_for("ksef-tui: log in")
        assert "Demo accounts" not in client.text()
        await log_in(client, CLIENT, CLIENT_PASSWORD)
        await client.wait_for("Profile → KSeF configuration")
        assert CLIENT_PASSWORD not in client.received.decode("utf-8", "replace")
        await client.send(CTRL_Q)  # log out: the session ends
        await client.wait_closed()
    await portal.wait_log("start: source 127.0.0.1", "end: logout")
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.audit import AuditService
    from ksef_tui.store.engine import open_database

    db = open_database(office_db)
    try:
        entry = AuditService(db).entries(Actor.local_admin("t"), action="user.login")[0]
        assert entry.after == {"source": "web:127.0.0.1"}
    finally:
        db.dispose()


async def test_administrators_only_when_the_office_allows(office_db, portal_factory):
    portal = portal_factory(office_db)
    async with TerminalClient(portal.url) as client:
        await client.connect()
        await log_in(client, ADMIN, ADMIN_PASSWORD)
        await client.wait_for("Administrators do not log in here")
    allowed = portal_factory(office_db, "--allow-admins")
    async with TerminalClient(allowed.url) as client:
        await client.connect()
        await log_in(client, ADMIN, ADMIN_PASSWORD)
        await client.wait_for("Companies")


async def test_session_cap_idle_timeout_and_browser_close(office_db, portal_factory):
    portal = portal_factory(office_db, "--max-sessions", "2", "--idle-timeout", "8")
    import aiohttp

    async with TerminalClient(portal.url) as a, TerminalClient(portal.url) as b, TerminalClient(portal.url) as c:
        await a.connect()
        await b.connect()
        await a.wait_for("ksef-tui: log in")
        await b.wait_for("ksef-tui: log in")
        async with aiohttp.ClientSession() as http, http.get(portal.url + "/") as r:  # the portal is busy
            assert r.status == 503 and "all 2 sessions are in use" in await r.text()
        await c.connect()  # a websocket beyond the cap is closed: try again later
        assert await c.wait_closed() == 1013
        for _i in range(60):  # a types now and then; b does nothing and times out
            if b.closed.is_set():
                break
            await a.type("x")
            await asyncio.sleep(1.0)
        assert b.close_code == 1001 and not a.closed.is_set()
        await a.ws.close()  # the browser closes: the session ends
    await portal.wait_log("end: idle timeout", "end: browser closed", "session refused: all 2 sessions in use")


async def test_another_sites_page_cannot_open_a_session(office_db, portal_factory):
    portal = portal_factory(office_db)
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await (await http.get(portal.url + "/")).read()
        ws = await http.ws_connect(portal.url.replace("http", "ws") + "/ws", headers={"Origin": "https://evil.example"})
        await ws.receive()
        assert ws.close_code == 1008
        async with http.get(portal.url + "/upload/" + "A" * 43) as r:
            assert r.status == 404
        # without --trusted-proxy a forged X-Forwarded-For changes nothing: the peer is the source
        ws = await http.ws_connect(portal.url.replace("http", "ws") + "/ws",
                                   headers={"Origin": portal.url, "X-Forwarded-For": "203.0.113.5"})
        await portal.wait_log("start: source 127.0.0.1")
        await ws.close()
    assert "203.0.113.5" not in portal.log()


async def test_the_upload_route_is_one_time_bound_to_the_session_and_capped(office_db, portal_factory, tmp_path):
    """What the panel's "Upload…" relies on: a link made in a session's inbox takes one file, only
    from that browser (its cookie), at most 2 MiB; the inbox goes when the session ends."""
    import os
    from pathlib import Path

    import aiohttp

    from ksef_tui.services import web_inbox as inbox

    portal = portal_factory(office_db)
    async with TerminalClient(portal.url) as client:
        await client.connect()
        await client.wait_for("ksef-tui: log in")
        root = Path(os.environ["XDG_DATA_HOME"]) / "ksef-tui" / "portal" / str(portal.proc.pid)
        (box,) = [p for p in root.iterdir() if p.is_dir()]  # the session's inbox (the app would make the link)
        assert (root.stat().st_mode & 0o777) == 0o700
        token = inbox.want(box, "The signed file")
        link = f"{portal.url}/upload/{token}"

        def form(data: bytes) -> aiohttp.FormData:
            f = aiohttp.FormData()
            f.add_field("file", data, filename="signed.xml", content_type="application/xml")
            return f

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
            await (await stranger.get(portal.url + "/")).read()  # another browser: its own cookie
            async with stranger.get(link) as r:
                assert r.status == 404
            async with stranger.post(link, data=form(b"<x/>")) as r:
                assert r.status == 404
        async with client.http.get(link) as r:
            assert r.status == 200 and "The signed file" in await r.text()
        async with client.http.post(link, data=form(b"A" * (2 * 1024 * 1024 + 1))) as r:
            assert r.status == 413
        assert inbox.take(box, token) is None
        async with client.http.post(link, data=form(b"<signed/>")) as r:
            assert r.status == 200 and "Received" in await r.text()
        async with client.http.post(link, data=form(b"<again/>")) as r:
            assert r.status == 404  # used up
        assert inbox.take(box, token) == b"<signed/>"
    await portal.wait_log("end: browser closed")
    assert not box.exists()


def test_the_demo_in_a_browser_signs_like_profil_zaufany(tmp_path):
    """`ksef-tui demo --serve`: the demo accounts on the login screen, and a simulated gov.pl page that
    signs the panel's unsigned file (so the whole Profil Zaufany road can be tried in the demo)."""
    import os
    import signal

    import aiohttp

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ksef_tui", "demo", "--serve", "--port", "0",
                             "--companies", "6", "--users", "10"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:")
        unsigned = (b'<?xml version="1.0" encoding="utf-8"?>\n<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">'
                    b"<Challenge>20261203-CR-0000000000-0000000000-00</Challenge><ContextIdentifier><Nip>5265877635</Nip>"
                    b"</ContextIdentifier><SubjectIdentifierType>certificateSubject</SubjectIdentifierType>"
                    b"</AuthTokenRequest>")

        async def check() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/demo/sign") as r:
                    assert r.status == 200 and "simulated gov.pl" in await r.text()
                for body, status in ((b"<not-a-request/>", 400), (unsigned, 200)):
                    form = aiohttp.FormData()
                    form.add_field("file", body, filename="ksef-auth-5265877635-DEMO.xml")
                    async with http.post(url + "/demo/sign", data=form) as r:
                        assert r.status == status
                        if status == 200:
                            assert b"Signature" in await r.read()
                            assert "ksef-auth-5265877635-DEMO-signed.xml" in r.headers["Content-Disposition"]
            async with TerminalClient(url) as client:
                await client.connect()
                await client.wait_for("Demo accounts (login / password):")
                await client.wait_for("client / client-demo")

        asyncio.run(check())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
