"""`ksef-tui companies enable-ksef|disable-ksef NIP... | --all`: the serial operation in one transaction."""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx, parse_nip
from ksef_tui.cli.errors import EXIT_OK, CliError
from ksef_tui.cli.output import say


def register(sub: Any) -> None:
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


def cmd_companies_ksef(args: argparse.Namespace) -> int:
    enable = args.action == "enable-ksef"
    if args.all and args.nips:
        raise CliError("give NIPs or --all, not both")
    if not args.all and not args.nips:
        raise CliError("give at least one NIP, or --all")
    nips = [parse_nip(raw) for raw in args.nips]
    ctx = open_ctx(args)
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
    say(f"KSeF {state} for {len(result.changed)} companies; {len(result.unchanged)} already {state}.")
    return EXIT_OK
