"""`ksef-tui serve`: the client portal in a browser (ksef_tui.web), and what it checks before starting.

Cheap to import (argparse only); the server loads in the handler.
"""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.errors import EXIT_FAIL, CliError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="serve the client portal to browsers (the panel at its login screen)",
        description="Serve the panel to browsers: one app process per browser session, each starting at the "
        "login screen; clients see only their KSeF configuration. Refuses to start while no account has a "
        "password. Listens on loopback: put a reverse proxy with TLS in front (see the README). The URL is "
        "the first line on stdout, printed when ready; stops on Ctrl+C or SIGTERM.")
    add_arguments(p)
    p.set_defaults(handler=cmd_serve)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: loopback; TLS belongs to a reverse proxy in front)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--public-url", metavar="URL",
                   help="the address browsers use, e.g. https://ksef.biuro.example.pl (behind a reverse proxy)")
    p.add_argument("--max-sessions", type=int, default=20, metavar="N",
                   help="browser sessions at once (default 20); more are told the portal is busy")
    p.add_argument("--idle-timeout", type=float, default=900, metavar="SECONDS",
                   help="end a session after this long without a key or mouse input (default 900)")
    p.add_argument("--allow-admins", action="store_true",
                   help="let administrators log in from the browser too (default: clients only)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="a reverse proxy whose X-Forwarded-For names the client (repeatable; e.g. 127.0.0.1)")


def cmd_serve(args: argparse.Namespace) -> int:
    url = check_ready(getattr(args, "database", None))
    return serve(args, url)


def check_ready(database: str | None) -> str:
    """The database URL, or :class:`CliError` when no account could log in (or the key is missing)."""
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.context import open_context

    ctx = open_context(database)  # a missing or wrong master key stops here, in plain words
    try:
        if not AccountService(ctx.db).login_required():
            raise CliError(
                "serve: no account has a password, so nobody could log in: a browser session never opens the "
                "panel without logging in. Give one first: `ksef-tui admin create LOGIN --full-name NAME` or "
                "`ksef-tui users password LOGIN` (or `ksef-tui users code LOGIN` for a client's first login).",
                EXIT_FAIL)
        return ctx.db.url
    finally:
        ctx.db.dispose()


def serve(args: argparse.Namespace, database_url: str, *, demo: bool = False, demo_signer: Any = None) -> int:
    import ipaddress

    from ksef_tui import i18n
    from ksef_tui.web.server import ServeConfig, run

    if args.max_sessions < 1:
        raise CliError("--max-sessions must be at least 1")
    if args.idle_timeout <= 0:
        raise CliError("--idle-timeout must be more than 0 seconds")
    if args.public_url and not args.public_url.startswith(("http://", "https://")):
        raise CliError("--public-url must start with https:// (or http://)")
    for proxy in args.trusted_proxy:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise CliError(f"--trusted-proxy {proxy}: not an IP address or network") from None
    config = ServeConfig(host=args.host, port=args.port, public_url=args.public_url,
                         max_sessions=args.max_sessions, idle_timeout_s=args.idle_timeout,
                         allow_admins=args.allow_admins, trusted_proxies=tuple(args.trusted_proxy),
                         lang=i18n.language(), database_url=database_url, demo=demo, demo_signer=demo_signer)
    try:
        run(config)
    except OSError as exc:  # the port is taken, the address is not ours
        raise CliError(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_FAIL) from None
    return 0
