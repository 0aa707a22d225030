"""`ksef-tui users ksef set|test LOGIN --nip NIP --env ENV`: a user's KSeF credential, as in
Users → the user → KSeF."""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx, password_from_file, read_file, user_company_env
from ksef_tui.cli.errors import EXIT_FAIL, EXIT_OK, CliError
from ksef_tui.cli.output import say


def users_subparsers(sub: Any) -> Any:
    """The `users` group's sub-commands (created once, shared with the accounts commands)."""
    parser = sub.choices.get("users")
    if parser is None:
        parser = sub.add_parser("users", help="users: KSeF authorization, passwords",
                                description="Per-user KSeF authorization, as in Users → the user → KSeF; passwords.")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="group", metavar="GROUP", required=True)


def register(sub: Any) -> None:
    users_sub = users_subparsers(sub)
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
            a.add_argument("--force", action="store_true",
                           help="save even when KSeF refuses the new credential and the saved one works "
                                "(without it, a credential that last authorized successfully is replaced "
                                "only by one KSeF accepts)")
        a.set_defaults(handler=handler)


def cmd_users_ksef_set(args: argparse.Namespace) -> int:
    import asyncio

    from ksef_tui.errors import ServiceError, ValidationFailed
    from ksef_tui.services.ksef.views import CertificateFiles

    if args.cert and not args.key:
        raise CliError("--cert needs --key (or use --pkcs12)")
    ctx = open_ctx(args)
    user, company, env = user_company_env(ctx, args)
    password = password_from_file(args.password_file) if args.password_file else None
    try:
        kept = ("The saved KSeF setting, which last authorized successfully, was kept; --force saves the "
                "new one anyway.")
        if args.token_file:
            token = read_file(args.token_file, "token").decode("utf-8", "replace")
            if args.force:
                view = ctx.credentials.save_token(ctx.actor, user.id, company.id, env, token)
            else:
                done = asyncio.run(ctx.credentials.replace_token(ctx.actor, user.id, company.id, env, token))
                if done.saved is None:
                    assert done.trial is not None
                    raise CliError(f"KSeF refused the new token: {done.trial.message} {kept}", code=EXIT_FAIL)
                view = done.saved
            say(f"Saved the KSeF token {view.token_masked} for {user.login} in {company.nip} ({env.value}); "
                  "login method: token.")
        else:
            if args.pkcs12:
                cred = CertificateFiles(pkcs12_data=read_file(args.pkcs12, "PKCS#12"), password=password)
            else:
                cred = CertificateFiles(cert_data=read_file(args.cert, "certificate"),
                                        key_data=read_file(args.key, "key"), password=password)
            if not args.force and ctx.credentials.working_credential(ctx.actor, user.id, company.id, env):
                try:  # authorized first, saved only when KSeF accepts it
                    view = asyncio.run(ctx.credentials.authorize_certificate(ctx.actor, user.id, company.id, env, cred))
                except ValidationFailed:
                    raise
                except ServiceError as exc:
                    raise CliError(f"KSeF refused the new certificate: {exc} {kept}", code=EXIT_FAIL) from None
            else:
                view = ctx.credentials.save_certificate(ctx.actor, user.id, company.id, env, cred)
            say(f"Saved the certificate {view.cert_subject} (valid to {view.cert_valid_to:%Y-%m-%d}) for "
                  f"{user.login} in {company.nip} ({env.value}); login method: certificate.")
    except ValidationFailed as exc:
        raise CliError("; ".join(exc.errors.values())) from None
    return EXIT_OK


def cmd_users_ksef_test(args: argparse.Namespace) -> int:
    import asyncio

    ctx = open_ctx(args)
    user, company, env = user_company_env(ctx, args)
    outcome = asyncio.run(ctx.credentials.test_authorization(ctx.actor, user.id, company.id, env))
    if outcome.ok:
        until = f" until {outcome.valid_until:%Y-%m-%d %H:%M} UTC" if outcome.valid_until else ""
        say(f"OK: {user.login} authorized in KSeF {env.value} for {company.nip} by {outcome.method}{until} "
              f"(reference {outcome.reference_number}).")
        return EXIT_OK
    raise CliError(f"{outcome.message} {outcome.hint}".strip(), code=EXIT_FAIL)
