"""Headless Chromium (Debian's package) driven by Playwright's Python API, for the portal's suite.

:class:`BrowserTerminal` watches the page's websocket (Playwright reports every frame) and renders
what the server sent with a terminal emulator (pyte) of the size the page asked for, so a test
reads the screen the browser shows as text, finds a word on it and clicks there with the mouse.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from urllib.parse import parse_qs, urlsplit

CHROMIUM = os.environ.get("KSEF_TUI_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_missing() -> str | None:
    """Why the browser suite cannot run here, or None."""
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


class BrowserTerminal:
    """The terminal in ``page`` as text: fed from the websocket frames the page receives."""

    def __init__(self, page) -> None:
        self.page = page
        self.screen = None
        self.stream = None
        self.received = bytearray()
        self.sent: list[str] = []
        self.closed = False
        self.last_frame = time.monotonic()
        page.on("websocket", self._websocket)

    def _websocket(self, ws) -> None:
        import pyte

        query = parse_qs(urlsplit(ws.url).query)
        cols, rows = int(query.get("width", ["80"])[0]), int(query.get("height", ["24"])[0])
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)
        ws.on("close", lambda _ws: setattr(self, "closed", True))

    def _received(self, payload) -> None:
        if isinstance(payload, (bytes, bytearray)):
            self.last_frame = time.monotonic()
            self.received += payload
            self.stream.feed(bytes(payload))

    def _sent(self, payload) -> None:
        if isinstance(payload, str):
            self.sent.append(payload)
            try:
                kind, data = json.loads(payload)[:2]
            except (ValueError, TypeError):
                return
            if kind == "resize" and self.screen is not None:
                self.screen.resize(data["height"], data["width"])

    def text(self) -> str:
        return "\n".join(self.screen.display) if self.screen is not None else ""

    async def wait_for(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not on the page's screen after {timeout} s:\n{self.text()}")
            await asyncio.sleep(0.05)

    async def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until the screen has not changed for ``quiet`` seconds (a repaint has finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last_frame < quiet and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def wait_gone(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} still on the page's screen after {timeout} s:\n{self.text()}")
            await asyncio.sleep(0.05)

    def find(self, needle: str) -> list[tuple[int, int]]:
        """Where ``needle`` is on the screen: (row, column) of each place, top to bottom."""
        found = []
        for row, line in enumerate(self.screen.display):
            col = line.find(needle)
            while col >= 0:
                found.append((row, col))
                col = line.find(needle, col + 1)
        if not found:
            raise AssertionError(f"{needle!r} not on the page's screen:\n{self.text()}")
        return found

    async def click(self, needle: str, which: int = 0) -> None:
        """Click with the mouse in the middle of ``needle`` where the page shows it (the
        ``which``-th place it is shown, -1: the last)."""
        await self.wait_for(needle)
        await self.settle()
        row, col = self.find(needle)[which]
        box = await self.page.locator("#terminal .xterm-screen").bounding_box()
        cw, ch = box["width"] / self.screen.columns, box["height"] / self.screen.lines
        await self.page.mouse.click(box["x"] + (col + len(needle) / 2) * cw, box["y"] + (row + 0.5) * ch)

    async def click_until(self, needle: str, expect: str, which: int = 0, *, tries: int = 3,
                          wait: float = 8.0) -> None:
        """Click ``needle`` until ``expect`` shows (a repaint that moved the target between finding and
        clicking it, on a busy machine, costs one more click, not the test)."""
        for attempt in range(tries):
            await self.click(needle, which)
            try:
                await self.wait_for(expect, timeout=wait)
                return
            except AssertionError:
                if attempt == tries - 1 or needle not in self.text():
                    raise

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text, delay=15)

    async def press(self, key: str) -> None:
        await self.page.keyboard.press(key)

    async def paste(self, text: str) -> None:
        """Paste ``text`` as the browser does (a paste event on xterm's input; bracketed paste)."""
        await self.page.evaluate("""(text) => {
            const input = document.querySelector('#terminal textarea');
            const data = new DataTransfer();
            data.setData('text/plain', text);
            input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""", text)
