"""The ASGI app of the simulated KSeF API 2.0 (everything under ``/v2``).

The outermost layer (:class:`SimulatorApp`) does fault injection, request limits, the test
warning header and persistence; the routes are in :mod:`routes`.
"""

from __future__ import annotations

import asyncio
import unicodedata

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from .config import SimulatorConfig
from .errors import (
    KsefApiError,
    ProblemError,
    SimulatorHttpError,
    TooManyRequestsError,
    dumps,
    error_body,
    wants_problem_details,
)
from .routes import bearer, build_routes, client_ip
from .simulator import Simulator

PREFIX = "/v2"
#: Request header whose text KSeF TEST echoes as ``X-System-Warning`` (SystemWarning in the spec).
TEST_WARNING_HEADER = "x-test-system-warning"
_MAX_WARNING_CHARS = 1000


class ConnectionDropped(ConnectionResetError):
    """Raised in-process (ASGI transport) when a fault drops the connection."""


def system_warning(raw: bytes) -> bytes:
    """The ``X-System-Warning`` value for a test header: ASCII-folded (as the spec says), one line."""
    text = raw.decode("utf-8", "replace").replace("ł", "l").replace("Ł", "L")
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isprintable())
    return folded.strip()[:_MAX_WARNING_CHARS].encode("ascii")


class SimulatorApp(Starlette):
    """Starlette app whose outermost layer does fault injection, rate limits and persistence.

    This runs before Starlette's own middleware so that a dropped connection can reach the
    server's transport (a real network-level failure over loopback).
    """

    sim: Simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        sub_path = path[len(PREFIX) :] if path.startswith(PREFIX + "/") else path
        headers = {k.decode("latin-1").lower(): val.decode("latin-1") for k, val in scope["headers"]}
        problem = wants_problem_details(headers)

        raw_send, send = send, self._with_test_warning(scope, send)

        action = self.sim.faults.next_action(scope["method"], sub_path)
        if action is not None:
            if action.latency_s:
                await asyncio.sleep(action.latency_s)
            if action.drop:
                await _drop_connection(raw_send)
                return
            if action.code is not None:
                await self._send_error(send, KsefApiError(action.code, action.details), problem, path)
                return
            if action.status is not None:
                await self._send_fault(scope, send, action.status, action.retry_after, problem)
                return

        decision = self.sim.limits.check_rate_limit(sub_path, client_ip(scope), bearer(headers))
        if not decision.allowed:
            await self._send_error(
                send, TooManyRequestsError(decision.retry_after, decision.detail), problem, path
            )
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            if scope["method"] not in ("GET", "HEAD"):
                self.sim.save()

    def _with_test_warning(self, scope: Scope, send: Send) -> Send:
        """On TEST, echo ``X-Test-System-Warning`` as ``X-System-Warning`` on the response."""
        if self.sim.config.mode != "test":
            return send
        raw = next((val for key, val in scope["headers"] if key.lower() == TEST_WARNING_HEADER.encode()), None)
        if raw is None:
            return send
        warning = system_warning(raw)

        async def send_with_warning(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-system-warning", warning)]}
            await send(message)

        return send_with_warning

    async def _send_error(self, send: Send, exc: SimulatorHttpError, problem: bool, path: str) -> None:
        await _error_response(self.sim, exc, problem, path)({"type": "http"}, _never_receive, send)

    async def _send_fault(
        self, scope: Scope, send: Send, status: int, retry_after: int | None, problem: bool
    ) -> None:
        if status == 429:
            seconds = retry_after if retry_after is not None else 1
            detail = f"Przekroczono limit żądań. Spróbuj ponownie po {seconds} sekundach."
            await self._send_error(send, TooManyRequestsError(seconds, detail), problem, scope["path"])
            return
        if status in (401, 403, 410):
            await self._send_error(send, ProblemError(status, "Wstrzyknięty błąd symulatora."), problem,
                                   scope["path"])
            return
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"title": _reason(status), "status": status, "detail": "Wstrzyknięty błąd symulatora."}
        response = JSONResponse(body, status_code=status, headers=headers)
        await response(scope, _never_receive, send)


def _error_response(sim: Simulator, exc: SimulatorHttpError, problem: bool, path: str) -> Response:
    status, body, content_type, extra = error_body(exc, problem=problem, instance=path, now=sim.now())
    return Response(dumps(body), status_code=status, media_type=content_type, headers=extra)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _never_receive() -> Message:  # pragma: no cover - responses never read the body
    return {"type": "http.disconnect"}


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without any response bytes (uvicorn), or fail in-process."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped("connection dropped by the KSeF simulator (fault injection)")
    transport.abort()
    # Let uvicorn notice the lost connection so it does not try to answer 500 on a dead socket.
    for _ in range(3):
        await asyncio.sleep(0)


def create_app(config: SimulatorConfig | None = None, *, simulator: Simulator | None = None) -> Starlette:
    """The ASGI app; the simulator object is at ``app.state.sim``."""
    sim = simulator or Simulator(config or SimulatorConfig())

    async def simulator_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SimulatorHttpError)
        return _error_response(sim, exc, wants_problem_details(request.headers), request.url.path)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return JSONResponse(
            {"title": _reason(status), "status": status, "detail": f"{request.method} {request.url.path}"},
            status_code=status,
            media_type="application/problem+json",
        )

    app = SimulatorApp(
        routes=[Mount(PREFIX, routes=build_routes(sim))],
        exception_handlers={SimulatorHttpError: simulator_error, 404: not_found, 405: not_found},
    )
    app.sim = sim
    app.state.sim = sim
    return app
