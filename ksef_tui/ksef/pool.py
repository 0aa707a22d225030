"""The connection pool of :class:`~ksef_tui.ksef.http.KsefHttp`: httpx's own transport with one change
measured by ``benchmarks/bench_permissions``.

Before each request httpcore's pool asks every idle connection whether the server closed it
(``get_extra_info("is_readable")``). Through anyio each such question builds a dict of the socket's
attributes and calls ``getpeername()``; with a bulk run's 32 connections kept alive that was a third
of the event loop's time. Here the raw socket is looked up once per connection and the question is
one ``poll(0)``, the same test httpcore makes. Everything else (TLS, timeouts, limits, proxies from
the environment, errors) is httpx's and httpcore's, unchanged.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import typing

import httpcore
import httpx


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data, or the end of a closed connection): httpcore's test."""
    fd = None if sock is None else sock.fileno()
    if fd is None or fd < 0:
        return True
    if sys.platform == "win32" or getattr(select, "poll", None) is None:
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers ``is_readable`` from its socket, looked up once."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend for asyncio (anyio), its streams wrapped in :class:`_Stream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[typing.Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport (as ``httpx.AsyncClient(verify=ssl_context, limits=limits)`` makes it), its
    pool's connections made through :class:`_Backend`."""
    t = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    t._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=_Backend(),
    )
    return t
