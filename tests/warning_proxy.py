"""A loopback HTTP proxy in front of a KSeF simulator in test mode that adds ``X-Test-System-Warning``
to every request, so KSeF (the simulator, as KSeF TEST does) answers with ``X-System-Warning``.

The app under test is only pointed at the proxy's base URL: nothing in it is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

_HOP = {"host", "content-length", "transfer-encoding", "connection"}


@contextmanager
def warning_proxy(target_base_url: str, warning: str) -> Iterator[str]:
    """``with warning_proxy(sim_url, "[W1]: text") as url:`` — the proxy's base URL (``…/v2``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from ksef_tui.simulator.server import serve_in_thread

    origin = target_base_url.removesuffix("/v2")

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["X-Test-System-Warning"] = warning
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(request.method, origin + request.url.path, params=request.query_params,
                                          headers=headers, content=await request.body())
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP | {"content-encoding"}}
        return Response(answer.content, status_code=answer.status_code, headers=out)

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])
    with serve_in_thread(app) as running:
        yield running.base_url
