"""`ksef-tui import companies|users FILE.csv` and `ksef-tui export companies|users [--out FILE]`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ksef_tui.cli.common import open_ctx
from ksef_tui.cli.errors import EXIT_OK, EXIT_USAGE
from ksef_tui.cli.output import say

#: the largest CSV file an import reads (1,000,000 companies with addresses and notes fit well)
IMPORT_FILE_BYTES = 1024 * 1024 * 1024


def register(sub: Any) -> None:
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


def cmd_import(args: argparse.Namespace) -> int:
    from ksef_tui.errors import ImportFailed
    from ksef_tui.files import open_regular
    from ksef_tui.i18n import _, ngettext

    # read as a stream (1,000,000 rows in bounded memory); a FIFO, a device or a huge file is refused at once
    source = sys.stdin.buffer if args.file == "-" else open_regular(args.file, limit=IMPORT_FILE_BYTES,
                                                                     what=_("CSV file"))
    ctx = open_ctx(args)
    try:
        if args.what == "companies":
            result = ctx.csv.import_companies(ctx.actor, source)
        else:
            result = ctx.csv.import_users(ctx.actor, source)
    except ImportFailed as exc:
        for p in exc.problems:
            say(f"ksef-tui: {args.file}: {p}", err=True)
        n = len(exc.problems)
        say("ksef-tui: " + ngettext("{n} problem; nothing was imported", "{n} problems; nothing was imported", n).format(n=n),
            err=True)
        return EXIT_USAGE
    say(f"Imported {result.created} {args.what}.")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    import contextlib

    from ksef_tui.files import atomic_open

    ctx = open_ctx(args, create=False)
    with contextlib.ExitStack() as stack:
        # a file appears whole (0600) or not at all: a full disk leaves no truncated CSV
        out = sys.stdout if args.out in (None, "-") else stack.enter_context(atomic_open(args.out, "w", newline=""))
        if args.what == "companies":
            ctx.csv.export_companies(ctx.actor, out)
        else:
            ctx.csv.export_users(ctx.actor, out)
    return EXIT_OK
