"""`ksef-tui ksef office ...`: the office's own KSeF identity (its NIP and name, and per environment the
credential of the person or seal who administers the office's context; sealed like users' credentials).

    ksef office show
    ksef office set --nip NIP --name NAME
    ksef office credential --env ENV (--token-file F | --cert F --key F | --pkcs12 F) [--password-file F]
    ksef office test --env ENV [--base-url URL]
    ksef office remove --env ENV

Exit codes: 0 ok, 1 KSeF refused or failed, 2 bad input. A token or key is never printed.
Wired into the ``ksef`` command group by :func:`ksef_tui.cli.ksef.register`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx, parse_environment, password_from_file, read_file
from ksef_tui.cli.errors import EXIT_FAIL, EXIT_OK, CliError, quiet
from ksef_tui.cli.output import say


def add_office(ksef_subparsers: Any) -> argparse.ArgumentParser:
    o = quiet(ksef_subparsers.add_parser(
        "office", help="the office's own KSeF identity (NIP, name, its credential per environment)",
        description="The office's own KSeF identity: with it the panel reads which clients granted the office "
        "what, and grants the office's employees indirect permissions."))
    os_ = o.add_subparsers(dest="office_command", metavar="ACTION", required=True)
    show = quiet(os_.add_parser("show", help="print the office's NIP, name and credentials"))
    show.set_defaults(handler=cmd_show)
    st = quiet(os_.add_parser("set", help="set the office's NIP and name"))
    st.add_argument("--nip", required=True)
    st.add_argument("--name", required=True, help="as KSeF should show it to clients (at most 90 characters)")
    st.set_defaults(handler=cmd_set)
    cr = quiet(os_.add_parser("credential", help="save the office's KSeF credential for an environment"))
    cr.add_argument("--env", required=True, metavar="ENV")
    g = cr.add_mutually_exclusive_group(required=True)
    g.add_argument("--token-file", metavar="F", help="a file holding the office's KSeF token")
    g.add_argument("--cert", metavar="F", help="certificate (PEM or DER); with --key")
    g.add_argument("--pkcs12", metavar="F", help="PKCS#12 file (.p12/.pfx)")
    cr.add_argument("--key", metavar="F", help="private key for --cert")
    cr.add_argument("--password-file", metavar="F", help="file with the key or PKCS#12 password")
    cr.set_defaults(handler=cmd_credential)
    te = quiet(os_.add_parser("test", help="authorize in the office's own context"))
    te.add_argument("--env", required=True, metavar="ENV")
    te.add_argument("--base-url", metavar="URL", help="this run only: another KSeF address")
    te.set_defaults(handler=cmd_test)
    rm = quiet(os_.add_parser("remove", help="remove the office's credential for an environment"))
    rm.add_argument("--env", required=True, metavar="ENV")
    rm.set_defaults(handler=cmd_remove)
    return o


def cmd_show(args: argparse.Namespace) -> int:
    ctx = open_ctx(args)
    view = ctx.office.get(ctx.actor)
    say(f"office: {view.name or '-'} (NIP {view.nip or '-'})")
    for c in view.credentials:
        if not c.configured:
            say(f"  {c.environment.value:<10} not configured")
            continue
        what = f"token {c.token_masked}" if c.method == "token" else f"certificate {c.cert_identifier or c.cert_serial}"
        last = "never tested" if c.last_auth_ok is None else ("authorized" if c.last_auth_ok else "failed")
        say(f"  {c.environment.value:<10} {what}, {last}")
    return EXIT_OK


def cmd_set(args: argparse.Namespace) -> int:
    ctx = open_ctx(args)
    view = ctx.office.set_identity(ctx.actor, args.nip, args.name)
    say(f"The office is {view.name} (NIP {view.nip}).")
    return EXIT_OK


def cmd_credential(args: argparse.Namespace) -> int:
    from ksef_tui.services.ksef.views import CertificateFiles

    env = parse_environment(args.env)
    if args.cert and not args.key:
        raise CliError("--cert needs --key")
    ctx = open_ctx(args)
    if args.token_file:
        token = read_file(args.token_file, "token", 10_000).decode("utf-8-sig", "replace")
        view = ctx.office.save_token(ctx.actor, env, token)
        say(f"Saved the office's KSeF token {view.token_masked} for {env.value}.")
        return EXIT_OK
    password = password_from_file(args.password_file) if args.password_file else None
    files = (CertificateFiles(pkcs12_data=read_file(args.pkcs12, "PKCS#12"), password=password) if args.pkcs12
             else CertificateFiles(cert_data=read_file(args.cert, "certificate"), key_data=read_file(args.key, "key"),
                                   password=password))
    view = ctx.office.save_certificate(ctx.actor, env, files)
    say(f"Saved the office's certificate {view.cert_identifier or view.cert_serial} for {env.value}.")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    import asyncio

    env = parse_environment(args.env)
    ctx = open_ctx(args)
    outcome = asyncio.run(ctx.office.test(ctx.actor, env, base_url=args.base_url))
    say(outcome.message + (f" {outcome.hint}" if outcome.hint else ""))
    return EXIT_OK if outcome.ok else EXIT_FAIL


def cmd_remove(args: argparse.Namespace) -> int:
    env = parse_environment(args.env)
    ctx = open_ctx(args)
    ctx.office.remove(ctx.actor, env)
    say(f"Removed the office's KSeF credential for {env.value}.")
    return EXIT_OK
