"""Command line: `ksef-tui` opens the panel; subcommands serve scripts and tests.

One module per command group, each with ``register(subparsers)`` and its handlers; they call
services only. Kept cheap to import: heavy modules (Textual, SQLModel, KSeF code) load only in the
handler that needs them, so `ksef-tui --help` answers at once. Every failure goes through
:func:`ksef_tui.cli.errors.report`: one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ksef_tui.cli import accounts, companies, data, database, keys, ksef, panel, serve, simulator, users
from ksef_tui.cli.errors import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CliError, report

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CliError", "build_parser", "main"]

#: the command groups, in the order `--help` lists them
GROUPS = (panel, data, companies, keys, users, simulator, ksef, database, accounts, serve)


def build_parser() -> argparse.ArgumentParser:
    from ksef_tui import __version__

    p = argparse.ArgumentParser(
        prog="ksef-tui",
        description="Switch KSeF on for client companies and authorize their users in KSeF API 2.0. "
        "Without a command, opens the panel.",
    )
    p.add_argument("--database", metavar="URL", help="database URL (default: SQLite in the user data folder; "
                   "env KSEF_TUI_DATABASE_URL); e.g. postgresql+psycopg://user@host/ksef")
    p.add_argument("--lang", choices=["en", "pl"], help="UI language (default: from LANG)")
    p.add_argument("--version", action="version", version=f"ksef-tui {__version__}")
    p.set_defaults(handler=panel.cmd_panel)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ksef_tui import i18n

    try:
        i18n.set_language(i18n.detect_language(args.lang or _settings_language()))
    except ValueError as exc:
        parser.error(str(exc))
    from ksef_tui.files import start_log

    start_log()  # what fails unexpectedly goes to the private log (0600), never as a traceback
    try:
        return int(args.handler(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:  # one clear line, never a traceback
        return report(exc)


def _settings_language() -> str | None:
    """The language the settings name (KSEF_TUI_LANG or the settings file), if they can be read;
    a broken settings file is reported by the command that needs the settings."""
    from ksef_tui.settings import SettingsError, get_settings

    try:
        return get_settings().language
    except SettingsError:
        return None


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
