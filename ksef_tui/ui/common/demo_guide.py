"""What a newcomer needs to know in ``ksef-tui demo``: its folder, where files go, whom to try.

The demo (``ksef_tui.demo.environment``) leaves its facts in the context's options (``demo``,
``demo_folder``, ``downloads_dir``, ``demo_ksef_users``, ``demo_logins``); the start-up line, the
login screen and Help all say them with these functions. Outside the demo they return nothing.
Plain text (no Textual here: the CLI prints it before the panel starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ksef_tui.i18n import _


def is_demo(options: Mapping[str, Any]) -> bool:
    return bool(options.get("demo"))


def folder_lines(options: Mapping[str, Any]) -> list[str]:
    """The demo's folder and what its Downloads holds."""
    if not is_demo(options) or not options.get("demo_folder"):
        return []
    return [
        _("Demo folder: {folder} (everything the demo writes; removed when you quit)").format(
            folder=options["demo_folder"]),
        _("Its Downloads: files to try KSeF with; Profil Zaufany files saved there are signed within a second."),
    ]


def user_lines(options: Mapping[str, Any]) -> list[str]:
    """The demo users with KSeF credentials ready to try (F3 Users, / filters by login)."""
    users = options.get("demo_ksef_users") or []
    if not is_demo(options) or not users:
        return []
    return [_("Demo users to try KSeF with (F3 Users, / then the login):")] + [
        f"{u.login} — {u.describe()}" for u in users]


def users_in_short(options: Mapping[str, Any]) -> str:
    """The demo users on one line: ``demo-token (token works) · …``."""
    users = options.get("demo_ksef_users") or []
    if not is_demo(options) or not users:
        return ""
    return _("Demo users with KSeF (F3 Users): {users}").format(
        users=" · ".join(f"{u.login} ({u.short()})" for u in users))


def login_lines(options: Mapping[str, Any]) -> list[str]:
    """Demo accounts with their published passwords (only ``ksef-tui demo --login`` sets them)."""
    logins = options.get("demo_logins") or []
    if not logins:
        return []
    return [_("Demo accounts (login / password):")] + [f"{d.login} / {d.password} — {d.describe()}" for d in logins]


def start_text(options: Mapping[str, Any]) -> str:
    """Printed by ``ksef-tui demo`` before the panel starts."""
    return "\n".join(folder_lines(options) + user_lines(options) + login_lines(options))
