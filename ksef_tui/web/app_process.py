"""The app process of one browser session, as the portal's server (:mod:`ksef_tui.web.server`)
sees it: the session's facts (id, source address, cookie, inbox, times, why it ended) and
textual-serve's ``AppService`` started without a shell, with the session's facts in its
environment, asked to quit and killed (with its children) if it hangs. The process itself runs
:mod:`ksef_tui.web.session`."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from textual_serve.app_service import AppService


@dataclass
class PortalSession:
    id: str
    source: str
    cookie: str
    inbox: Path
    started: float = field(default_factory=time.monotonic)
    last_input: float = field(default_factory=time.monotonic)
    reason: str = "browser closed"
    ending: bool = False  # the server is ending it (idle, browser gone, stop): the app's exit is no logout
    service: PortalAppService | None = None


class PortalAppService(AppService):
    """One app process: started without a shell, with the session's facts in its environment."""

    def __init__(self, argv: list[str], session: PortalSession, extra_env: dict[str, str], **kwargs) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.session = session
        self.extra_env = extra_env

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env.update(self.extra_env)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height),
            start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def on_meta(self, data: bytes) -> None:
        import json

        try:
            meta = json.loads(data)
        except ValueError:
            return
        if meta.get("type") == "exit" and not self.session.ending:
            self.session.reason = "logout"
        await super().on_meta(data)

    async def stop_within(self, seconds: float) -> None:
        """Ask the app to quit; kill it (and its children) if it has not ended in ``seconds``."""
        try:
            await asyncio.wait_for(self.stop(), seconds)
        except (TimeoutError, Exception):
            pass
        process = self._process
        if process is not None and process.returncode is None:
            try:
                os.killpg(process.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                await asyncio.wait_for(process.wait(), seconds)
            except TimeoutError:
                pass
        if self._task is not None:
            self._task.cancel()
            self._task = None
