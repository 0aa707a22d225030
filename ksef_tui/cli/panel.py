"""`ksef-tui` (the panel on your database) and `ksef-tui demo` (a throwaway demo with simulators)."""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="open the panel on a throwaway demo database (offline, with a local KSeF simulator)",
                       description="Open the panel on a throwaway demo database with realistic data.")
    d.add_argument("--companies", type=int, default=300, help="number of demo companies (default 300)")
    d.add_argument("--users", type=int, default=900, help="number of demo users (default 900)")
    d.add_argument("--no-simulator", action="store_true", help="demo data only, without the local KSeF simulators")
    d.add_argument("--login", action="store_true",
                   help="start at the login screen, with demo passwords for an administrator and two clients")
    d.set_defaults(handler=cmd_demo)


def cmd_panel(args: argparse.Namespace) -> int:
    ctx = open_ctx(args)
    from ksef_tui.services.accounts import AccountService

    # once any user has a password, the panel asks who is logging in (else: the local operator)
    return run_app(ctx, login=AccountService(ctx.db).login_required())


def run_app(ctx: Any, *, login: bool = False) -> int:
    from ksef_tui.ui.app import KsefApp

    app = KsefApp(ctx, login=login)
    app.run()
    return int(app.return_code or 0)


def cmd_demo(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    with tempfile.TemporaryDirectory(prefix="ksef-tui-demo-") as tmp:
        # a throwaway master key: the demo never touches the user's key file
        os.environ[MASTER_KEY_ENV] = encode_key(MasterKey.generate().raw())
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        db = open_database(url)
        ctx = AppContext(db, Actor.local_admin())
        demo = None
        try:
            if args.no_simulator:
                from ksef_tui.demo.seed import seed_demo

                seed_demo(db, ctx.actor, companies=args.companies, users=args.users)
            else:
                from ksef_tui.demo.environment import prepare

                demo = prepare(ctx, Path(tmp) / "Downloads", companies=args.companies, users=args.users)
            if args.login:
                from ksef_tui.demo.environment import add_demo_logins

                add_demo_logins(ctx, demo)
            return run_app(ctx, login=args.login)
        finally:
            if demo is not None:
                demo.stop()
            db.dispose()
