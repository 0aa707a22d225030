"""`ksef-tui ksef check [--env ENV] [--within-days N] [--json]`: for cron and monitoring.

Authorizes every configured credential (of companies with KSeF on) under the same client-side
limits as the panel's bulk permission check (the login in the company's context, the permissions it
holds there, the office's view once per environment), and exits 1 when any authorization fails or any
credential stops working within N days (a certificate's validTo; a KSeF token's own validTo, else the
office's token policy: see :mod:`ksef_tui.services.ksef.check`). Exit 0: all fine. The JSON has the
policy at the top (``token_policy``) and every row with its ``valid_to``, its diagnosis ``cause`` (as
``ksef diagnose``), its ``permission_state`` (Active, Inactive: the chain client → office → employee is
broken, missing; null when the login did not get that far) and ``permissions``; it never holds a token,
key or access token.

Wired into the ``ksef`` group by :func:`ksef_tui.cli.ksef.register`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx, parse_environment
from ksef_tui.cli.errors import EXIT_FAIL, EXIT_OK, CliError
from ksef_tui.cli.output import say, say_json


def add_check(ksef_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``check`` to the ``ksef`` command group."""
    c = ksef_subparsers.add_parser(
        "check", help="authorize every configured credential; exit 1 if any fails or expires soon",
        description="Authorize every configured KSeF credential (respecting KSeF's request limits) and "
        "report each, with its permission state and diagnosis cause. Exit codes: 0 all authorized and none expires within N days, 1 otherwise, 2 bad input.")
    c.add_argument("--env", metavar="ENV", help="only TEST, DEMO or PRODUCTION (default: all)")
    c.add_argument("--within-days", type=int, default=30, metavar="N",
                   help="fail when a certificate or token stops working within N days (default 30); a token's end is "
                   "its validTo from KSeF, else the token policy (settings, or KSEF_TUI_TOKEN_LAST_DAY=YYYY-MM-DD)")
    c.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    c.add_argument("--concurrency", type=int, default=None, help=argparse.SUPPRESS)
    c.set_defaults(handler=cmd_check)
    return c


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from ksef_tui.services.ksef.bulk import DEFAULT_CONCURRENCY, configured_targets
    from ksef_tui.services.ksef.check import run_check

    if args.within_days < 0:
        raise CliError("--within-days must be 0 or more")
    env = parse_environment(args.env) if args.env else None
    ctx = open_ctx(args)
    targets = configured_targets(ctx.credentials, ctx.actor, env)
    report = asyncio.run(run_check(ctx.permissions, ctx.actor, targets, within_days=args.within_days,
                                   policy=ctx.token_policy, now=ctx.clock(), environment=env,
                                   concurrency=args.concurrency or DEFAULT_CONCURRENCY))
    if args.json:
        say_json(report.as_json())
    else:
        for line in report.lines():
            say(line)
    return EXIT_FAIL if report.problems else EXIT_OK
