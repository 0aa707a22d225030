"""`ksef-tui` (the panel on your database) and `ksef-tui demo` (a throwaway demo with simulators)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ksef_tui.cli.common import open_ctx

if TYPE_CHECKING:
    from concurrent.futures import Future


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="open the panel on a throwaway demo database (offline, with a local KSeF simulator)",
                       description="Open the panel on a throwaway demo database with realistic data.")
    d.add_argument("--companies", type=int, default=300, help="number of demo companies (default 300)")
    d.add_argument("--users", type=int, default=900, help="number of demo users (default 900)")
    d.add_argument("--no-simulator", action="store_true", help="demo data only, without the local KSeF simulators")
    d.add_argument("--login", action="store_true",
                   help="start at the login screen, with demo passwords for an administrator and two clients")
    d.add_argument("--serve", action="store_true",
                   help="serve the demo to browsers (the client portal, as `ksef-tui serve`) instead of this terminal")
    d.add_argument("--port", type=int, default=8000, help="with --serve: the port on 127.0.0.1 (default 8000)")
    d.set_defaults(handler=cmd_demo)


#: the rows the first view reads: one page of the list (ui.widgets.virtual_table.PAGE_SIZE; a test checks)
FIRST_PAGE = 100


def cmd_panel(args: argparse.Namespace) -> int:
    from ksef_tui.ui.common.gc_policy import hold_until_start

    hold_until_start()  # no garbage collection before the first frame (the app's policy then takes over)
    # the Companies list's first view, read (SQLite) while Python imports the UI below
    first_view = read_ahead(getattr(args, "database", None))

    def opener() -> tuple[Any, bool]:
        """Run by the panel in a thread worker after its first frame: the database (migrations,
        the vault check) and whether someone must log in first."""
        ctx = open_ctx(args)
        from ksef_tui.services.accounts import AccountService

        # once any user has a password, the panel asks who is logging in (else: the local operator)
        return ctx, AccountService(ctx.db).login_required()

    try:
        return run_app(None, opener=opener, first_view=first_view)
    finally:
        import gc

        gc.enable()  # as the app's mount does (an app that never mounted leaves it held)


def read_ahead(database: str | None) -> Future[Any]:
    """:func:`ksef_tui.services.company_list.first_view` in a thread of its own, started at once: sqlite3
    lets go of the interpreter while it reads, so the read costs start-up next to nothing."""
    import threading
    from concurrent.futures import Future

    from ksef_tui.services.company_list import first_view

    future: Future[Any] = Future()

    def read() -> None:
        try:
            future.set_result(first_view(database, limit=FIRST_PAGE))
        except BaseException as exc:  # the panel then opens as ever
            future.set_exception(exc)

    threading.Thread(target=read, name="ksef-tui first view", daemon=True).start()
    return future


def run_app(ctx: Any, *, login: bool = False, opener: Any = None, first_view: Future[Any] | None = None) -> int:
    from ksef_tui.ui.app import KsefApp

    app = KsefApp(ctx, login=login, opener=opener, first_view=first_view)
    app.run()
    if app.open_error is not None:  # the database could not be opened: one sentence, as ever
        raise app.open_error
    return int(app.return_code or 0)


def cmd_demo(args: argparse.Namespace) -> int:
    from ksef_tui.demo.environment import demo_session
    from ksef_tui.i18n import _
    from ksef_tui.ui.common.demo_guide import start_text

    with demo_session(companies=args.companies, users=args.users, simulator=not args.no_simulator,
                      logins=args.login or args.serve) as ctx:
        if args.serve:  # the client portal on loopback; administrators too (it is the demo)
            from ksef_tui.cli.serve import serve

            options = argparse.Namespace(host="127.0.0.1", port=args.port, public_url=None, max_sessions=20,
                                         idle_timeout=900.0, allow_admins=True, trusted_proxy=[])
            demo = ctx.options.get("demo_ksef")  # with the simulators: a simulated gov.pl signing page
            return serve(options, ctx.db.url, demo=True, demo_signer=demo.sign_bytes if demo is not None else None)
        folder = ctx.options.get("demo_folder")
        print(start_text(ctx.options), file=sys.stderr, flush=True)
        code = run_app(ctx, login=args.login)
    print(_("The demo folder {folder} was removed.").format(folder=folder), file=sys.stderr)
    return code
