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
    ctx = AppContext(db, Actor.local_admin())
    ctx.credentials.vaults.check()  # a missing or wrong master key stops here, in plain words
    return ctx


# ---- panel -----------------------------------------------------------------------
def cmd_panel(args: argparse.Namespace) -> int:
    ctx = _open_ctx(args)
    from ksef_tui.services.accounts import AccountService

    # once any user has a password, the panel asks who is logging in (else: the local operator)
    return _run_app(ctx, login=AccountService(ctx.db).login_required())


def _run_app(ctx, *, login: bool = False) -> int:
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
            return _run_app(ctx, login=args.login)
        finally:
            if demo is not None:
                demo.stop()
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


# ---- keys and per-user KSeF ---------------------------------------------------------
def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ksef_tui.services.key_rotation import rotate_master_key

    ctx = _open_ctx(args)
    result = rotate_master_key(ctx.db, ctx.actor, out=Path(args.out) if args.out else None)
    print(f"Re-encrypted {result.secrets} secret(s) under the new master key {result.new_key_id} "
          f"(was {result.old_key_id}); key file: {result.key_written_to}.")
    if args.out:
        print("Set KSEF_TUI_MASTER_KEY to the content of that file; the old key no longer opens anything.")
    return EXIT_OK


def _user_company_env(ctx, args):
    from ksef_tui.domain.environments import Environment
    from ksef_tui.domain.nip import InvalidNip, normalize_nip
    from ksef_tui.services.companies import nip_message

    try:
        env = Environment.parse(args.env)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        nip = normalize_nip(args.nip)
    except InvalidNip as exc:
        raise CliError(nip_message(exc)) from None
    user = ctx.users.find_by_login(ctx.actor, args.login)
    if user is None:
        raise CliError(f"no user with login {args.login}")
    company = ctx.companies.find_by_nip(ctx.actor, nip)
    if company is None:
        raise CliError(f"no company with NIP {nip}")
    if args.base_url:
        ctx.credentials.connections.set_endpoint(ctx.actor, env, args.base_url)
    return user, company, env


def _read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(2_000_000)
    except OSError as exc:
        raise CliError(f"cannot read the {what} file {path}: {exc.strerror}") from None


def cmd_users_ksef_set(args: argparse.Namespace) -> int:
    from ksef_tui.services.errors import ValidationFailed
    from ksef_tui.domain.secret import Secret
    from ksef_tui.services.ksef.views import CertificateFiles

    if args.cert and not args.key:
        raise CliError("--cert needs --key (or use --pkcs12)")
    ctx = _open_ctx(args)
    user, company, env = _user_company_env(ctx, args)
    password = None
    if args.password_file:
        lines = _read_file(args.password_file, "password").decode("utf-8-sig", "replace").splitlines()
        password = Secret(lines[0] if lines else "")
    try:
        if args.token_file:
            token = _read_file(args.token_file, "token").decode("utf-8", "replace")
            view = ctx.credentials.save_token(ctx.actor, user.id, company.id, env, token)
            print(f"Saved the KSeF token {view.token_masked} for {user.login} in {company.nip} ({env.value}); "
                  "login method: token.")
        else:
            if args.pkcs12:
                cred = CertificateFiles(pkcs12_data=_read_file(args.pkcs12, "PKCS#12"), password=password)
            else:
                cred = CertificateFiles(cert_data=_read_file(args.cert, "certificate"),
                                        key_data=_read_file(args.key, "key"), password=password)
            view = ctx.credentials.save_certificate(ctx.actor, user.id, company.id, env, cred)
            print(f"Saved the certificate {view.cert_subject} (valid to {view.cert_valid_to:%Y-%m-%d}) for "
                  f"{user.login} in {company.nip} ({env.value}); login method: certificate.")
    except ValidationFailed as exc:
        raise CliError("; ".join(exc.errors.values())) from None
    return EXIT_OK


