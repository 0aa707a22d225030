"""`ksef-tui backup FILE`, `ksef-tui restore FILE`, `ksef-tui db version|downgrade REV`.

Cheap to import (argparse only); the services load inside the handlers.
Exit codes: 0 ok, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import argparse

from ksef_tui.cli.common import open_ctx
from ksef_tui.cli.errors import EXIT_OK
from ksef_tui.cli.output import say


def register(sub) -> None:
    b = sub.add_parser(
        "backup", help="copy the whole database to FILE (safe while the panel is in use)",
        description="Copy the whole database to FILE in one consistent snapshot: SQLite's online backup "
        "for SQLite (FILE is itself a database), a portable compressed file for PostgreSQL (or with "
        "--portable). A backup without its master key cannot be read: keep the key file safely, apart.")
    b.add_argument("file", metavar="FILE")
    b.add_argument("--portable", action="store_true",
                   help="write the portable format (restores into SQLite or PostgreSQL alike)")
    b.set_defaults(handler=cmd_backup)

    r = sub.add_parser(
        "restore", help="replace the database's contents with a backup FILE",
        description="Replace everything in the database with the backup FILE, in one transaction. Refuses "
        "a database that holds any rows unless --force, and a backup made by a newer ksef-tui; an older "
        "backup is upgraded on the way. Works across engines (a SQLite backup into PostgreSQL and back).")
    r.add_argument("file", metavar="FILE")
    r.add_argument("--force", action="store_true", help="replace a database that is not empty")
    r.set_defaults(handler=cmd_restore)

    d = sub.add_parser("db", help="database schema maintenance",
                       description="Database schema maintenance (upgrades happen on every start).")
    d_sub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    down = d_sub.add_parser(
        "downgrade", help="take the schema back to revision REV (refused if data would be lost)",
        description="Take the schema back to revision REV, e.g. to run an older ksef-tui. A step that "
        "would delete data is refused and nothing changes.")
    down.add_argument("revision", metavar="REV")
    down.set_defaults(handler=cmd_db_downgrade)
    ver = d_sub.add_parser("version", help="print the schema revision of the database and the newest known")
    ver.set_defaults(handler=cmd_db_version)


def cmd_backup(args: argparse.Namespace) -> int:
    from ksef_tui.services.backup import backup, key_warning

    ctx = open_ctx(args, check_vault=False, create=False)
    try:
        result = backup(ctx.db, ctx.actor, args.file, portable=True if args.portable else None)
    finally:
        ctx.db.dispose()
    say(result.summary("Backed up to"))
    say(key_warning(result.key_id), err=True)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from ksef_tui.services.backup import key_warning, restore

    ctx = open_ctx(args, check_vault=False)
    try:
        result = restore(ctx.db, ctx.actor, args.file, force=args.force)
    finally:
        ctx.db.dispose()
    say(result.summary("Restored from"))
    if result.replaced:
        say(f"Replaced {sum(result.replaced.values())} rows that were in the database.")
    say(key_warning(result.key_id), err=True)
    if result.key_matches is False:
        say(f"The current master key is not key {result.key_id}: put that key back before opening the panel, "
              "or the stored KSeF secrets cannot be read.", err=True)
    return EXIT_OK


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.schema import downgrade_schema

    now = downgrade_schema(Actor.local_admin(), getattr(args, "database", None), args.revision)
    say(f"The database schema is at {now or 'base'}.")
    return EXIT_OK


def cmd_db_version(args: argparse.Namespace) -> int:
    from ksef_tui.services.schema import schema_version

    current, newest = schema_version(getattr(args, "database", None))
    say(f"database: {current or 'none'}; newest: {newest}")
    return EXIT_OK
