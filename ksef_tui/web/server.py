"""The portal's web server: textual-serve's ``Server`` with what a portal on the internet needs.

textual-serve (by the Textual authors) serves the page, the terminal's websocket and
Textual's file delivery (``/download/KEY``), running one app process per websocket. This
subclass adds:

- a session cookie (HttpOnly, SameSite=Strict, Secure behind https) that binds the websocket,
  downloads and uploads of one browser together;
- a cap on sessions at once (the page says the portal is busy; a further websocket is closed
  with 1013 "try again later") and an idle timeout (no key or mouse input: the session ends);
- the session ends when the browser closes the websocket, when the app exits (logout), on
  idle, or when the server stops; the app process is asked to quit, then killed if it hangs;
- one log line per session start and end (never a secret: id, source address, reason, time);
- ``GET /health`` for the reverse proxy; ``/upload/TOKEN``: a size-capped one-time upload
  into the session that made the link (see :mod:`ksef_tui.services.web_inbox`);
- the source address of each session (the peer, or the client a trusted proxy names in
  ``X-Forwarded-For``) handed to the app process for login throttling and the audit log;
- the websocket refuses another site's page (``Origin``); security headers on every page;
  the page loads nothing from outside (no web fonts from a CDN).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from ksef_tui.services import web_inbox as inboxes
from ksef_tui.web.app_process import PortalAppService, PortalSession

log = logging.getLogger("ksef_tui.web")

COOKIE = "ksef_portal"
TEMPLATES = Path(__file__).parent / "templates"
SESSION_ENV = ("KSEF_TUI_WEB_SOURCE", "KSEF_TUI_WEB_INBOX", "KSEF_TUI_WEB_UPLOAD_URL", "KSEF_TUI_WEB_SESSION")
TRY_AGAIN_LATER = 1013  # websocket close code


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    max_sessions: int = 20
    idle_timeout_s: float = 900.0
    upload_max_bytes: int = inboxes.MAX_UPLOAD_BYTES
    allow_admins: bool = False
    trusted_proxies: tuple[str, ...] = ()
    lang: str = "en"
    database_url: str | None = None
    stop_grace_s: float = 5.0
    demo: bool = False  # `ksef-tui demo --serve`: the login screen lists the demo accounts
    # the demo only: simulated gov.pl (unsigned AuthTokenRequest bytes and file name -> signed, or None)
    demo_signer: Callable[[bytes, str], bytes | None] | None = None

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class PortalServer(Server):
    """``PortalServer(config, argv)``: serves the app started by ``argv`` to browsers."""

    def __init__(self, config: ServeConfig, argv: list[str]) -> None:
        super().__init__(" ".join(argv), host=config.host, port=config.port, title="ksef-tui",
                         public_url=config.url, templates_path=TEMPLATES)
        self.config = config
        self.argv = argv
        self.sessions: dict[str, PortalSession] = {}
        self.scratch = Path(os.environ.get("KSEF_TUI_WEB_SCRATCH") or _default_scratch())
        self.secure_cookie = self.public_url.startswith("https:")
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies]
        self.runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    # ---- logging: one plain line per event, never a traceback with local variables ----------

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s ksef-tui serve: %(message)s", "%Y-%m-%dT%H:%M:%S"))
        for name in ("ksef_tui.web", "textual-serve"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.setLevel(logging.INFO)
            logger.propagate = False
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    # ---- the application ---------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        import aiohttp_jinja2
        import jinja2

        app = web.Application(client_max_size=self.config.upload_max_bytes + 64 * 1024,
                              middlewares=[self._headers])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path), autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.get("/health", self.handle_health, name="health"),
            web.get("/upload/{token}", self.handle_upload_form, name="upload"),
            web.post("/upload/{token}", self.handle_upload),
            web.static("/static", self.statics_path, name="static"),
        ])
        if self.config.demo_signer is not None:
            app.add_routes([web.get("/demo/sign", self.handle_demo_sign_form), web.post("/demo/sign", self.handle_demo_sign)])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler):
        response = await handler(request)
        if not response.prepared:
            ws = _origin(self.public_url).replace("http", "ws", 1)
            response.headers.setdefault("Content-Security-Policy", (
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                f"font-src 'self'; connect-src 'self' {ws}; frame-ancestors 'none'; base-uri 'none'; "
                "form-action 'self'"))
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def on_startup(self, app: web.Application) -> None:
        log.info("serving the portal on %s (listening on %s:%s; at most %d sessions, idle timeout %d s, "
                 "administrators %s)", self.public_url, self.config.host, self.bound_port or self.config.port,
                 self.config.max_sessions, self.config.idle_timeout_s,
                 "allowed" if self.config.allow_admins else "not allowed")

    async def on_shutdown(self, app: web.Application) -> None:
        for session in list(self.sessions.values()):
            session.reason, session.ending = "server stopped", True
            if session.service is not None:
                await session.service.stop_within(self.config.stop_grace_s)

    # ---- who is asking -----------------------------------------------------------------------

    def source_of(self, request: web.Request) -> str:
        """The client's address: the peer, or (when the peer is a trusted proxy) the last address
        in ``X-Forwarded-For`` that is not itself a trusted proxy."""
        peer = request.remote or "unknown"
        if self._is_trusted(peer):
            hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
            for hop in reversed(hops):
                if not self._is_trusted(hop):
                    peer = hop
                    break
        try:
            return str(ipaddress.ip_address(peer))
        except ValueError:
            return "unknown"

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def _busy(self) -> bool:
        return len(self.sessions) >= self.config.max_sessions

    # ---- pages -------------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        import aiohttp_jinja2

        texts = _texts()
        if self._busy():
            log.info("page refused: all %d sessions in use (source %s)", self.config.max_sessions,
                     self.source_of(request))
            return _page(texts["busy"].format(n=self.config.max_sessions), status=503,
                         headers={"Retry-After": "60"})
        ws_url = _origin(self.public_url).replace("http", "ws", 1) + urlsplit(self.public_url).path.rstrip("/") + "/ws"
        context = {
            "lang": self.config.lang, "title": texts["title"], "starting": texts["starting"],
            "ended": texts["ended"], "restart": texts["restart"],
            "index_url": self.public_url + "/",
            "static_url": self.public_url + "/static/",
            "websocket_url": ws_url,
            "font_size": min(32, max(8, to_int(request.query.get("fontsize", "16"), 16))),
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        if not _valid_cookie(request.cookies.get(COOKIE)):
            response.set_cookie(COOKIE, secrets.token_urlsafe(32), httponly=True, samesite="Strict",
                                secure=self.secure_cookie, path="/")
        return response

    async def handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "sessions": len(self.sessions),
                                  "max_sessions": self.config.max_sessions})

    # ---- the terminal's websocket: one session -------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        source = self.source_of(request)
        cookie = request.cookies.get(COOKIE)
        origin = request.headers.get("Origin")
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        refusal = None
        if origin is not None and origin.lower() != _origin(self.public_url):
            refusal = (WSCloseCode.POLICY_VIOLATION, "another site's page", "forbidden origin")
        elif not _valid_cookie(cookie):
            refusal = (WSCloseCode.POLICY_VIOLATION, "no session cookie", "open the portal's page first")
        elif self._busy():
            refusal = (TRY_AGAIN_LATER, f"all {self.config.max_sessions} sessions in use", "busy")
        await websocket.prepare(request)
        if refusal is not None:
            code, why, message = refusal
            log.info("session refused: %s (source %s)", why, source)
            await websocket.close(code=code, message=message.encode())
            return websocket

        session_id = secrets.token_hex(8)
        session = PortalSession(session_id, source, cookie or "", inboxes.make_inbox(self.scratch, session_id))
        self.sessions[session_id] = session
        width = min(500, max(20, to_int(request.query.get("width", "80"), 80)))
        height = min(200, max(10, to_int(request.query.get("height", "24"), 24)))
        env = {
            "KSEF_TUI_WEB_SOURCE": f"web:{source}",
            "KSEF_TUI_WEB_INBOX": str(session.inbox),
            "KSEF_TUI_WEB_UPLOAD_URL": f"{self.public_url}/upload/",
            "KSEF_TUI_WEB_SESSION": session_id,
        }
        if self.config.demo_signer is not None:
            env["KSEF_TUI_WEB_DEMO_SIGN_URL"] = f"{self.public_url}/demo/sign"
        service = PortalAppService(self.argv, session, env, write_bytes=websocket.send_bytes,
                                   write_str=websocket.send_str, close=websocket.close,
                                   download_manager=self.download_manager, debug=False)
        session.service = service
        log.info("session %s start: source %s (%d of %d)", session_id, source, len(self.sessions),
                 self.config.max_sessions)
        idle = asyncio.create_task(self._watch_idle(session, websocket))
        try:
            await service.start(width, height)
            await self._messages(websocket, service, session)
        except asyncio.CancelledError:
            session.reason = "server stopped"
        except Exception as exc:  # one line, never a traceback with locals
            session.reason = f"error ({type(exc).__name__})"
        finally:
            session.ending = True
            idle.cancel()
            await service.stop_within(self.config.stop_grace_s)
            if not websocket.closed:
                await websocket.close()
            self.sessions.pop(session_id, None)
            shutil.rmtree(session.inbox, ignore_errors=True)
            log.info("session %s end: %s after %d s (source %s)", session_id, session.reason,
                     time.monotonic() - session.started, source)
        return websocket

    async def _messages(self, websocket: web.WebSocketResponse, service: AppService, session: PortalSession) -> None:
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = message.json()
                kind, data = envelope[0], (envelope[1] if len(envelope) > 1 else None)
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(data, str):
                session.last_input = time.monotonic()
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(min(500, max(20, to_int(str(data.get("width")), 80))),
                                                min(200, max(10, to_int(str(data.get("height")), 24))))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def _watch_idle(self, session: PortalSession, websocket: web.WebSocketResponse) -> None:
        limit = self.config.idle_timeout_s
        while True:
            left = session.last_input + limit - time.monotonic()
            if left <= 0:
                session.reason, session.ending = "idle timeout", True
                await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"idle")
                return
            await asyncio.sleep(min(left + 0.05, 5.0))

    # ---- files -------------------------------------------------------------------------------

    def _session_for(self, request: web.Request, *, token: str | None = None) -> PortalSession | None:
        cookie = request.cookies.get(COOKIE)
        if not _valid_cookie(cookie):
            return None
        for session in self.sessions.values():
            if secrets.compare_digest(session.cookie, cookie or "") and (
                    token is None or inboxes.wanted(session.inbox, token) is not None):
                return session
        return None

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """Textual's file delivery, for the browser whose session made it only."""
        key = request.match_info["key"]
        try:
            meta = await self.download_manager.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(text="no such download") from None
        owner = getattr(meta.app_service, "session", None)
        cookie = request.cookies.get(COOKIE) or ""
        if owner is None or not secrets.compare_digest(owner.cookie, cookie):
            raise web.HTTPNotFound(text="no such download")
        name = Path(meta.file_name).name.replace('"', "")
        response = web.StreamResponse()
        response.headers["Content-Type"] = meta.mime_type + (f"; charset={meta.encoding}" if meta.encoding else "")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        await response.prepare(request)
        async for chunk in self.download_manager.download(key):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def handle_upload_form(self, request: web.Request) -> web.Response:
        texts = _texts()
        token = request.match_info["token"]
        session = self._session_for(request, token=token)
        if session is None:
            return _page(texts["link_gone"], status=404)
        label = inboxes.wanted(session.inbox, token) or ""
        body = (f"<h1>{html.escape(label or texts['upload_title'])}</h1>"
                f"<form method='post' enctype='multipart/form-data'>"
                f"<p><input type='file' name='file' id='file' required></p>"
                f"<p><button type='submit' id='send'>{html.escape(texts['send'])}</button></p></form>"
                f"<p class='hint'>{html.escape(texts['upload_hint'].format(kib=self.config.upload_max_bytes // 1024))}</p>")
        return _page(body, raw=True)

    async def handle_upload(self, request: web.Request) -> web.Response:
        texts = _texts()
        token = request.match_info["token"]
        session = self._session_for(request, token=token)
        if session is None:
            return _page(texts["link_gone"], status=404)
        cap = self.config.upload_max_bytes
        if request.content_length is not None and request.content_length > cap + 64 * 1024:
            return _page(texts["too_large"].format(kib=cap // 1024), status=413)
        data = bytearray()
        try:
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "name", None) != "file":
                    continue
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > cap:
                        return _page(texts["too_large"].format(kib=cap // 1024), status=413)
                break
        except (ValueError, AssertionError, web.HTTPException):
            return _page(texts["bad_upload"], status=400)
        if not data:
            return _page(texts["bad_upload"], status=400)
        if not inboxes.deliver(session.inbox, token, bytes(data)):
            return _page(texts["link_gone"], status=404)
        log.info("session %s: a file of %d bytes uploaded", session.id, len(data))
        return _page(texts["received"])

    # ---- the demo's simulated gov.pl --------------------------------------------------------------

    async def handle_demo_sign_form(self, request: web.Request) -> web.Response:
        texts = _texts()
        return _page(f"<h1>{html.escape(texts['demo_sign_title'])}</h1><p>{html.escape(texts['demo_sign_hint'])}</p>"
                     "<form method='post' enctype='multipart/form-data'>"
                     "<p><input type='file' name='file' id='file' required></p>"
                     f"<p><button type='submit' id='send'>{html.escape(texts['demo_sign_button'])}</button></p></form>",
                     raw=True)

    async def handle_demo_sign(self, request: web.Request) -> web.StreamResponse:
        """Demo only: sign an unsigned AuthTokenRequest as Profil Zaufany would, give it back to download."""
        texts = _texts()
        assert self.config.demo_signer is not None
        data, name = bytearray(), "ksef-auth.xml"
        try:
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "name", None) == "file":
                    name = Path(part.filename or name).name
                    while chunk := await part.read_chunk(64 * 1024):
                        data += chunk
                        if len(data) > self.config.upload_max_bytes:
                            return _page(texts["too_large"].format(kib=self.config.upload_max_bytes // 1024), status=413)
                    break
        except (ValueError, AssertionError, web.HTTPException):
            return _page(texts["bad_upload"], status=400)
        signed = await asyncio.get_running_loop().run_in_executor(None, self.config.demo_signer, bytes(data), name)
        if signed is None:
            return _page(texts["demo_sign_refused"], status=400)
        stem = name[:-4] if name.lower().endswith(".xml") else name
        out = "".join(c for c in f"{stem}-signed.xml" if c.isalnum() or c in "-_.")
        return web.Response(body=signed, content_type="application/xml",
                            headers={"Content-Disposition": f'attachment; filename="{out}"'})

    # ---- running -------------------------------------------------------------------------------

    async def start(self) -> int:
        """Start listening (port 0: any free port); returns the port."""
        self.initialize_logging()
        _prepare_scratch(self.scratch)
        app = await self._make_app()
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.host, self.config.port, shutdown_timeout=2)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.config.port
        if self.config.port == 0 and not self.config.public_url:
            self.config.port = self.bound_port
            self.public_url = self.config.url
        await self.on_startup(app)
        return self.bound_port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def run_until_stopped(self, ready=None) -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await self.start()
        if ready is not None:
            ready(self)
        try:
            await stop.wait()
        finally:
            log.info("stopping: %d session(s) open", len(self.sessions))
            await self.stop()


def run(config: ServeConfig) -> None:
    """Serve until SIGINT/SIGTERM; the first line on stdout is the portal's URL, printed when ready."""
    # what every session's app process needs (it inherits this environment)
    if config.database_url:
        os.environ["KSEF_TUI_DATABASE_URL"] = config.database_url
    os.environ["KSEF_TUI_WEB_LANG"] = config.lang
    os.environ["KSEF_TUI_WEB_ADMINS"] = "1" if config.allow_admins else "0"
    os.environ["KSEF_TUI_WEB_DEMO"] = "1" if config.demo else "0"
    server = PortalServer(config, [sys.executable, "-m", "ksef_tui.web.session"])

    def announce(s: PortalServer) -> None:
        print(s.public_url, flush=True)
        if config.host not in ("127.0.0.1", "::1", "localhost") and not config.public_url:
            log.warning("listening beyond loopback without --public-url: put a reverse proxy with TLS in front "
                        "(see the README)")

    asyncio.run(server.run_until_stopped(announce))


def _default_scratch() -> Path:
    """The sessions' inboxes: in the data folder (0700), one folder per server process."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ksef-tui")) / "portal" / str(os.getpid())


def _prepare_scratch(scratch: Path) -> None:
    """Make this server's folder; remove what a killed earlier server left (its process is gone)."""
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(scratch.parent, 0o700)
    for other in scratch.parent.iterdir():
        if other == scratch or not other.name.isdigit():
            continue
        try:
            os.kill(int(other.name), 0)
        except ProcessLookupError:
            shutil.rmtree(other, ignore_errors=True)
        except PermissionError:
            pass


def _valid_cookie(value: str | None) -> bool:
    return bool(value) and 32 <= len(value or "") <= 64 and inboxes.valid_token(value or "")


_STYLE = ("body{font-family:sans-serif;background:#0c181f;color:#eee;max-width:40em;margin:4em auto;padding:0 1em}"
          "button{padding:.6em 1.4em;background:#0178d4;color:#fff;border:0}.hint{color:#aaa}")


def _page(body: str, *, status: int = 200, raw: bool = False, headers: dict | None = None) -> web.Response:
    content = body if raw else f"<p id='message'>{html.escape(body)}</p>"
    return web.Response(text=f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>ksef-tui</title>"
                             f"<style>{_STYLE}</style></head><body>{content}</body></html>",
                        status=status, content_type="text/html", headers=headers)


def _texts() -> dict[str, str]:
    """The portal's own pages, in the language ``serve`` runs in (the catalog, like the panel)."""
    from ksef_tui.i18n import _

    return {
        "title": _("ksef-tui — KSeF configuration"),
        "starting": _("Starting…"),
        "ended": _("Session ended."),
        "restart": _("Log in again"),
        "busy": _("The portal is busy: all {n} sessions are in use. Try again in a few minutes."),
        "link_gone": _("This upload link is used up, expired or belongs to another browser session. "
                       "Ask for a new one in the panel."),
        "upload_title": _("Send a file to your KSeF configuration"),
        "upload_hint": _("The file goes straight to your session in the panel (at most {kib} KiB). "
                         "Then close this tab."),
        "send": _("Send"),
        "too_large": _("The file is too large (at most {kib} KiB); nothing was sent."),
        "bad_upload": _("No file arrived; choose a file and send it again."),
        "received": _("Received. The file is in your panel now: close this tab and go back to it."),
        "demo_sign_title": _("Demo: Profil Zaufany (simulated gov.pl)"),
        "demo_sign_hint": _("Only in `ksef-tui demo --serve`: choose the file the panel gave you to sign; "
                            "it comes back signed as Jan Demo's Profil Zaufany would. Upload that one in the panel."),
        "demo_sign_button": _("Sign"),
        "demo_sign_refused": _("That is not an unsigned KSeF AuthTokenRequest file from the panel."),
    }
