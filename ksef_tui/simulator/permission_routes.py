"""The routes of ``/permissions/*`` (all 19 operations of the 2.9.0 spec).

Grants and withdrawals answer 202 with the operation's reference number; queries are paged with
``pageOffset`` (page number) and ``pageSize`` (10–100). Unreadable JSON answers 21001, as the spec
lists for these operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import validation as v
from .bodies import UNREADABLE
from .core import Caller
from .errors import dumps
from .simulator import Simulator

Handler = Callable[[Request], Awaitable[Response]]
JsonBody = Callable[..., Awaitable[Any]]


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _paging(request: Request) -> tuple[int, int]:
    q = request.query_params
    offset = v.page_size(q.get("pageOffset"), default=0, low=0, high=2**31 - 1, name="pageOffset",
                         unreadable=UNREADABLE)
    size = v.page_size(q.get("pageSize"), default=10, low=10, high=100, unreadable=UNREADABLE)
    return offset, size


def permission_routes(sim: Simulator, json_body: JsonBody, caller: Callable[[Request], Caller]) -> list[Route]:
    grants = sim.grants
    queries = sim.permission_queries

    def grant(action: Callable[[Caller, Any], dict[str, str]]) -> Handler:
        async def handler(request: Request) -> Response:
            who = caller(request)
            return _json(action(who, await json_body(request, unreadable=UNREADABLE)), 202)

        return handler

    def revoke(action: Callable[[Caller, str], dict[str, str]]) -> Handler:
        async def handler(request: Request) -> Response:
            return _json(action(caller(request), request.path_params["permissionId"]), 202)

        return handler

    def query(action: Callable[[Caller, Any, int, int], dict[str, Any]]) -> Handler:
        async def handler(request: Request) -> Response:
            who = caller(request)
            offset, size = _paging(request)
            body = await json_body(request, unreadable=UNREADABLE, optional=True)
            return _json(action(who, body, offset, size))

        return handler

    async def operation(request: Request) -> Response:
        return _json(grants.operation_status(caller(request), request.path_params["referenceNumber"]))

    async def roles(request: Request) -> Response:
        who = caller(request)
        offset, size = _paging(request)
        return _json(queries.entity_roles(who, offset, size))

    async def attachments(request: Request) -> Response:
        return _json(queries.attachments_status(caller(request)))

    p = "/permissions"
    return [
        Route(f"{p}/persons/grants", grant(grants.grant_persons), methods=["POST"]),
        Route(f"{p}/entities/grants", grant(grants.grant_entities), methods=["POST"]),
        Route(f"{p}/authorizations/grants", grant(grants.grant_authorization), methods=["POST"]),
        Route(f"{p}/indirect/grants", grant(grants.grant_indirect), methods=["POST"]),
        Route(f"{p}/subunits/grants", grant(grants.grant_subunits), methods=["POST"]),
        Route(f"{p}/eu-entities/administration/grants", grant(grants.grant_eu_administration), methods=["POST"]),
        Route(f"{p}/eu-entities/grants", grant(grants.grant_eu_representative), methods=["POST"]),
        Route(f"{p}/common/grants/{{permissionId}}", revoke(grants.revoke_common), methods=["DELETE"]),
        Route(f"{p}/authorizations/grants/{{permissionId}}", revoke(grants.revoke_authorization),
              methods=["DELETE"]),
        Route(f"{p}/operations/{{referenceNumber}}", operation, methods=["GET"]),
        Route(f"{p}/attachments/status", attachments, methods=["GET"]),
        Route(f"{p}/query/personal/grants", query(queries.personal), methods=["POST"]),
        Route(f"{p}/query/persons/grants", query(queries.persons), methods=["POST"]),
        Route(f"{p}/query/subunits/grants", query(queries.subunits), methods=["POST"]),
        Route(f"{p}/query/entities/grants", query(queries.entities), methods=["POST"]),
        Route(f"{p}/query/entities/roles", roles, methods=["GET"]),
        Route(f"{p}/query/subordinate-entities/roles", query(queries.subordinate_roles), methods=["POST"]),
        Route(f"{p}/query/authorizations/grants", query(queries.authorizations), methods=["POST"]),
        Route(f"{p}/query/eu-entities/grants", query(queries.eu_entities), methods=["POST"]),
    ]
