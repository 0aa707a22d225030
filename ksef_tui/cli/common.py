"""What several commands share: the context on the chosen database, small files read safely, and the
(user, company, environment) a per-user KSeF command names."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ksef_tui.cli.errors import CliError

if TYPE_CHECKING:
    from ksef_tui.domain.environments import Environment
    from ksef_tui.domain.secret import Secret
    from ksef_tui.services.context import AppContext

SMALL_FILE_BYTES = 2_000_000


def open_ctx(args: argparse.Namespace, *, check_vault: bool = True, create: bool = True) -> AppContext:
    """The context on the chosen database; ``create=False`` for commands that only read (never create it)."""
    from ksef_tui.services.context import open_context

    return open_context(getattr(args, "database", None), check_vault=check_vault, create=create)


def read_file(path: str, what: str, limit: int = SMALL_FILE_BYTES) -> bytes:
    """A regular file of at most ``limit`` bytes, whole; a FIFO, a device or a bigger file is refused at once."""
    from ksef_tui.files import FileRefused, read_limited

    try:
        return read_limited(path, limit=limit, what=what)
    except FileRefused as exc:
        raise CliError(str(exc)) from None


def password_from_file(path: str) -> Secret[str]:
    """The first line of ``path`` (a BOM and the line break removed)."""
    from ksef_tui.domain.secret import Secret
    from ksef_tui.i18n import _

    lines = read_file(path, _("password file"), 10_000).decode("utf-8-sig", "replace").splitlines()
    return Secret(lines[0] if lines else "")


def parse_environment(value: str) -> Environment:
    from ksef_tui.domain.environments import Environment

    try:
        return Environment.parse(value)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def parse_nip(value: str) -> str:
    from ksef_tui.domain.nip import InvalidNip, normalize_nip
    from ksef_tui.services.companies import nip_message

    try:
        return normalize_nip(value)
    except InvalidNip as exc:
        raise CliError(nip_message(exc)) from None


def user_and_company(ctx: AppContext, login: str, nip: str) -> tuple[Any, Any]:
    """The user with ``login`` and the company with ``nip`` (already normalized); bad input otherwise."""
    user = ctx.users.find_by_login(ctx.actor, login)
    if user is None:
        raise CliError(f"no user with login {login}")
    company = ctx.companies.find_by_nip(ctx.actor, nip)
    if company is None:
        raise CliError(f"no company with NIP {nip}")
    return user, company


def user_company_env(ctx: AppContext, args: argparse.Namespace) -> tuple[Any, Any, Environment]:
    env = parse_environment(args.env)
    nip = parse_nip(args.nip)
    user, company = user_and_company(ctx, args.login, nip)
    if args.base_url:
        ctx.credentials.connections.set_endpoint(ctx.actor, env, args.base_url)
    return user, company, env
