"""The user's own keys: ``keymap.toml`` in the config folder maps binding ids to keys, as posting's
keymap does (every binding of the panel has an id; Textual's ``App.set_keymap`` applies them)::

    # ~/.config/ksef-tui/keymap.toml
    "list.select_all" = "ctrl+a"      # a (select all) becomes ctrl+a
    "app.audit_log" = "f8,ctrl+l"     # several keys: separated by commas

The ids are in the code beside each key (``Binding(..., id="list.select_all")``); the Help (``?``)
shows the keys in force. A missing file means no changes; a file that cannot be read, or a value
that is not text, is reported in the panel and left out, never a crash.
"""

from __future__ import annotations

from pathlib import Path

from ksef_tui.i18n import _

#: the file's name in the config folder; ``KSEF_TUI_KEYMAP`` names another file
FILE_NAME = "keymap.toml"
KEYMAP_ENV = "KSEF_TUI_KEYMAP"


def keymap_path() -> Path:
    """Where the keymap is read from: the settings' ``keymap_file`` (``KSEF_TUI_KEYMAP``, the settings
    file's ``keymap_file``, else ``keymap.toml`` in the config folder)."""
    from ksef_tui.settings import get_settings

    return get_settings().keymap_file


def load_keymap(path: Path) -> tuple[dict[str, str], list[str]]:
    """(binding id → keys, problems in the user's words) from ``path``; a missing file: ({}, [])."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [_("The keymap {path} cannot be read ({reason}); the usual keys are in force.").format(
            path=path, reason=exc)]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in data.items():
        if isinstance(keys, str) and keys.strip():
            keymap[binding_id] = keys.strip()
        else:
            problems.append(_("The keymap {path}: {id} must be keys in quotes, e.g. \"ctrl+a\"; left out.").format(
                path=path, id=binding_id))
    return keymap, problems
