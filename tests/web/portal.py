"""Helpers for the portal's tests: run ``ksef-tui serve`` as a process, and a terminal client.

:class:`TerminalClient` is what the browser's page does, without a browser: it loads the page
(for the session cookie), opens the websocket and renders what arrives with a terminal emulator
(pyte), so a test reads the screen as text. The browser suite (``test_browser.py``) drives
Chromium for real; this client serves the protocol tests and the benchmark.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ENTER, TAB, ESC, CTRL_Q = "\r", "\t", "\x1b", "\x11"


class Portal:
    """``ksef-tui serve`` on a free loopback port, stopped by :meth:`stop`."""

    def __init__(self, db_url: str, *extra: str, env: dict | None = None, log: Path | None = None) -> None:
        self.log_path = log
        environ = dict(os.environ, **(env or {}))
        environ.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ksef_tui", "--database", db_url, "serve", "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=open(log, "wb") if log else subprocess.DEVNULL, env=environ,  # noqa: SIM115 - the server keeps it
            start_new_session=True)
        line = self.proc.stdout.readline().decode().strip()  # the URL, printed when ready
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"serve did not start: {line!r}; log: {self.log()}")
        self.url = line

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    async def wait_log(self, *needles: str, timeout: float = 20.0) -> str:
        """The server's log once it holds every needle (a session's end line follows its app's exit)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if all(n in log for n in needles):
                return log
            if time.monotonic() > deadline:
                raise AssertionError(f"{needles} not in the server's log:\n{log}")
            await asyncio.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


class TerminalClient:
    """One browser session as the page runs it: cookie, websocket, a terminal of ``size``."""

    def __init__(self, url: str, size: tuple[int, int] = (100, 30), *, verify_tls: bool = True,
                 local_addr: str | None = None) -> None:
        import pyte

        self.url = url
        self.verify_tls = verify_tls
        self.local_addr = local_addr  # connect from this address (another loopback address, say)
        self.size = size
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.received = bytearray()
        self.texts: list = []
        self.closed: asyncio.Event | None = None
        self.close_code: int | None = None

    async def __aenter__(self) -> TerminalClient:
        import aiohttp

        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          connector=aiohttp.TCPConnector(
                                              ssl=None if self.verify_tls else False,
                                              local_addr=(self.local_addr, 0) if self.local_addr else None))
        async with self.http.get(self.url + "/") as r:
            self.page_status = r.status
            await r.read()
        self.closed = asyncio.Event()
        return self

    async def connect(self) -> None:
        w, h = self.size
        self.ws = await self.http.ws_connect(f"{self.url.replace('http', 'ws', 1)}/ws?width={w}&height={h}",
                                             headers={"Origin": self.url})
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        import aiohttp

        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.received += msg.data
                    self.stream.feed(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self.texts.append(json.loads(msg.data))
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def __aexit__(self, *exc) -> None:
        if getattr(self, "ws", None) is not None and not self.ws.closed:
            await self.ws.close()
        if getattr(self, "reader", None) is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except (TimeoutError, Exception):
                pass
        await self.http.close()

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def wait_for(self, needle: str, timeout: float = 20.0) -> float:
        """Seconds until ``needle`` is on the screen (AssertionError with the screen after ``timeout``)."""
        start = time.monotonic()
        while needle not in self.text():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"{needle!r} not on screen after {timeout} s:\n{self.text()}")
            if self.closed.is_set() and needle not in self.text():
                raise AssertionError(f"session closed ({self.close_code}) before {needle!r}:\n{self.text()}")
            await asyncio.sleep(0.05)
        return time.monotonic() - start

    async def send(self, data: str) -> None:
        await self.ws.send_str(json.dumps(["stdin", data]))

    async def type(self, text: str) -> None:
        for ch in text:
            await self.send(ch)
            await asyncio.sleep(0.005)

    async def wait_closed(self, timeout: float = 20.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code
