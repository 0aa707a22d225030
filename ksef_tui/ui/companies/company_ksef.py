"""The company's "KSeF configuration" tab (PL "Konfiguracja KSeF"): how the office works with the company
in KSeF (the working model, PROTOCOL.md §17), and the permission picture: for DEMO and PRODUCTION, the
office's own grant from the client and each user of the company with the permissions they hold in the
company's context, where each comes from (direct, indirect through the office, owner, the token) and its
state (Active, Inactive, missing), with the time KSeF was read.

Keys: ``r`` reads the picture from KSeF (the environment under the cursor), ``d`` diagnoses the user
under the cursor, ``g`` grants, ``w`` withdraws, ``q`` shows the request to send the client, ``m`` sets
the working model. Everything that reads the database or KSeF runs in a thread worker; names and KSeF's
texts are shown as plain text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from ksef_tui.domain.environments import Environment
from ksef_tui.domain.untrusted import visible
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.ksef.diagnosis_texts import cause_text
from ksef_tui.services.ksef.permission_views import (
    ACTIVE,
    ENTITY,
    INACTIVE,
    INDIRECT,
    MISSING,
    OWNER,
    TOKEN,
    Holder,
    PermissionLine,
    PermissionPicture,
    model_label,
    state_label,
)
from ksef_tui.services.ksef.views import PANEL_ENVIRONMENTS
from ksef_tui.ui.ksef.grant_dialog import (
    INDIRECT_ONE,
    PERSON,
    ChoiceDialog,
    GrantDialog,
    GrantRequest,
    RequestDialog,
    run_grant,
    run_withdraw,
)
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable

_SHORT = {INDIRECT: _("indirect"), OWNER: _("owner"), TOKEN: _("token"), ENTITY: _("from client")}


@dataclass(frozen=True)
class PictureRow:
    """One line of the tab: the office, a user or another holder, in one environment."""

    id: int
    environment: Environment
    holder: Holder


class _Rows:
    def __init__(self, rows: list[PictureRow]) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list[PictureRow]:
        return self.rows[offset:offset + limit]


def line_text(line: PermissionLine, *, office: bool = False) -> str:
    """``InvoiceRead (indirect, Inactive)``; on the office's row its source goes without saying."""
    parts = [_SHORT[line.source]] if line.source in _SHORT and not (office and line.source == ENTITY) else []
    if line.can_delegate:
        parts.append(_("may pass on"))
    if line.target == "AllPartners":
        parts.append(_("all clients"))
    if line.state != ACTIVE:
        parts.append(state_label(line.state))
    return line.scope + (f" ({', '.join(parts)})" if parts else "")


def _who(row: PictureRow) -> Text:
    h = row.holder
    if h.kind == "office":
        return Text(_("The office: {name}").format(name=h.name), style="bold")
    if h.kind == "other":
        return Text(f"{h.name} ({h.identifier})" if h.identifier and h.identifier != h.name else h.name,
                    style="italic")
    return Text(f"{h.name} ({h.login})")


def _permissions(row: PictureRow) -> Text:
    lines = row.holder.lines
    if not lines:
        return Text(state_label(MISSING), style="yellow")
    text = Text()
    for i, line in enumerate(sorted(lines, key=lambda x: (x.scope, x.source))):
        if i:
            text.append(", ")
        text.append(line_text(line, office=row.holder.kind == "office"),
                    style="" if line.state == ACTIVE else "red")
    return text


def _check(row: PictureRow) -> Text:
    """The last check of the user's credential (its cause), or the holder's state."""
    h = row.holder
    if h.kind == "user" and h.cause:
        return Text(cause_text(h.cause), style="green" if h.cause == "ok" else "red")
    if h.kind == "user" and h.method is None:
        return Text(_("no credential"), style="dim")
    return Text(state_label(h.state), style={ACTIVE: "green", INACTIVE: "red"}.get(h.state, "yellow"))


def _login(row: PictureRow) -> str:
    if row.holder.kind != "user":
        return ""
    return {"token": _("token"), "certificate": _("certificate")}.get(row.holder.method or "", "—")


def _when(row: PictureRow) -> str:
    times = [line.read_at for line in row.holder.lines if line.read_at] + (
        [row.holder.checked_at] if row.holder.checked_at else [])
    return max(times).astimezone().strftime("%m-%d %H:%M") if times else ""


