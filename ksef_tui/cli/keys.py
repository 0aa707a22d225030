"""`ksef-tui keys rotate`: every stored secret re-encrypted under a new master key."""

from __future__ import annotations

import argparse
from typing import Any

from ksef_tui.cli.common import open_ctx
from ksef_tui.cli.errors import EXIT_OK
from ksef_tui.cli.output import say


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="the master key that encrypts stored secrets",
                          description="Manage the master key (a 0600 file in the config folder, or KSEF_TUI_MASTER_KEY).")
    keys_sub = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    rot = keys_sub.add_parser("rotate", help="re-encrypt every stored secret under a new master key")
    rot.add_argument("--out", metavar="FILE", help="where to write the new key (required when the key comes from KSEF_TUI_MASTER_KEY)")
    rot.set_defaults(handler=cmd_keys_rotate)


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ksef_tui.services.key_rotation import rotate_master_key

    ctx = open_ctx(args)
    result = rotate_master_key(ctx.db, ctx.actor, out=Path(args.out) if args.out else None)
    say(f"Re-encrypted {result.secrets} secret(s) under the new master key {result.new_key_id} "
          f"(was {result.old_key_id}); key file: {result.key_written_to}.")
    if args.out:
        say("Set KSEF_TUI_MASTER_KEY to the content of that file; the old key no longer opens anything.")
    return EXIT_OK
