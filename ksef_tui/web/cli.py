"""``ksef-tui serve``: the client portal in a browser (arguments and start-up checks).

Cheap to import (argparse only); the server and the services load in :func:`serve`.
"""

from __future__ import annotations

import argparse
import os
import sys


class ServeRefused(Exception):
    """``serve`` will not start: one clear line for the user."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: loopback; TLS belongs to a reverse proxy in front)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--public-url", metavar="URL",
                   help="the address browsers use, e.g. https://ksef.biuro.example.pl (behind a reverse proxy)")
    p.add_argument("--max-sessions", type=int, default=20, metavar="N",
                   help="browser sessions at once (default 20); more get 'busy, try again later'")
    p.add_argument("--idle-timeout", type=float, default=900, metavar="SECONDS",
                   help="end a session after this long without a key or mouse input (default 900)")
    p.add_argument("--allow-admins", action="store_true",
                   help="let administrators log in from the browser too (default: clients only)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="a reverse proxy whose X-Forwarded-For names the client (repeatable; e.g. 127.0.0.1)")


def check_ready(database: str | None) -> str:
    """The resolved database URL, or :class:`ServeRefused` when no account can log in."""
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    db = open_database(database)
    try:
        if not AccountService(db).login_required():
            raise ServeRefused(
                "no account has a password, so nobody could log in: a browser session never opens the panel "
                "without logging in. Give one first: `ksef-tui admin create LOGIN --full-name NAME` or "
                "`ksef-tui users password LOGIN` (and `ksef-tui users code LOGIN` for clients).")
        AppContext(db, Actor.local_admin()).credentials.vaults.check()  # a missing master key stops here
        return db.url
    finally:
        db.dispose()


def config_from(args: argparse.Namespace, database_url: str):
    from ksef_tui import i18n
    from ksef_tui.web.server import ServeConfig

    if args.max_sessions < 1:
        raise ServeRefused("--max-sessions must be at least 1")
    if args.idle_timeout <= 0:
        raise ServeRefused("--idle-timeout must be more than 0 seconds")
    if args.public_url and not args.public_url.startswith(("http://", "https://")):
        raise ServeRefused("--public-url must start with https:// (or http://)")
    import ipaddress

    for proxy in args.trusted_proxy:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ServeRefused(f"--trusted-proxy {proxy}: not an IP address or network") from None
    return ServeConfig(host=args.host, port=args.port, public_url=args.public_url,
                       max_sessions=args.max_sessions, idle_timeout_s=args.idle_timeout,
                       allow_admins=args.allow_admins, trusted_proxies=tuple(args.trusted_proxy),
                       lang=i18n.language(),
                       database_url=database_url)


def serve(args: argparse.Namespace, *, ready=None) -> int:
    """Run the portal until SIGINT/SIGTERM. The first line on stdout is the URL, printed when ready."""
    import asyncio

    from ksef_tui.web.server import PortalServer

    try:
        url = check_ready(args.database)
        config = config_from(args, url)
    except ServeRefused as exc:
        print(f"ksef-tui: serve: {exc}", file=sys.stderr)
        return 1
    # what every session's app process needs (it inherits this environment)
    os.environ["KSEF_TUI_DATABASE_URL"] = url
    os.environ["KSEF_TUI_WEB_LANG"] = config.lang
    os.environ["KSEF_TUI_WEB_ADMINS"] = "1" if config.allow_admins else "0"
    server = PortalServer(config, [sys.executable, "-m", "ksef_tui.web.session"])

    def announce(s: PortalServer) -> None:
        print(s.public_url, flush=True)
        if config.host not in ("127.0.0.1", "::1", "localhost") and not config.public_url:
            print("ksef-tui: serve: listening beyond loopback without --public-url: put a reverse proxy with "
                  "TLS in front (see the README)", file=sys.stderr, flush=True)
        if ready is not None:
            ready(s)

    asyncio.run(server.run_until_stopped(announce))
    return 0