class CompanyKsefPane(Vertical):
    """The tab's content; ``CompanyKsefPane(company_id)`` (a widget: issue 14's "company → users" reuses it)."""

    DEFAULT_CSS = """
    CompanyKsefPane { height: 1fr; }
    CompanyKsefPane #ck-model { height: auto; padding: 0 1; }
    CompanyKsefPane #ck-table { height: 1fr; }
    CompanyKsefPane #ck-note { height: auto; max-height: 5; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "read", _("Read from KSeF"), id="company_ksef.read",
                tooltip=_("Read the permission picture of the environment under the cursor from KSeF")),
        Binding("d", "diagnose", _("Why not?"), id="company_ksef.diagnose",
                tooltip=_("Why can't the user under the cursor log in for this company")),
        Binding("g", "grant", _("Grant"), id="company_ksef.grant",
                tooltip=_("Grant the user under the cursor KSeF permissions")),
        Binding("w", "withdraw", _("Withdraw"), show=False, id="company_ksef.withdraw",
                tooltip=_("Withdraw one of the permissions of the row under the cursor")),
        Binding("q", "request", _("Request"), id="company_ksef.request",
                tooltip=_("The words to send the client, to copy or print")),
        Binding("m", "model", _("Working model"), show=False, id="company_ksef.model",
                tooltip=_("How the office works with this company in KSeF (A–D)")),
    ]

    def __init__(self, company_id: int, *, id: str | None = None, load_on_mount: bool = True) -> None:
        super().__init__(id=id)
        #: False: read when first shown (:meth:`shown`), not while its screen opens with another tab
        self.load_on_mount = load_on_mount
        self.loaded = False
        self.company_id = company_id
        self.pictures: dict[Environment, PermissionPicture] = {}
        self.reading: Environment | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="ck-model")
        yield VirtualTable[PictureRow](
            [Column("who", _("Who"), _who, weight=3, min_width=16),
             Column("env", _("Env"), lambda r: "PROD" if r.environment is Environment.PRODUCTION else r.environment.value,
                    width=5),
             Column("login", _("Login"), _login, width=12, hide_below=90),
             Column("permissions", _("Permissions in KSeF"), _permissions, weight=4, min_width=14),
             Column("check", _("Last check"), _check, weight=3, min_width=10),
             Column("read", _("Read"), _when, width=12, hide_below=100)],
            selectable=False, empty_text=_("Loading…"), id="ck-table")
        yield Static("", id="ck-note")

    @property
    def table(self) -> VirtualTable[PictureRow]:
        return self.query_one("#ck-table", VirtualTable)

    def on_mount(self) -> None:
        if self.load_on_mount:
            self.load()

    def shown(self) -> None:
        """Its tab was chosen: read it, the first time."""
        if not self.loaded:
            self.load()

    # ------------------------------------------------------------------ data

    def load(self) -> None:
        self.loaded = True
        self.run_worker(self._load, thread=True, exclusive=True, group="company-ksef-load")

    def _load(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            pictures = {env: ctx.permissions.picture(ctx.actor, self.company_id, env) for env in PANEL_ENVIRONMENTS}
        except ServiceError as exc:
            self.app.call_from_thread(self._note, str(exc), True)
            return
        self.app.call_from_thread(self.show, pictures)

    def show(self, pictures: dict[Environment, PermissionPicture]) -> None:
        self.pictures = pictures
        rows: list[PictureRow] = []
        for env, pic in pictures.items():
            if pic.office is not None:
                rows.append(PictureRow(len(rows), env, pic.office))
            rows += [PictureRow(len(rows) + i, env, h) for i, h in enumerate(pic.users)]
            rows += [PictureRow(len(rows) + i, env, h) for i, h in enumerate(pic.others)]
        self.table.load(_Rows(rows), keep_cursor=True)
        first = next(iter(pictures.values()), None)
        if first is not None:
            head = Text()
            head.append(_("Working model: "), style="bold")
            head.append(model_label(first.model))
            head.append("   " + _("m: change"), style="dim")
            self.query_one("#ck-model", Static).update(head)
        notes = []
        for env, pic in pictures.items():
            when = pic.read_at.astimezone().strftime("%Y-%m-%d %H:%M") if pic.read_at else _("never")
            line = _("{env}: read from KSeF {when}").format(env=env.value, when=when)
            if not pic.office_configured:
                line += " · " + _("the office's own KSeF credential is not set")
            if pic.note:
                line += f" · {pic.note}"
            notes.append(line)
        self._note("\n".join(notes), False)

    def _note(self, text: str, error: bool) -> None:
        note = self.query_one("#ck-note", Static)
        note.update(Text(visible(text, multiline=True), style="red" if error else ""))  # KSeF's words: plain

    # ------------------------------------------------------------------ keys

    def _cursor(self) -> PictureRow | None:
        row = self.table.cursor_row
        if row is None:
            self.app.notify(_("No row under the cursor."), severity="warning")
        return row

    def action_read(self) -> None:
        row = self.table.cursor_row
        env = row.environment if row is not None else PANEL_ENVIRONMENTS[0]
        if self.reading is not None:
            return
        self.reading = env
        self._note(_("Reading the permission picture of {env} from KSeF…").format(env=env.value), False)
        self.run_worker(lambda: self._read(env), thread=True, exclusive=True, group="company-ksef-read")

    def _read(self, env: Environment) -> None:
        import asyncio

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            asyncio.run(ctx.permissions.read_picture(ctx.actor, self.company_id, env))
        except ServiceError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
        finally:
            self.app.call_from_thread(self._read_done)

    def _read_done(self) -> None:
        self.reading = None
        self.load()

    def action_diagnose(self) -> None:
        row = self._cursor()
        if row is None:
            return
        if row.holder.kind != "user" or row.holder.user_id is None:
            self.app.notify(_("Choose a user's row."), severity="warning")
            return
        from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

        pic = self.pictures[row.environment]
        self.app.push_screen(DiagnosisScreen(row.holder.user_id, self.company_id, row.environment,
                                             label=f"{row.holder.login} · {pic.company_name}"),
                             lambda _r: self.load())

    def action_grant(self) -> None:
        row = self._cursor()
        if row is None:
            return
        if row.holder.kind != "user" or row.holder.user_id is None:
            self.app.notify(_("Choose a user's row."), severity="warning")
            return
        pic = self.pictures[row.environment]
        how = PERSON if pic.model == "C" else INDIRECT_ONE
        dialog = GrantDialog(row.holder.user_id, self.company_id, row.environment, person=row.holder.name,
                             company=pic.company_name, identifier=row.holder.identifier, how=how)

        def chosen(request: GrantRequest | None) -> None:
            if request is not None:
                run_grant(self, request, lambda _outcome: self.load())

        self.app.push_screen(dialog, chosen)

    def action_withdraw(self) -> None:
        row = self._cursor()
        if row is None:
            return
        lines = [line for line in row.holder.lines if line.permission_id and line.source not in (OWNER, TOKEN, ENTITY)]
        if not lines:
            self.app.notify(_("Nothing the office can withdraw here (an owner's, a token's or the client's own grant)."),
                            severity="warning")
            return
        choices = [(line.permission_id or "", line_text(line)) for line in lines]

        def chosen(permission_id: str | None) -> None:
            if permission_id:
                run_withdraw(self, self.company_id, row.environment, permission_id, lambda _o: self.load())

        self.app.push_screen(ChoiceDialog(_("Withdraw which permission of {who}?").format(who=row.holder.name),
                                          choices, title=_("Withdraw a KSeF permission")), chosen)

    def action_request(self) -> None:
        row = self.table.cursor_row
        env = row.environment if row is not None else PANEL_ENVIRONMENTS[0]
        pic = self.pictures.get(env)
        if pic is None:
            return
        person = row.holder.user_id if row is not None and row.holder.kind == "user" and pic.model == "C" else None
        self.run_worker(lambda: self._request(env, person, pic.model != "A"), thread=True, exclusive=True,
                        group="company-ksef-request")

    def _request(self, env: Environment, person: int | None, delegate: bool) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            text = ctx.permissions.request_text(ctx.actor, self.company_id, env, user_id=person, delegate=delegate)
        except ServiceError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, RequestDialog(text, self.company_id, env))

    def action_model(self) -> None:
        from ksef_tui.services.ksef.permission_views import MODELS

        current = next(iter(self.pictures.values())).model if self.pictures else None
        choices = [(m, model_label(m)) for m in MODELS] + [("-", model_label(None))]

        def chosen(model: str | None) -> None:
            if model is not None:
                self.run_worker(lambda: self._set_model(None if model == "-" else model), thread=True,
                                exclusive=True, group="company-ksef-model")

        self.app.push_screen(ChoiceDialog(_("How does the office work with this company in KSeF?"), choices,
                                          title=_("Working model"), current=current or "-"), chosen)

    def _set_model(self, model: str | None) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            ctx.permissions.set_model(ctx.actor, self.company_id, model)
        except ServiceError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.load)
