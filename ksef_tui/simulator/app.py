"""Starlette routes of the simulated KSeF API 2.0 (everything under ``/v2``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from . import validation as v
from .config import SimulatorConfig
from .core import Caller
from .errors import (
    ProblemError,
    SimulatorHttpError,
    TooManyRequestsError,
    dumps,
    error_body,
    wants_problem_details,
)
from .simulator import Simulator

PREFIX = "/v2"
Handler = Callable[[Request], Awaitable[Response]]


class ConnectionDropped(ConnectionResetError):
    """Raised in-process (ASGI transport) when a fault drops the connection."""


def _client_ip(request_or_scope: Request | Scope) -> str:
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    client = scope.get("client")
    return client[0] if client else "127.0.0.1"


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _no_content() -> Response:
    return Response(status_code=204)


def _empty_ok() -> Response:
    return Response(status_code=200)


async def _json_body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return None
        raise v.invalid("Brak treści żądania.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise v.invalid(f"Nieprawidłowy JSON: {exc}") from exc


def build_routes(sim: Simulator) -> list[Route]:
    def caller(request: Request, *, allow_refresh: bool = False) -> Caller:
        return sim.sessions.authenticate(_bearer(request.headers), _client_ip(request), allow_refresh=allow_refresh)

    # -- auth ----------------------------------------------------------------------------------
    async def challenge(request: Request) -> Response:
        return _json(sim.auth.create_challenge(_client_ip(request)))

    async def xades_signature(request: Request) -> Response:
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media not in ("application/xml", "text/xml"):
            raise ProblemError(415, f"Nieobsługiwany typ treści '{media or '-'}'; oczekiwano application/xml.")
        verify = (request.query_params.get("verifyCertificateChain") or "false").lower() == "true"
        body = await request.body()
        return _json(sim.auth.init_xades_auth(body, _client_ip(request), verify_chain=verify), 202)

    async def ksef_token(request: Request) -> Response:
        return _json(sim.auth.init_token_auth(await _json_body(request), _client_ip(request)), 202)

    async def auth_status(request: Request) -> Response:
        ref = request.path_params["referenceNumber"]
        return _json(sim.sessions.auth_status(ref, _bearer(request.headers)))

    async def redeem(request: Request) -> Response:
        return _json(sim.sessions.redeem(_bearer(request.headers)))

    async def refresh(request: Request) -> Response:
        return _json(sim.sessions.refresh(_bearer(request.headers)))

    async def sessions(request: Request) -> Response:
        who = caller(request)
        size = v.page_size(request.query_params.get("pageSize"), default=10, low=10, high=100)
        return _json(sim.sessions.list_sessions(who, size, request.headers.get("x-continuation-token")))

    async def session_current(request: Request) -> Response:
        sim.sessions.revoke_current_session(caller(request, allow_refresh=True))
        return _no_content()

    async def session_by_ref(request: Request) -> Response:
        sim.sessions.revoke_session(caller(request), request.path_params["referenceNumber"])
        return _no_content()

    async def public_keys(request: Request) -> Response:
        return _json([entry.to_api(sim.ts) for entry in sim.pki.public_keys])

    # -- tokens --------------------------------------------------------------------------------
    async def tokens(request: Request) -> Response:
        who = caller(request)
        if request.method == "POST":
            return _json(sim.tokens.generate_token(who, await _json_body(request)), 202)
        q = request.query_params
        return _json(
            sim.tokens.query_tokens(
                who,
                statuses=q.getlist("status"),
                description=q.get("description"),
                author_identifier=q.get("authorIdentifier"),
                author_identifier_type=q.get("authorIdentifierType"),
                page_size=v.page_size(q.get("pageSize"), default=10, low=10, high=100),
                continuation=request.headers.get("x-continuation-token"),
            )
        )

    async def token_by_ref(request: Request) -> Response:
        who = caller(request)
        ref = request.path_params["referenceNumber"]
        if request.method == "DELETE":
            sim.tokens.revoke_token(who, ref)
            return _no_content()
        return _json(sim.tokens.token_status(who, ref))

    # -- certificates --------------------------------------------------------------------------
    async def cert_limits(request: Request) -> Response:
        return _json(sim.certificates.certificate_limits(caller(request)))

    async def enrollment_data(request: Request) -> Response:
        return _json(sim.certificates.enrollment_data(caller(request)))

    async def enroll(request: Request) -> Response:
        who = caller(request)
        return _json(sim.certificates.enroll(who, await _json_body(request)), 202)

    async def enrollment_status(request: Request) -> Response:
        return _json(sim.certificates.enrollment_status(caller(request), request.path_params["referenceNumber"]))

    async def retrieve(request: Request) -> Response:
        who = caller(request)
        return _json(sim.certificates.retrieve_certificates(who, await _json_body(request)))

    async def query(request: Request) -> Response:
        who = caller(request)
        q = request.query_params
        size = v.page_size(q.get("pageSize"), default=10, low=10, high=50)
        offset = v.page_size(q.get("pageOffset"), default=0, low=0, high=1_000_000, name="pageOffset")
        return _json(sim.certificates.query_certificates(who, await _json_body(request, optional=True), size, offset))

    async def revoke_cert(request: Request) -> Response:
        who = caller(request)
        body = await _json_body(request, optional=True)
        sim.certificates.revoke_certificate(who, request.path_params["serial"], body)
        return _no_content()

    # -- limits --------------------------------------------------------------------------------
    async def rate_limits(request: Request) -> Response:
        who = caller(request)
        return _json(sim.limits.rate_limits(who))

    async def testdata_rate_limits(request: Request) -> Response:
        who = caller(request)
        if request.method == "DELETE":
            sim.limits.reset_rate_limits(who)
        else:
            sim.limits.set_rate_limits(who, await _json_body(request))
        return _empty_ok()

    async def testdata_rate_limits_production(request: Request) -> Response:
        sim.limits.production_rate_limits(caller(request))
        return _empty_ok()

    # -- testdata (public) ---------------------------------------------------------------------
    def testdata(action: Callable[[Any], None], *, optional: bool = False) -> Handler:
        async def handler(request: Request) -> Response:
            action(await _json_body(request, optional=optional))
            return _empty_ok()

        return handler

    return [
        Route("/auth/challenge", challenge, methods=["POST"]),
        Route("/auth/xades-signature", xades_signature, methods=["POST"]),
        Route("/auth/ksef-token", ksef_token, methods=["POST"]),
        Route("/auth/token/redeem", redeem, methods=["POST"]),
        Route("/auth/token/refresh", refresh, methods=["POST"]),
        Route("/auth/sessions", sessions, methods=["GET"]),
        Route("/auth/sessions/current", session_current, methods=["DELETE"]),
        Route("/auth/sessions/{referenceNumber}", session_by_ref, methods=["DELETE"]),
        Route("/auth/{referenceNumber}", auth_status, methods=["GET"]),
        Route("/security/public-key-certificates", public_keys, methods=["GET"]),
        Route("/tokens", tokens, methods=["GET", "POST"]),
        Route("/tokens/{referenceNumber}", token_by_ref, methods=["GET", "DELETE"]),
        Route("/certificates/limits", cert_limits, methods=["GET"]),
        Route("/certificates/enrollments/data", enrollment_data, methods=["GET"]),
        Route("/certificates/enrollments", enroll, methods=["POST"]),
        Route("/certificates/enrollments/{referenceNumber}", enrollment_status, methods=["GET"]),
        Route("/certificates/retrieve", retrieve, methods=["POST"]),
        Route("/certificates/query", query, methods=["POST"]),
        Route("/certificates/{serial}/revoke", revoke_cert, methods=["POST"]),
        Route("/rate-limits", rate_limits, methods=["GET"]),
        Route("/testdata/rate-limits", testdata_rate_limits, methods=["POST", "DELETE"]),
        Route("/testdata/rate-limits/production", testdata_rate_limits_production, methods=["POST"]),
        Route("/testdata/person", testdata(sim.testdata.person), methods=["POST"]),
        Route("/testdata/person/remove", testdata(sim.testdata.person_remove), methods=["POST"]),
        Route("/testdata/subject", testdata(sim.testdata.subject), methods=["POST"]),
        Route("/testdata/subject/remove", testdata(sim.testdata.subject_remove), methods=["POST"]),
        Route("/testdata/permissions", testdata(sim.testdata.grant_permissions), methods=["POST"]),
        Route("/testdata/permissions/revoke", testdata(sim.testdata.revoke_permissions), methods=["POST"]),
        Route("/testdata/context/block", testdata(sim.testdata.block_context, optional=True), methods=["POST"]),
        Route(
            "/testdata/context/unblock", testdata(sim.testdata.unblock_context, optional=True), methods=["POST"]
        ),
    ]


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

        action = self.sim.faults.next_action(scope["method"], sub_path)
        if action is not None:
            if action.latency_s:
                await asyncio.sleep(action.latency_s)
            if action.drop:
                await _drop_connection(send)
                return
            if action.status is not None:
                await self._send_fault(scope, send, action.status, action.retry_after, problem)
                return

        decision = self.sim.limits.check_rate_limit(sub_path, _client_ip(scope), _bearer(headers))
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
