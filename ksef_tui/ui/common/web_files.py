"""Files in a browser session (``ksef-tui serve``): nothing names a path on the server.

A file comes to the panel by upload (a one-time link, bound to this browser session, opened in
a new tab: :mod:`ksef_tui.services.web_inbox`) or by pasting its text (a PEM certificate or key, the
signed XML) into a dialog. A file goes to the user by Textual's file delivery (a download in
the browser): :func:`deliver`. In the terminal none of this is used: the forms keep their paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Label, Static, TextArea

from ksef_tui.i18n import _
from ksef_tui.ui.common.base import DialogScreen

MAX_PASTE_CHARS = 1024 * 1024


def web_session(app) -> object | None:
    """The browser session the app runs in (``ctx.options["web"]``), or None in a terminal."""
    ctx = getattr(app, "ctx", None)
    return ctx.options.get("web") if ctx is not None else None


def deliver(app, path: Path, name: str, mime_type: str = "application/xml") -> None:
    """Send a file the panel made to the user's browser as a download named ``name``."""
    app.deliver_binary(path, save_filename=name, mime_type=mime_type, open_method="download")


class PasteDialog(DialogScreen["str | None"]):
    """Paste a file's text (PEM, XML); returns it, or None."""

    DEFAULT_CSS = """
    PasteDialog {
        #paste { width: 84; max-width: 100%; height: 80%; border: round $primary; background: $surface;
                 padding: 0 1; }
        #paste-hint { height: auto; color: $text-muted; margin: 0 0 1 0; }
        #paste-text { height: 1fr; }
        #paste-message { height: auto; color: $text-error; }
        #paste-buttons { height: 1; align: right middle; margin: 1 0 0 0; }
        #paste-buttons > Button { margin: 0 0 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="web.paste.cancel"),
        Binding("ctrl+s", "use", _("Use it"), id="web.paste.use"),
    ]

    def __init__(self, title: str, hint: str) -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="paste") as box:
            box.border_title = Content(self.title_text)  # plain text: a name in it is never markup
            yield Static(self.hint, id="paste-hint", markup=False)
            yield TextArea(id="paste-text", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="paste-message", markup=False)
            with Horizontal(id="paste-buttons"):
                yield Button(_("Cancel"), id="paste-cancel", compact=True)
                yield Button(_("Use it"), id="paste-use", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#paste-use")
    def _use(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_use()

    @on(Button.Pressed, "#paste-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_use(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.query_one("#paste-message", Static).update(_("Paste the file's text first."))
            return
        if len(text) > MAX_PASTE_CHARS:
            self.query_one("#paste-message", Static).update(_("That is too long for a certificate, key or signed file."))
            return
        self.dismiss(text + "\n")

    def action_cancel(self) -> None:
        self.dismiss(None)


class WebFileField(Horizontal):
    """Where a form takes a file in a browser session: "Upload…" and "Paste…", and what came."""

    DEFAULT_CSS = """
    WebFileField { height: auto; width: 1fr; }
    WebFileField > .web-file-state { width: 1fr; color: $text-muted; }
    WebFileField > .web-file-state.-got { color: $text-success; }
    WebFileField > Button { margin: 0 0 0 1; }
    WebFileField > .web-file-link { display: none; }
    """

    class Received(Message):
        """A file arrived (uploaded or pasted)."""

        def __init__(self, field: WebFileField, data: bytes, name: str) -> None:
            super().__init__()
            self.field = field
            self.data = data
            self.name = name

        @property
        def control(self) -> WebFileField:
            return self.field

    def __init__(self, label: str, *, paste_hint: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="web-file")
        self.label = label
        self.paste_hint = paste_hint
        self.data: bytes | None = None
        self.token: str | None = None

    def compose(self) -> ComposeResult:
        yield Label(_("no file yet"), classes="web-file-state")
        yield Button(_("Upload…"), classes="web-file-upload", compact=True)
        yield Button(_("Paste…"), classes="web-file-paste", compact=True)

    def on_mount(self) -> None:
        self.set_interval(0.3, self._poll)

    def focus(self, scroll_visible: bool = True) -> WebFileField:
        self.query_one(".web-file-upload", Button).focus(scroll_visible)
        return self

    @property
    def inbox(self) -> Path | None:
        web = web_session(self.app)
        return getattr(web, "inbox", None)

    def clear(self) -> None:
        self.data = None
        state = self.query_one(".web-file-state", Label)
        state.update(_("no file yet"))
        state.remove_class("-got")

    @on(Button.Pressed, ".web-file-upload")
    def _upload(self, event: Button.Pressed) -> None:
        event.stop()
        self.upload()

    def upload(self) -> None:
        """A new one-time link for this session, opened in a new tab (and shown, to click if a
        popup blocker stopped the tab)."""
        from ksef_tui.services import web_inbox as inbox

        web = web_session(self.app)
        if web is None:
            return
        if self.token is not None:
            inbox.cancel(web.inbox, self.token)  # type: ignore[attr-defined]
        self.token = inbox.want(web.inbox, self.label)  # type: ignore[attr-defined]
        url = web.link(self.token)  # type: ignore[attr-defined]
        self.app.open_url(url, new_tab=True)
        self.query_one(".web-file-state", Label).update(_("waiting for the upload in the new tab…"))
        self.notify(_("Choose the file in the new tab and send it. If no tab opened: {url}").format(url=url),
                    timeout=20, markup=False)

    def _poll(self) -> None:
        from ksef_tui.services import web_inbox as inbox

        box = self.inbox
        if self.token is None or box is None:
            return
        data = inbox.take(box, self.token)
        if data is None:
            return
        self.token = None
        self._got(data, _("uploaded file"))

    @on(Button.Pressed, ".web-file-paste")
    def _paste(self, event: Button.Pressed) -> None:
        event.stop()
        self.paste()

    def paste(self) -> None:
        def pasted(text: str | None) -> None:
            if text is not None:
                self._got(text.encode("utf-8"), _("pasted text"))

        self.app.push_screen(PasteDialog(self.label, self.paste_hint), pasted)

    def _got(self, data: bytes, how: str) -> None:
        self.data = data
        state = self.query_one(".web-file-state", Label)
        state.update(_("{how}, {n} bytes").format(how=how, n=len(data)))
        state.add_class("-got")
        self.post_message(self.Received(self, data, how))

    def on_unmount(self) -> None:
        from ksef_tui.services import web_inbox as inbox

        box = self.inbox
        if self.token is not None and box is not None:
            inbox.cancel(box, self.token)
