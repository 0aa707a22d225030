"""One browser session's app process: the panel at its login screen (``python -m ksef_tui.web.session``).

Started by the portal's server (:mod:`ksef_tui.web.server`) with Textual's web driver; what it
needs comes in its environment: the database (``KSEF_TUI_DATABASE_URL``), the language
(``KSEF_TUI_WEB_LANG``), whether administrators may log in (``KSEF_TUI_WEB_ADMINS``), and the
session's own facts (source address, inbox, upload link base). Logging out ends the process,
and so the browser session.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WebSession:
    """What the panel needs to know about its browser session (in ``ctx.options["web"]``)."""

    session_id: str
    inbox: Path
    upload_url: str  # the one-time link is upload_url + token

    def link(self, token: str) -> str:
        return self.upload_url + token


def web_session_from_env(environ: dict[str, str]) -> WebSession | None:
    inbox = environ.get("KSEF_TUI_WEB_INBOX")
    if not inbox:
        return None
    return WebSession(environ.get("KSEF_TUI_WEB_SESSION", ""), Path(inbox), environ.get("KSEF_TUI_WEB_UPLOAD_URL", ""))


def main() -> int:
    from ksef_tui import i18n

    i18n.set_language(os.environ.get("KSEF_TUI_WEB_LANG") or "en")
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database
    from ksef_tui.ui.app import KsefApp

    web = web_session_from_env(dict(os.environ))
    db = open_database(os.environ.get("KSEF_TUI_DATABASE_URL"))
    try:
        ctx = AppContext(db, Actor.local_admin())
        ctx.options["web"] = web
        ctx.options["login_source"] = os.environ.get("KSEF_TUI_WEB_SOURCE") or "web:unknown"
        ctx.options["admins_allowed"] = os.environ.get("KSEF_TUI_WEB_ADMINS") == "1"
        if web is not None:
            ctx.options["downloads_dir"] = str(web.inbox / "out")  # never shown; delivered to the browser
        if os.environ.get("KSEF_TUI_WEB_DEMO") == "1":  # `ksef-tui demo --serve`: published demo passwords
            from ksef_tui.demo.logins import DEMO_LOGINS

            ctx.options["demo_logins"] = list(DEMO_LOGINS)
            ctx.options["demo_sign_url"] = os.environ.get("KSEF_TUI_WEB_DEMO_SIGN_URL")
        app = KsefApp(ctx, login=True)  # every browser session starts at the login screen
        app.run()
        return int(app.return_code or 0)
    finally:
        db.dispose()


if __name__ == "__main__":  # pragma: no cover - run by the server
    sys.exit(main())
