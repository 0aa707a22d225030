"""Command line: `ksef-tui` opens the panel; subcommands serve scripts and tests.

Kept cheap to import: heavy modules (Textual, SQLModel, KSeF code) load only in
the handler that needs them, so `ksef-tui --help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """One clear line for stderr; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _open_ctx(args: argparse.Namespace):
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    db = open_database(args.database)
    return AppContext(db, Actor.local_admin())


# ---- panel -----------------------------------------------------------------------
def cmd_panel(args: argparse.Namespace) -> int:
    ctx = _open_ctx(args)
    return _run_app(ctx)


def _run_app(ctx) -> int:
    from ksef_tui.ui.app import KsefApp

    app = KsefApp(ctx)
    app.run()
    return int(app.return_code or 0)


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.demo import seed_demo
    from ksef_tui.store.engine import open_database

    with tempfile.TemporaryDirectory(prefix="ksef-tui-demo-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        db = open_database(url)
        actor = Actor.local_admin()
        seed_demo(db, actor, companies=args.companies, users=args.users)
        ctx = AppContext(db, actor)
        try:
            return _run_app(ctx)
        finally:
            db.dispose()


# ---- import / export ---------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from ksef_tui.services.errors import ImportFailed

    try:
        data = open(args.file, "rb").read() if args.file != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    ctx = _open_ctx(args)
    try:
        if args.what == "companies":
            result = ctx.csv.import_companies(ctx.actor, data)
        else:
            result = ctx.csv.import_users(ctx.actor, data)
    except ImportFailed as exc:
        for p in exc.problems:
            print(f"ksef-tui: {args.file}: {p}", file=sys.stderr)
        print(f"ksef-tui: {len(exc.problems)} problem(s); nothing was imported", file=sys.stderr)
        return EXIT_USAGE
    print(f"Imported {result.created} {args.what}.")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    ctx = _open_ctx(args)
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8", newline="")
    try:
        if args.what == "companies":
            ctx.csv.export_companies(ctx.actor, out)
        else:
            ctx.csv.export_users(ctx.actor, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK


def cmd_companies_ksef(args: argparse.Namespace) -> int:
    from ksef_tui.domain.nip import InvalidNip, normalize_nip
    from ksef_tui.services.companies import nip_message

    enable = args.action == "enable-ksef"
    if args.all and args.nips:
        raise CliError("give NIPs or --all, not both")
    if not args.all and not args.nips:
        raise CliError("give at least one NIP, or --all")
    nips: list[str] = []
    for raw in args.nips:
        try:
            nips.append(normalize_nip(raw))
        except InvalidNip as exc:
            raise CliError(nip_message(exc)) from None
    ctx = _open_ctx(args)
    if args.all:
        ids = ctx.companies.ids(ctx.actor)
    else:
        found = ctx.companies.ids_by_nips(ctx.actor, nips)
        unknown = [n for n in nips if n not in found]
        if unknown:
            raise CliError(f"no company with NIP {', '.join(unknown)}; nothing was changed")
        ids = list(found.values())
    result = ctx.companies.serial_set_ksef(ctx.actor, ids, enable)
    state = "enabled" if enable else "disabled"
    print(f"KSeF {state} for {len(result.changed)} companies; {len(result.unchanged)} already {state}.")
    return EXIT_OK


# ---- parser --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from ksef_tui import __version__

    p = argparse.ArgumentParser(
        prog="ksef-tui",
        description="Switch KSeF on for client companies and authorize their users in KSeF API 2.0. "
        "Without a command, opens the panel.",
    )
    p.add_argument("--database", metavar="URL", help="database URL (default: SQLite in the user data folder; "
                   "env KSEF_TUI_DATABASE_URL); e.g. postgresql+psycopg://user@host/ksef")
    p.add_argument("--lang", choices=["en", "pl"], help="UI language (default: from LANG)")
    p.add_argument("--version", action="version", version=f"ksef-tui {__version__}")
    p.set_defaults(handler=cmd_panel)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="open the panel on a throwaway demo database (offline, with a local KSeF simulator)",
                       description="Open the panel on a throwaway demo database with realistic data.")
    d.add_argument("--companies", type=int, default=300, help="number of demo companies (default 300)")
    d.add_argument("--users", type=int, default=900, help="number of demo users (default 900)")
    d.set_defaults(handler=cmd_demo)

    imp = sub.add_parser("import", help="import companies or users from CSV (all or nothing)",
                         description="Import from CSV. Nothing is imported if any row is bad; "
                         "every bad line is named on stderr (exit 2).")
    imp_sub = imp.add_subparsers(dest="what", metavar="WHAT", required=True)
    ic = imp_sub.add_parser("companies", help="header: name,nip[,regon,address,ksef_enabled,notes]")
    ic.add_argument("file", metavar="FILE.csv")
    iu = imp_sub.add_parser("users", help="header: login,full_name,email,role,companies (NIPs separated by ;)")
    iu.add_argument("file", metavar="FILE.csv")
    imp.set_defaults(handler=cmd_import)

    exp = sub.add_parser("export", help="export companies or users as CSV", description="Write CSV to stdout or --out.")
    exp_sub = exp.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what in ("companies", "users"):
        e = exp_sub.add_parser(what, help=f"export {what}")
        e.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    exp.set_defaults(handler=cmd_export)

    comp = sub.add_parser("companies", help="serial operations on companies",
                          description="Switch KSeF on or off for companies given by NIP (one transaction).")
    comp_sub = comp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, verb in (("enable-ksef", "enable"), ("disable-ksef", "disable")):
        a = comp_sub.add_parser(action, help=f"{verb} KSeF for the companies with these NIPs",
                                description=f"{verb.capitalize()} KSeF for the companies with these NIPs, or --all. "
                                "An unknown or invalid NIP changes nothing.")
        a.add_argument("nips", nargs="*", metavar="NIP")
        a.add_argument("--all", action="store_true", help="every company")
    comp.set_defaults(handler=cmd_companies_ksef)

    _register_optional(sub)
    return p


def _register_optional(sub) -> None:
    """Command groups owned by other modules (each registers itself cheaply)."""
    try:
        from ksef_tui.simulator.server import add_cli as add_simulator
    except ImportError:  # pragma: no cover - during development only
        add_simulator = None
    if add_simulator is not None:
        add_simulator(sub)
    try:
        from ksef_tui.cli_ksef import register as add_ksef
    except ImportError:  # pragma: no cover
        add_ksef = None
    if add_ksef is not None:
        add_ksef(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ksef_tui import i18n

    try:
        i18n.set_language(i18n.detect_language(args.lang))
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return int(args.handler(args) or 0)
    except CliError as exc:
        print(f"ksef-tui: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("ksef-tui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, never a traceback
        return _report(exc)


def _report(exc: Exception) -> int:
    from ksef_tui.services.errors import PermissionDenied, ServiceError
    from ksef_tui.store.engine import StoreError

    if isinstance(exc, StoreError):
        print(f"ksef-tui: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if isinstance(exc, ServiceError):
        print(f"ksef-tui: {exc}", file=sys.stderr)
        return EXIT_FAIL if isinstance(exc, PermissionDenied) else EXIT_USAGE
    ksef_error = _ksef_error_line(exc)
    if ksef_error:
        print(f"ksef-tui: {ksef_error}", file=sys.stderr)
        return EXIT_FAIL
    print(f"ksef-tui: unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "),
          file=sys.stderr)
    return EXIT_FAIL


def _ksef_error_line(exc: Exception) -> str | None:
    mod = type(exc).__module__
    if not mod.startswith("ksef_tui.ksef"):
        return None
    hint = getattr(exc, "hint", None)
    return f"{exc} {hint}".strip() if hint else str(exc)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
