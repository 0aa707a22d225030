"""`ksef-tui ksef check [--env ENV] [--within-days N] [--json]`: for cron and monitoring.

Authorizes every configured credential (of companies with KSeF on) under the same client-side
limits as the panel's bulk checks, as the bulk permission check does (the login in the company's
context, the permissions it holds there, the office's view once per environment), and exits 1 when
any authorization fails or any credential stops working within N days (a certificate's validTo; a
KSeF token's 31 Dec 2026). Exit 0: all fine. The JSON lists every row with its diagnosis ``cause``
(as ``ksef diagnose``), its ``permission_state`` (Active, Inactive: the chain client → office →
employee is broken, missing; null when the login did not get that far) and ``permissions``; it
never holds a token, key or access token.

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
                   help="fail when a certificate or token stops working within N days (default 30)")
    c.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    c.add_argument("--concurrency", type=int, default=None, help=argparse.SUPPRESS)
    c.set_defaults(handler=cmd_check)
    return c


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio
    import datetime as dt

    from ksef_tui.services.ksef.bulk import DEFAULT_CONCURRENCY, configured_targets
    from ksef_tui.services.ksef.permission_check import check_rows_with_permissions

    if args.within_days < 0:
        raise CliError("--within-days must be 0 or more")
    env = parse_environment(args.env) if args.env else None
    ctx = open_ctx(args)
    targets = configured_targets(ctx.credentials, ctx.actor, env)
    now = dt.datetime.now(dt.UTC)
    rows = asyncio.run(check_rows_with_permissions(ctx.permissions, ctx.actor, targets, within_days=args.within_days,
                                                   now=now, concurrency=args.concurrency or DEFAULT_CONCURRENCY))
    bad = [r for r in rows if not r["ok"] or r["expiring"]]
    if args.json:
        say_json({"checked_at": now.isoformat(), "within_days": args.within_days, "environment": env.value if env else None,
                  "total": len(rows), "problems": len(bad), "rows": rows})
    else:
        for r in rows:
            mark = "OK  " if r["ok"] and not r["expiring"] else "FAIL"
            extra = f" (stops working in {r['days_left']} days)" if r["expiring"] else ""
            say(f"{mark} {r['environment']:<10} {r['login']:<20} {r['nip']} {r['method']:<11} "
                f"{r['cause'] or '-':<20} {r['message']}{extra}")
        say(f"{len(rows)} checked, {len(bad)} with problems.")
    return EXIT_FAIL if bad else EXIT_OK