def cmd_users_ksef_test(args: argparse.Namespace) -> int:
    import asyncio

    ctx = _open_ctx(args)
    user, company, env = _user_company_env(ctx, args)
    outcome = asyncio.run(ctx.credentials.test_authorization(ctx.actor, user.id, company.id, env))
    if outcome.ok:
        until = f" until {outcome.valid_until:%Y-%m-%d %H:%M} UTC" if outcome.valid_until else ""
        print(f"OK: {user.login} authorized in KSeF {env.value} for {company.nip} by {outcome.method}{until} "
              f"(reference {outcome.reference_number}).")
        return EXIT_OK
    raise CliError(f"{outcome.message} {outcome.hint}".strip(), code=EXIT_FAIL)


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
    d.add_argument("--no-simulator", action="store_true", help="demo data only, without the local KSeF simulators")
    d.add_argument("--login", action="store_true",
                   help="start at the login screen, with demo passwords for an administrator and two clients")
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

    keys = sub.add_parser("keys", help="the master key that encrypts stored secrets",
                          description="Manage the master key (a 0600 file in the config folder, or KSEF_TUI_MASTER_KEY).")
    keys_sub = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    rot = keys_sub.add_parser("rotate", help="re-encrypt every stored secret under a new master key")
    rot.add_argument("--out", metavar="FILE", help="where to write the new key (required when the key comes from KSEF_TUI_MASTER_KEY)")
    rot.set_defaults(handler=cmd_keys_rotate)

    users = sub.add_parser("users", help="users and their KSeF authorization",
                           description="Per-user KSeF authorization, as in Users → the user → KSeF.")
    users_sub = users.add_subparsers(dest="group", metavar="GROUP", required=True)
    uk = users_sub.add_parser("ksef", help="set or test a user's KSeF credential")
    uk_sub = uk.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, helptext in (("set", cmd_users_ksef_set, "save a KSeF token or certificate for LOGIN in company NIP"),
                                    ("test", cmd_users_ksef_test, "authorize in KSeF with the saved credential")):
        a = uk_sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ". "
                              "KSeF off for the company, or a user outside the company, is refused.")
        a.add_argument("login", metavar="LOGIN")
        a.add_argument("--nip", required=True, help="the company's NIP")
        a.add_argument("--env", required=True, help="TEST, DEMO or PRODUCTION")
        a.add_argument("--base-url", metavar="URL", help="point that environment at another server (e.g. the simulator); stored")
        if name == "set":
            g = a.add_mutually_exclusive_group(required=True)
            g.add_argument("--token-file", metavar="F", help="a file with the KSeF token")
            g.add_argument("--cert", metavar="F", help="certificate (PEM or DER); needs --key")
            g.add_argument("--pkcs12", metavar="F", help="PKCS#12 (.p12/.pfx) with certificate and key")
            a.add_argument("--key", metavar="F", help="private key (PEM or DER) for --cert")
            a.add_argument("--password-file", metavar="F", help="file whose first line is the key or PKCS#12 password")
        a.set_defaults(handler=handler)

    _register_optional(sub)
    return p


def _register_optional(sub) -> None:
    """Command groups owned by other modules (each registers itself cheaply)."""
    from ksef_tui.simulator.server import add_arguments as simulator_arguments

    sim = sub.add_parser(
        "simulator", help="run the local KSeF API 2.0 simulator on loopback",
        description="Serve a local KSeF API 2.0 simulator at http://HOST:PORT/v2; the base URL is the "
        "first line on stdout, printed when ready. Stops on Ctrl+C or SIGTERM.")
    simulator_arguments(sim)
    sim.set_defaults(handler=cmd_simulator)

    from ksef_tui.cli_ksef import register as add_ksef

    add_ksef(sub)

    from ksef_tui.cli_db import register as add_db

    add_db(sub)

    from ksef_tui.cli_accounts import register as add_accounts

    add_accounts(sub)


def cmd_simulator(args: argparse.Namespace) -> int:
    from ksef_tui.simulator.server import main as simulator_main

    return simulator_main(args)


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
