"""`ksef-tui ksef diagnose LOGIN --nip NIP --env ENV [--base-url URL] [--json]`: why can't this user log
in to KSeF for this company (PROTOCOL.md §17)?

Runs the ordered checklist with the user's saved credential (and the office's, for the chain) and
prints each step with its evidence, the cause and the fix. ``--json`` prints one object with a stable
``cause`` (``ok``, ``no-permission``, ``chain-broken``, ...), the ``steps`` and a ``hint``. Exit codes:
0 the cause is ``ok``, 1 any other cause, 2 bad input. ``--base-url`` points this run at another server
(e.g. the simulator) without changing the saved address. No secret is ever printed.

Wired into the ``ksef`` command group by :func:`ksef_tui.cli.ksef.register`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ksef_tui.cli.common import open_ctx, parse_environment, parse_nip, user_and_company
from ksef_tui.cli.errors import EXIT_FAIL, EXIT_OK, quiet
from ksef_tui.cli.output import say

_MARK = {"ok": "ok  ", "fail": "FAIL", "unknown": "?   ", "skipped": "-   "}


def add_diagnose(ksef_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``diagnose`` to the ``ksef`` command group."""
    d = quiet(ksef_subparsers.add_parser(
        "diagnose", help="why can't a user log in to KSeF for a company: the checklist, the cause, the fix",
        description="Check, in order: KSeF on for the company, a credential, the environment, the credential "
        "itself, a blocked login, a permission in the company, the chain client → office → employee, the "
        "identity type, KSeF available, the login in time. Exit codes: 0 the cause is ok, 1 any other "
        "cause, 2 bad input."))
    d.add_argument("login", metavar="LOGIN", help="the user's login in the panel")
    d.add_argument("--nip", required=True, help="the company's NIP")
    d.add_argument("--env", required=True, metavar="ENV", help="TEST, DEMO or PRODUCTION")
    d.add_argument("--base-url", metavar="URL", help="this run only: another KSeF address (https, or http on loopback)")
    d.add_argument("--json", action="store_true", help="print one JSON object (cause, steps, hint)")
    d.set_defaults(handler=cmd_diagnose)
    return d


def cmd_diagnose(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from ksef_tui.services.ksef.diagnosis_texts import cause_text

    env = parse_environment(args.env)
    nip = parse_nip(args.nip)
    ctx = open_ctx(args)
    user, company = user_and_company(ctx, args.login, nip)
    diag = asyncio.run(ctx.diagnosis.diagnose(ctx.actor, user.id, company.id, env, base_url=args.base_url))
    if args.json:
        json.dump(diag.as_json(), sys.stdout, ensure_ascii=True, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK if diag.ok else EXIT_FAIL
    lines = [f"{diag.login} · {diag.company_name} (NIP {diag.nip}) · {diag.environment.value}"]
    for step in diag.steps:
        lines.append(f"  {_MARK.get(step.status, step.status)} {step.title}"
                     + (f": {step.evidence}" if step.evidence else ""))
    lines.append(f"cause: {diag.cause} ({cause_text(diag.cause)})")
    lines.append(f"fix: {diag.hint}")
    for action in diag.actions:
        lines.append(f"the office can do it: {action.label}")
    if diag.request:
        lines.append("to send the client:")
        lines += ["  " + line for line in diag.request.splitlines()]
    if not diag.final:
        lines.append("KSeF gave no final answer: nothing was recorded.")
    say("\n".join(lines))
    return EXIT_OK if diag.ok else EXIT_FAIL
