"""Choosing files for KSeF: a path input that completes from the filesystem, and a picker.

``PathInput`` suggests the rest of a file or folder name as you type (→ or End accepts it);
ctrl+o (or a "Browse…" button next to it) opens ``FilePickerScreen``, a ``DirectoryTree``
in a dialog. Paths are shown with ``~`` for the home folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from ksef_tui.i18n import _
from ksef_tui.ui.common.base import DialogScreen


def downloads_dir(options: Mapping[str, Any] | None = None) -> Path:
    """Where the panel saves files and the picker starts: the folder the context names
    (``options["downloads_dir"]``: the demo's own, a browser session's), else the user's Downloads
    folder (where gov.pl saves the signed file)."""
    folder = (options or {}).get("downloads_dir")
    if folder:
        return Path(folder)
    import platformdirs

    return Path(platformdirs.user_downloads_dir())


def app_downloads_dir(app: object) -> Path:
    """:func:`downloads_dir` for the app's context (any app: one without a context gets Downloads)."""
    ctx = getattr(app, "ctx", None)
    return downloads_dir(getattr(ctx, "options", None))


def display_path(path: Path | str) -> str:
    """``~/…`` for paths under the home folder."""
    text = str(path)
    home = str(Path.home())
    if home and home != os.sep and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


def expand(text: str) -> Path:
    return Path(text.strip()).expanduser()


class PathSuggester(Suggester):
    """Completes the last part of a path from the folder's entries (folders end with ``/``)."""

    def __init__(self, suffixes: Iterable[str] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = tuple(s.lower() for s in suffixes)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        head, _sep, prefix = value.rpartition("/")
        folder = expand(head + "/") if _sep else Path(".")
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        candidates = []
        for name in names:
            if not name.startswith(prefix) or name == prefix or (name.startswith(".") and not prefix.startswith(".")):
                continue
            is_dir = (folder / name).is_dir()
            if not is_dir and self.suffixes and not name.lower().endswith(self.suffixes):
                continue
            candidates.append((not is_dir, name + ("/" if is_dir else "")))
        if not candidates:
            return None
        # files with the wanted suffix first, then folders
        candidates.sort(key=lambda c: (not c[0], c[1]))
        return (head + _sep if _sep else "") + candidates[0][1]


class PathInput(Input):
    """An Input for a file path: filesystem completion, ctrl+o opens the file picker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "browse", _("Browse"), id="ksef.path.browse", tooltip=_("Choose the file in a list")),
    ]

    class BrowseRequested(Message):
        def __init__(self, path_input: PathInput) -> None:
            super().__init__()
            self.path_input = path_input

    def __init__(self, value: str = "", *, suffixes: Iterable[str] = (), placeholder: str = "",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(value, placeholder=placeholder, suggester=PathSuggester(suffixes),
                         compact=True, id=id, classes=classes)
        self.suffixes = tuple(suffixes)

    @property
    def path(self) -> Path | None:
        return expand(self.value) if self.value.strip() else None

    def action_browse(self) -> None:
        self.post_message(self.BrowseRequested(self))


class FilePickerScreen(DialogScreen["Path | None"]):
    """Pick a file (or, with ``folders=True``, a folder) starting at ``start``."""

    DEFAULT_CSS = """
    FilePickerScreen {
        #picker {
            width: 76; max-width: 100%; height: 90%;
            border: round $primary; border-title-style: bold; background: $surface; padding: 0 1;
        }
        #picker-path { height: 1; color: $text-muted; }
        #picker-tree { height: 1fr; }
        #picker-hint { height: auto; color: $text-muted; }
        #picker-buttons { height: auto; align: right middle; }
        #picker-buttons > Button { margin: 0 0 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="ksef.picker.cancel"),
        Binding("backspace", "up", _("Up a folder"), id="ksef.picker.up"),
    ]

    def __init__(self, start: Path | None = None, *, title: str | None = None, folders: bool = False) -> None:
        super().__init__()
        if start is None:
            try:
                start = app_downloads_dir(self.app)
            except RuntimeError:  # made outside a running app (NoActiveAppError)
                start = downloads_dir()
        while not start.is_dir() and start.parent != start:
            start = start.parent
        self.start = start
        self.title_text = title or (_("Choose a folder") if folders else _("Choose a file"))
        self.folders = folders

    def compose(self) -> ComposeResult:
        with Vertical(id="picker") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield Label(display_path(self.start), id="picker-path", markup=False)
            yield DirectoryTree(self.start, id="picker-tree")
            hint = _("Enter: open / choose · Backspace: up a folder · Esc: cancel")
            yield Static(hint, id="picker-hint", markup=False)
            if self.folders:
                with Horizontal(id="picker-buttons"):
                    yield Button(_("Use this folder"), id="picker-use", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if not self.folders:
            self.dismiss(Path(event.path))

    @on(DirectoryTree.DirectorySelected)
    def _folder(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one("#picker-path", Label).update(display_path(event.path))

    @on(Button.Pressed, "#picker-use")
    def _use(self, event: Button.Pressed) -> None:
        event.stop()
        tree = self.query_one(DirectoryTree)
        node = tree.cursor_node
        path = node.data.path if node is not None and node.data is not None else Path(tree.path)
        self.dismiss(path if path.is_dir() else path.parent)

    def action_up(self) -> None:
        tree = self.query_one(DirectoryTree)
        current = Path(tree.path)
        if current.parent != current:
            tree.path = current.parent
            self.query_one("#picker-path", Label).update(display_path(current.parent))

    def action_cancel(self) -> None:
        self.dismiss(None)


def browse_into(path_input: PathInput, *, title: str | None = None, folders: bool = False) -> None:
    """Open the picker for ``path_input`` and put the chosen path into it."""
    current = path_input.path
    start = current if current is not None and current.is_dir() else (current.parent if current else None)

    def chosen(path: Path | None) -> None:
        if path is not None:
            path_input.value = display_path(path) + ("/" if folders else "")
            path_input.cursor_position = len(path_input.value)
            path_input.focus()

    path_input.app.push_screen(FilePickerScreen(start, title=title, folders=folders), chosen)
