"""`ksef-tui admin create`, `ksef-tui admin self-service`, `ksef-tui users password|code`.

Cheap to import (argparse only); services load inside the handlers. The person at the
shell acts as the local administrator, as in every other subcommand (they hold the
database and its master key anyway).
Exit codes: 0 ok, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


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

    users = _users_subparsers(sub)
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


def _users_subparsers(sub):
    """The `users` group's sub-commands (the group may exist already: `users ksef`)."""
    parser = sub.choices.get("users") or sub.add_parser("users", help="users")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="group", metavar="GROUP", required=True)


def _fail(message: str, code: int = EXIT_USAGE):
    from ksef_tui.cli import CliError

    return CliError(message, code)


def _password(args: argparse.Namespace):
    from ksef_tui.domain.secret import Secret

    if args.password_file:
        try:
            with open(args.password_file, "rb") as f:
                lines = f.read(10_000).decode("utf-8-sig", "replace").splitlines()
        except OSError as exc:
            raise _fail(f"cannot read the password file {args.password_file}: {exc.strerror}") from None
        return Secret(lines[0] if lines else "")
    if not sys.stdin.isatty():
        raise _fail("give --password-file F (no terminal to ask for the password)")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise _fail("the two passwords differ; nothing was changed")
    return Secret(first)


def _ctx(args: argparse.Namespace):
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    return AppContext(open_database(getattr(args, "database", None)), Actor.local_admin())


def _user(ctx, login: str):
    user = ctx.users.find_by_login(ctx.actor, login)
    if user is None:
        raise _fail(f"no user with login {login}")
    return user


def _validation(exc) -> Exception:
    return _fail("; ".join(exc.errors.values()))


def cmd_admin_create(args: argparse.Namespace) -> int:
    from ksef_tui.services.accounts import AccountService, check_password_rules
    from ksef_tui.services.errors import ValidationFailed
    from ksef_tui.services.users import UserInput

    password = _password(args)
    try:
        check_password_rules(password)
    except ValidationFailed as exc:
        raise _validation(exc) from None
    ctx = _ctx(args)
    try:
        try:
            user = ctx.users.create(ctx.actor, UserInput(login=args.login, full_name=args.full_name,
                                                         email=args.email, role="admin", may_configure_ksef=False))
            AccountService(ctx.db).set_password(ctx.actor, user.id, password)
        except ValidationFailed as exc:
            raise _validation(exc) from None
        print(f"Created the administrator {user.login} ({user.full_name}); `ksef-tui` now asks who is logging in.")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_admin_self_service(args: argparse.Namespace) -> int:
    from ksef_tui.services.accounts import AccountService

    ctx = _ctx(args)
    try:
        accounts = AccountService(ctx.db)
        if args.state != "show":
            accounts.set_clients_may_configure_default(ctx.actor, args.state == "allow")
        state = "allowed" if accounts.clients_may_configure_default() else "blocked"
        print(f"KSeF self-service for new users: {state} (existing users keep their own switch).")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_users_password(args: argparse.Namespace) -> int:
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.errors import ValidationFailed

    password = _password(args)
    ctx = _ctx(args)
    try:
        user = _user(ctx, args.login)
        try:
            AccountService(ctx.db).set_password(ctx.actor, user.id, password)
        except ValidationFailed as exc:
            raise _validation(exc) from None
        print(f"Set the password of {user.login}.")
        return EXIT_OK
    finally:
        ctx.db.dispose()


def cmd_users_code(args: argparse.Namespace) -> int:
    import datetime as dt

    from ksef_tui.services.accounts import AccountService

    if not 1 <= args.hours <= 24 * 14:
        raise _fail("--hours must be 1 to 336")
    ctx = _ctx(args)
    try:
        user = _user(ctx, args.login)
        code = AccountService(ctx.db).issue_code(ctx.actor, user.id, dt.timedelta(hours=args.hours))
        print(f"One-time code for {user.login} (valid {args.hours} h; they set their password with it at login):")
        print(code.reveal())
        return EXIT_OK
    finally:
        ctx.db.dispose()
