"""`ksef-tui admin create`, `ksef-tui admin self-service`, `ksef-tui users password|code`.

Cheap to import (argparse only); services load inside the handlers. The person at the
shell acts as the local administrator, as in every other subcommand (they hold the
database and its master key anyway).
Exit codes: 0 ok, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from ksef_tui.cli.common import open_ctx
from ksef_tui.cli.errors import EXIT_OK, CliError
from ksef_tui.cli.output import say
from ksef_tui.cli.users import users_subparsers


def register(sub) -> None:
    a = sub.add_parser("admin", help="administrators and global settings",
                       description="Create administrators; set the global default of KSeF self-service.")
    a_sub = a.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = a_sub.add_parser("create", help="create an administrator with a password (the first one, too)",
                         description="Create an administrator who logs in with a password. Once any user "
                         "has a password, `ksef-tui` asks who is logging in.")
    c.add_argument("login", metavar="LOGIN")
    c.add_argument("--full-name", required=True, help="the administrator's full name")
    c.add_argument("--email", help="shown to clients as whom to ask")
    c.add_argument("--password-file", metavar="F", help="file whose first line is the password (else asked twice)")
    c.set_defaults(handler=cmd_admin_create)
    ss = a_sub.add_parser("self-service", help="the default for NEW users: may clients configure KSeF themselves",
                          description="Set the global default of 'may configure KSeF themselves' given to users "
                          "created from now on. Existing users keep their own switch (change it in Users).")
    ss.add_argument("state", choices=["allow", "block", "show"])
    ss.set_defaults(handler=cmd_admin_self_service)

    users = users_subparsers(sub)
    p = users.add_parser("password", help="set a user's password",
                         description="Set LOGIN's password (at least 8 characters); unlocks the account.")
    p.add_argument("login", metavar="LOGIN")
    p.add_argument("--password-file", metavar="F", help="file whose first line is the password (else asked twice)")
    p.set_defaults(handler=cmd_users_password)
    k = users.add_parser("code", help="print a one-time code with which LOGIN sets their password",
                         description="Print a one-time code (valid --hours, default 24). On first login the user "
                         "gives it with a new password. A new code replaces the previous one.")
    k.add_argument("login", metavar="LOGIN")
    k.add_argument("--hours", type=int, default=24, help="how long the code is valid (default 24)")
    k.set_defaults(handler=cmd_users_code)


def _password(args: argparse.Namespace):
    from ksef_tui.domain.secret import Secret

    if args.password_file:
        from ksef_tui.cli.common import password_from_file

        return password_from_file(args.password_file)
    if not sys.stdin.isatty():
        raise CliError("give --password-file F (no terminal to ask for the password)")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CliError("the two passwords differ; nothing was changed")
    return Secret(first)


def _user(ctx, login: str):
    user = ctx.users.find_by_login(ctx.actor, login)
    if user is None:
        raise CliError(f"no user with login {login}")
    return user


def _validation(exc: Exception) -> CliError:
    return CliError("; ".join(getattr(exc, "errors", {}).values()) or str(exc))


def cmd_admin_create(args: argparse.Namespace) -> int:
    from ksef_tui.errors import ValidationFailed
    from ksef_tui.services.accounts import AccountService, check_password_rules
    from ksef_tui.services.users import UserInput

    password = _password(args)
    try:
        check_password_rules(password)
    except ValidationFailed as exc:
        raise _validation(exc) from None
    ctx = open_ctx(args, check_vault=False)
    try:
        try:
            user = ctx.users.create(ctx.actor, UserInput(login=args.login, full_name=args.full_name,
                                                         email=args.email, role="admin", may_configure_ksef=False))
            AccountService(ctx.db).set_password(ctx.actor, user.id, password)
        except ValidationFailed as exc:
            raise _validation(exc) from None
        say(f"Created the administrator {user.login} ({user.full_name}); `ksef-tui` now asks who is logging in.")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_admin_self_service(args: argparse.Namespace) -> int:
    from ksef_tui.services.accounts import AccountService

    ctx = open_ctx(args, check_vault=False)
    try:
        accounts = AccountService(ctx.db)
        if args.state != "show":
            accounts.set_clients_may_configure_default(ctx.actor, args.state == "allow")
        state = "allowed" if accounts.clients_may_configure_default() else "blocked"
        say(f"KSeF self-service for new users: {state} (existing users keep their own switch).")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_users_password(args: argparse.Namespace) -> int:
    from ksef_tui.errors import ValidationFailed
    from ksef_tui.services.accounts import AccountService

    password = _password(args)
    ctx = open_ctx(args, check_vault=False)
    try:
        user = _user(ctx, args.login)
        try:
            AccountService(ctx.db).set_password(ctx.actor, user.id, password)
        except ValidationFailed as exc:
            raise _validation(exc) from None
        say(f"Set the password of {user.login}.")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_users_code(args: argparse.Namespace) -> int:
    import datetime as dt

    from ksef_tui.services.accounts import AccountService

    if not 1 <= args.hours <= 24 * 14:
        raise CliError("--hours must be 1 to 336")
    ctx = open_ctx(args, check_vault=False)
    try:
        user = _user(ctx, args.login)
        code = AccountService(ctx.db).issue_code(ctx.actor, user.id, dt.timedelta(hours=args.hours))
        say(f"One-time code for {user.login} (valid {args.hours} h; they set their password with it at login):")
        say(code.reveal())
        return EXIT_OK
    finally:
        ctx.db.dispose()
