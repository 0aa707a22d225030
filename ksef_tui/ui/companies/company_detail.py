"""Users and Companies → Companies → (a company): Overview and "Additional data".

"Additional data" (PL "Dane dodatkowe") holds the KSeF switch and the editable
fields. Each field is validated by the service as the user types; its error is
shown under it once the user has left the field (or tried to save). Saving
passes the version that was loaded: if someone else saved meanwhile, the
service refuses and the user's edits stay on screen.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Button, Input, Label, Static, Switch, TabbedContent, TabPane

from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ConflictError, NotFound, ServiceError, ValidationFailed
from ksef_tui.i18n import _
from ksef_tui.services.companies import CompanyDetail, CompanyInput
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.common.dialogs import ConfirmDialog
from ksef_tui.ui.companies.company_form import TEXT_FIELDS, CompanyForm, field_text, form_groups, ksef_state
from ksef_tui.ui.companies.company_ksef import CompanyKsefPane
from ksef_tui.ui.widgets.footer import PanelFooter

log = logging.getLogger(__name__)

class CompanyDetailScreen(PanelScreen[None]):
    SECTION = "companies"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", _("Save"), id="company.save"),
        Binding("f5", "reload", _("Reload"), id="company.reload",
                tooltip=_("Load the company again (asks before dropping your edits)")),
        Binding("escape", "back", _("Back"), id="company.back",
                tooltip=_("Back to the list (asks before dropping your edits)")),
    ]

    def __init__(self, company_id: int, *, tab: str = "additional") -> None:
        super().__init__()
        self.company_id = company_id
        self.initial_tab = tab
        self.detail: CompanyDetail | None = None
        self.left_fields: set[str] = set()  # fields whose errors are shown
        self.errors: dict[str, str] = {}

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(id="detail-title")
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane(_("Overview"), id="overview"), VerticalScroll():
                yield Static(id="overview-text")
            # The screen's first frame is its own (navigation, tabs, footer); the form's rows come
            # on the next turns of the event loop, with the company read in a thread meanwhile
            # (CompanyForm).
            with TabPane(_("Additional data"), id="additional"):
                yield CompanyForm(id="form")
            with TabPane(_("KSeF configuration"), id="ksef"):
                # read when its tab is first chosen: its reading thread held the interpreter lock
                # the opening of the form waited for
                yield CompanyKsefPane(self.company_id, id="company-ksef", load_on_mount=self.initial_tab == "ksef")
        yield PanelFooter()

    _form_built = False  # the form's rows are made (and coming, a group per frame)
    _form_ready = False  # ... and all there
    _newer: CompanyDetail | ServiceError | None = None  # a reading that came while they were coming

    def on_mount(self) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The form's Save and Reload belong to Additional data: on the KSeF configuration tab its own keys
        (read, grant, why not?) take the footer (80 columns)."""
        tabs = self.query("#tabs")
        return not (action in ("save", "reload") and tabs and tabs.first(TabbedContent).active == "ksef")

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "ksef":
            self.query_one("#company-ksef", CompanyKsefPane).shown()

    # ------------------------------------------------------------------ data

    def load(self) -> None:
        """The company read again (in a thread); the form shows it once it is mounted."""
        self._read_company()

    @work(exclusive=True, group="company-read", exit_on_error=False, description="_read_company")
    async def _read_company(self) -> None:
        import asyncio

        read: CompanyDetail | ServiceError
        try:
            read = await asyncio.to_thread(self.ctx.companies.get, self.ctx.actor, self.company_id)
        except ServiceError as exc:
            read = exc
        if self._form_ready:
            self._show_read(read)
            return
        if self._form_built:  # F5 while the rows are coming: shown once they are there
            self._newer = read
            return
        # the first reading: the form's rows are made with its values
        self._form_built = True
        detail = read if isinstance(read, CompanyDetail) else None
        if detail is not None:
            self._show_title(detail)
            self._show_overview(detail)
        self.query_one("#form", CompanyForm).build(form_groups(detail), lambda: self._form_done(read))

    def _form_done(self, first: CompanyDetail | ServiceError) -> None:
        self._form_ready = True
        newer, self._newer = self._newer, None
        self._show_read(first, fields=False)
        if newer is not None:
            self._show_read(newer)

    def _show_read(self, read: CompanyDetail | ServiceError, *, fields: bool = True) -> None:
        if isinstance(read, ServiceError):
            self.show_message(str(read), error=True)
            return
        self._show(read, fields=fields)

    def _show(self, detail: CompanyDetail, *, fields: bool = True) -> None:
        """``detail`` in the form (``fields``: its values too; the first time they were made with them)."""
        self.detail = detail
        self.left_fields.clear()
        self.errors = {}
        if fields:
            with self.prevent(Input.Changed, Switch.Changed):
                for field in TEXT_FIELDS:
                    self.query_one(f"#in-{field}", Input).value = field_text(getattr(detail, field))
                self.query_one("#in-ksef_enabled", Switch).value = detail.ksef_enabled
            self._show_ksef_state(detail.ksef_enabled)
            self._show_title(detail)
            self._show_overview(detail)
            self._show_errors()
            self.show_message("")
        self.set_class(False, "-dirty")
        focused = self.focused
        form = self.query_one("#form", CompanyForm)
        if focused is not None and form in focused.ancestors_with_self:
            pass  # already in the form (a click or Tab while its rows came): the focus stays there
        elif self.initial_tab == "additional":
            self.query_one("#in-ksef_enabled", Switch).focus()
        elif self.initial_tab == "ksef":
            self.query_one("#company-ksef", CompanyKsefPane).table.focus()

    def form_input(self) -> CompanyInput:
        def value(field: str) -> str:
            return self.query_one(f"#in-{field}", Input).value

        return CompanyInput(
            name=value("name"),
            nip=value("nip"),
            regon=value("regon") or None,
            address=value("address") or None,
            ksef_enabled=self.query_one("#in-ksef_enabled", Switch).value,
            notes=value("notes") or None,
        )

    def loaded_input(self) -> CompanyInput | None:
        d = self.detail
        if d is None:
            return None
        return CompanyInput(name=d.name, nip=d.nip, regon=d.regon, address=d.address,
                            ksef_enabled=d.ksef_enabled, notes=d.notes)

    @property
    def is_dirty(self) -> bool:
        loaded = self.loaded_input()
        if loaded is None:
            return False
        current = self.form_input()
        return any(
            field_text(getattr(current, f)) != field_text(getattr(loaded, f)) for f in TEXT_FIELDS
        ) or current.ksef_enabled != loaded.ksef_enabled

    # ------------------------------------------------------------ validation

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.detail is None:  # the form's rows being mounted with the company's values: no edit
            return
        self.validate()
        self._edited()

    def _edited(self) -> None:
        """An edit: "Saved." was about the values saved before it, so it goes (errors stay)."""
        dirty = self.is_dirty
        self.set_class(dirty, "-dirty")
        if dirty and not self.query_one("#form-message", Static).has_class("-error"):
            self.show_message("")

    @on(Input.Blurred)
    def _left(self, event: Input.Blurred) -> None:
        field = (event.input.id or "").removeprefix("in-")
        if field in TEXT_FIELDS and self.detail is not None:
            self.left_fields.add(field)
            self._show_errors()

    @on(Switch.Changed, "#in-ksef_enabled")
    def _ksef_switched(self, event: Switch.Changed) -> None:
        if self.detail is None:
            return
        self._show_ksef_state(event.value)
        self._edited()

    def validate(self) -> dict[str, str]:
        self.errors = self.ctx.companies.validate(self.form_input())
        self._show_errors()
        return self.errors

    def _show_errors(self) -> None:
        for field in TEXT_FIELDS:
            message = self.errors.get(field, "") if field in self.left_fields else ""
            error = self.query_one(f"#err-{field}", Static)
            error.update(Text(message))
            error.set_class(bool(message), "-visible")
            self.query_one(f"#field-{field}").set_class(bool(message), "-invalid")

    # ------------------------------------------------------------------ save

    @on(Button.Pressed, "#save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.detail is None:
            return
        self.left_fields.update(TEXT_FIELDS)
        if self.validate():
            self.show_message(_("Correct the marked fields."), error=True)
            self._focus_first_error()
            return
        self._save(self.detail.version, self.form_input())

    @work(exclusive=True, group="company-save", exit_on_error=False, description="_save")
    async def _save(self, version: int, data: CompanyInput) -> None:
        """The UPDATE, its audit entry and the commit in a thread (a commit may checkpoint the WAL)."""
        import asyncio

        try:
            saved = await asyncio.to_thread(self.ctx.companies.update, self.ctx.actor, self.company_id, version,
                                            data)
        except ValidationFailed as exc:
            self.errors = exc.errors
            self._show_errors()
            self.show_message(_("Correct the marked fields."), error=True)
            self._focus_first_error()
        except ConflictError:
            self.show_message(
                _("Someone else changed this company; reload (F5). Your edits are kept until then."),
                error=True,
            )
        except NotFound as exc:
            self.show_message(str(exc), error=True)
        except ServiceError as exc:
            self.show_message(_("Not saved: {reason}").format(reason=exc), error=True)
        else:
            self.detail = saved
            self._show_title(saved)
            self._show_overview(saved)
            self.set_class(False, "-dirty")
            self.show_message(_("Saved."))
            self.notify(_("Saved."), timeout=2)

    def _focus_first_error(self) -> None:
        for field in TEXT_FIELDS:
            if field in self.errors:
                self.query_one(f"#in-{field}", Input).focus()
                return

    # ---------------------------------------------------------------- leave

    @work(exclusive=True, group="leave", description="action_back")
    async def action_back(self) -> None:
        if self.is_dirty and not await self.app.push_screen_wait(
            ConfirmDialog(_("Discard your unsaved changes?"), yes=_("Discard"),
                          no=_("Keep editing"), title=_("Unsaved changes"), default_no=True)
        ):
            return
        self.dismiss(None)

    @work(exclusive=True, group="leave", description="action_reload")
    async def action_reload(self) -> None:
        if self.is_dirty and not await self.app.push_screen_wait(
            ConfirmDialog(_("Reload and drop your unsaved changes?"), yes=_("Reload"),
                          no=_("Keep editing"), title=_("Unsaved changes"), default_no=True)
        ):
            return
        self.load()

    # --------------------------------------------------------------- display

    def show_message(self, message: str, *, error: bool = False) -> None:
        widget = self.query_one("#form-message", Static)
        widget.update(Text(message))
        widget.set_class(error and bool(message), "-error")

    def _show_ksef_state(self, enabled: bool) -> None:
        self.query_one("#ksef-state", Label).update(ksef_state(enabled))

    def _show_title(self, detail: CompanyDetail) -> None:
        title = Text()
        title.append(detail.name, style="bold")
        title.append(f"   {_('NIP')} {format_nip(detail.nip)}")
        self.query_one("#detail-title", Static).update(title)

    def _show_overview(self, d: CompanyDetail) -> None:
        rows = (
            (_("Name"), d.name),
            (_("NIP"), format_nip(d.nip)),
            (_("REGON"), d.regon or "—"),
            (_("Address"), d.address or "—"),
            (_("KSeF"), _("enabled") if d.ksef_enabled else _("disabled")),
            (_("Notes"), d.notes or "—"),
            (_("Created"), f"{d.created_at:%Y-%m-%d %H:%M}"),
            (_("Last changed"), f"{d.updated_at:%Y-%m-%d %H:%M}"),
        )
        text = Text()
        for label, value in rows:
            text.append(f"{label:<14}", style="bold")
            text.append(f"{value}\n")
        text.append("\n")
        text.append(_("Edit the company and switch KSeF on or off in \"Additional data\"."),
                    style="italic")
        self.query_one("#overview-text", Static).update(text)
