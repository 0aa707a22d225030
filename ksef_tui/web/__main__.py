"""``python -m ksef_tui.web``: the same as ``ksef-tui serve`` (for running the portal's module alone)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from ksef_tui import i18n
    from ksef_tui.web.cli import add_arguments, serve

    p = argparse.ArgumentParser(prog="python -m ksef_tui.web", description="Serve the client portal to browsers.")
    p.add_argument("--database", metavar="URL", help="database URL (default: as ksef-tui)")
    p.add_argument("--lang", choices=["en", "pl"])
    add_arguments(p)
    args = p.parse_args(argv)
    i18n.set_language(i18n.detect_language(args.lang))
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
