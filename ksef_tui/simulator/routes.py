"""The routes of the simulated KSeF API (below ``/v2``): parse the request, call an area, answer.

``/testdata/*`` exists only in test mode: DEMO and PRODUCTION have no test-data API (the spec marks
each of those operations "Tylko na środowiskach testowych"), so in strict mode they are unknown
paths and answer 404, like any other path the environment does not serve.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from . import validation as v
from .bodies import INVALID, UNREADABLE, parse_json, read_body
from .core import Caller
from .errors import ProblemError, dumps
from .permission_routes import permission_routes
from .simulator import Simulator

Handler = Callable[[Request], Awaitable[Response]]


def client_ip(request_or_scope: Request | Scope) -> str:
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    client = scope.get("client")
    return client[0] if client else "127.0.0.1"


def bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _no_content() -> Response:
    return Response(status_code=204)


def _empty_ok() -> Response:
    return Response(status_code=200)


def build_routes(sim: Simulator) -> list[Route]:
    json_cap = sim.config.max_json_bytes

    async def json_body(request: Request, *, unreadable: int = INVALID, optional: bool = False) -> Any:
        """The JSON body; ``unreadable`` is the code 2.9 lists for this operation (21001 or 21405)."""
        raw = await read_body(request, json_cap, code=unreadable)
        if not raw.strip():
            if optional:
                return None
            raise v.invalid("Brak treści żądania.")
        return parse_json(raw, code=unreadable)

    def caller(request: Request, *, allow_refresh: bool = False) -> Caller:
        return sim.sessions.authenticate(bearer(request.headers), client_ip(request), allow_refresh=allow_refresh)

    def page_size(request: Request, high: int) -> int:
        raw = request.query_params.get("pageSize")
        return v.page_size(raw, default=10, low=10, high=high, unreadable=UNREADABLE)

    # -- auth ----------------------------------------------------------------------------------
    async def challenge(request: Request) -> Response:
        return _json(sim.auth.create_challenge(client_ip(request)))

    async def xades_signature(request: Request) -> Response:
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media not in ("application/xml", "text/xml"):
            raise ProblemError(415, f"Nieobsługiwany typ treści '{media or '-'}'; oczekiwano application/xml.")
        verify = (request.query_params.get("verifyCertificateChain") or "false").lower() == "true"
        body = await read_body(request, sim.config.max_xml_bytes, code=UNREADABLE)
        return _json(sim.auth.init_xades_auth(body, client_ip(request), verify_chain=verify), 202)

    async def ksef_token(request: Request) -> Response:
        body = await json_body(request, unreadable=UNREADABLE)
        return _json(sim.auth.init_token_auth(body, client_ip(request)), 202)

    async def auth_status(request: Request) -> Response:
        ref = request.path_params["referenceNumber"]
        return _json(sim.sessions.auth_status(ref, bearer(request.headers)))

    async def redeem(request: Request) -> Response:
        return _json(sim.sessions.redeem(bearer(request.headers)))

    async def refresh(request: Request) -> Response:
        return _json(sim.sessions.refresh(bearer(request.headers)))

    async def sessions(request: Request) -> Response:
        who = caller(request)
        size = page_size(request, 100)
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
            return _json(sim.tokens.generate_token(who, await json_body(request, unreadable=UNREADABLE)), 202)
        q = request.query_params
        return _json(
            sim.tokens.query_tokens(
                who,
                statuses=q.getlist("status"),
                description=q.get("description"),
                author_identifier=q.get("authorIdentifier"),
                author_identifier_type=q.get("authorIdentifierType"),
                page_size=page_size(request, 100),
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
        return _json(sim.certificates.enroll(who, await json_body(request, unreadable=UNREADABLE)), 202)

    async def enrollment_status(request: Request) -> Response:
        return _json(sim.certificates.enrollment_status(caller(request), request.path_params["referenceNumber"]))

    async def retrieve(request: Request) -> Response:
        who = caller(request)
        return _json(sim.certificates.retrieve_certificates(who, await json_body(request, unreadable=UNREADABLE)))

    async def query(request: Request) -> Response:
        who = caller(request)
        size = page_size(request, 50)
        offset = v.page_size(request.query_params.get("pageOffset"), default=0, low=0, high=2**31 - 1,
                             name="pageOffset", unreadable=UNREADABLE)
        body = await json_body(request, unreadable=UNREADABLE, optional=True)
        return _json(sim.certificates.query_certificates(who, body, size, offset))

    async def revoke_cert(request: Request) -> Response:
        who = caller(request)
        body = await json_body(request, unreadable=UNREADABLE, optional=True)
        sim.certificates.revoke_certificate(who, request.path_params["serial"], body)
        return _no_content()

    # -- limits --------------------------------------------------------------------------------
    async def rate_limits(request: Request) -> Response:
        return _json(sim.limits.rate_limits(caller(request)))

    async def context_limits(request: Request) -> Response:
        return _json(sim.limits.context_limits(caller(request)))

    async def subject_limits(request: Request) -> Response:
        return _json(sim.limits.effective_subject_limits(caller(request)))

    routes = [
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
        Route("/limits/context", context_limits, methods=["GET"]),
        Route("/limits/subject", subject_limits, methods=["GET"]),
    ]
    routes += permission_routes(sim, json_body, caller)
    if sim.config.mode == "test":
        routes += _testdata_routes(sim, json_body, caller)
    return routes


def _testdata_routes(
    sim: Simulator,
    json_body: Callable[..., Awaitable[Any]],
    caller: Callable[[Request], Caller],
) -> list[Route]:
    """``/testdata/*``: the public test-data API and the authenticated limit/certificate overrides."""

    def public(action: Callable[[Any], None], *, optional: bool = False) -> Handler:
        async def handler(request: Request) -> Response:
            action(await json_body(request, optional=optional))
            return _empty_ok()

        return handler

    def override(set_: Callable[[Caller, Any], None], reset: Callable[[Caller], None] | None = None) -> Handler:
        async def handler(request: Request) -> Response:
            who = caller(request)
            if request.method == "DELETE" and reset is not None:
                reset(who)
            else:
                set_(who, await json_body(request))
            return _empty_ok()

        return handler

    async def production_rate_limits(request: Request) -> Response:
        sim.limits.production_rate_limits(caller(request))
        return _empty_ok()

    async def certificate(request: Request) -> Response:
        who = caller(request)
        sim.certificates.shorten_validity(who, request.path_params["serialNumber"], await json_body(request))
        return _empty_ok()

    td = sim.testdata
    limits = sim.limits
    return [
        Route("/testdata/person", public(td.person), methods=["POST"]),
        Route("/testdata/person/remove", public(td.person_remove), methods=["POST"]),
        Route("/testdata/subject", public(td.subject), methods=["POST"]),
        Route("/testdata/subject/remove", public(td.subject_remove), methods=["POST"]),
        Route("/testdata/permissions", public(td.grant_permissions), methods=["POST"]),
        Route("/testdata/permissions/revoke", public(td.revoke_permissions), methods=["POST"]),
        Route("/testdata/attachment", public(td.attachment), methods=["POST"]),
        Route("/testdata/attachment/revoke", public(td.attachment_revoke), methods=["POST"]),
        Route("/testdata/context/block", public(td.block_context, optional=True), methods=["POST"]),
        Route("/testdata/context/unblock", public(td.unblock_context, optional=True), methods=["POST"]),
        Route("/testdata/rate-limits", override(limits.set_rate_limits, limits.reset_rate_limits),
              methods=["POST", "DELETE"]),
        Route("/testdata/rate-limits/production", production_rate_limits, methods=["POST"]),
        Route("/testdata/limits/context/session", override(limits.set_context_limits, limits.reset_context_limits),
              methods=["POST", "DELETE"]),
        Route("/testdata/limits/subject/certificate",
              override(limits.set_subject_limits, limits.reset_subject_limits), methods=["POST", "DELETE"]),
        Route("/testdata/certificates/{serialNumber}", certificate, methods=["PUT"]),
    ]
