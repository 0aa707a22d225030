"""Why can't this user log in to KSeF for this company: the checklist with its evidence, the cause and
the fix (PROTOCOL.md §17). Opened with a key from any credential row (the user's KSeF screen, the
dashboard, the company's KSeF configuration).

The diagnosis runs in a thread worker (it talks to KSeF); KSeF's words are shown as plain text. Where
the office may fix it itself, ``g`` opens the grant dialog prefilled; where only the client can, ``q``
shows the words to send them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.domain.untrusted import visible
from ksef_tui.errors import ServiceError
from ksef_tui.i18n import _
from ksef_tui.services.ksef.diagnosis_texts import cause_text
from ksef_tui.services.ksef.permission_views import STEP_FAIL, STEP_OK, STEP_UNKNOWN, Diagnosis, Step
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.ksef.grant_dialog import INDIRECT_ONE, GrantDialog, GrantRequest, RequestDialog, run_grant
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable

_MARKS = {STEP_OK: ("✓", "green"), STEP_FAIL: ("✗", "red"), STEP_UNKNOWN: ("?", "yellow")}


@dataclass(frozen=True)
class StepRow:
    id: int
    step: Step


class _Steps:
    def __init__(self, rows: list[StepRow]) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list[StepRow]:
        return self.rows[offset:offset + limit]


def _mark(row: StepRow) -> Text:
    mark, style = _MARKS.get(row.step.status, ("·", "dim"))
    return Text(mark, style=style)


def _title(row: StepRow) -> Text:
    return Text(row.step.title, style="dim" if row.step.status == "skipped" else "")


class DiagnosisScreen(PanelScreen[None]):
    """``DiagnosisScreen(user_id, company_id, env)``: runs at once; ``r`` runs it again."""

    SECTION = "ksef"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="diagnosis.back"),
        Binding("r", "run", _("Check again"), id="diagnosis.run", tooltip=_("Run the checklist again")),
        Binding("g", "grant", _("Grant"), id="diagnosis.grant",
                tooltip=_("Carry out the fix from the office's account (where the office may)")),
        Binding("q", "request", _("Request"), id="diagnosis.request",
                tooltip=_("The words to send the client, to copy or print")),
    ]

    def __init__(self, user_id: int, company_id: int, env: Environment, *, label: str = "") -> None:
        super().__init__()
        self.user_id, self.company_id, self.env = user_id, company_id, env
        self.label = label
        self.diagnosis: Diagnosis | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static(Text(visible(_("Why can't they log in? {who} · {env}").format(who=self.label, env=self.env.value))),
                     id="diagnosis-title", classes="placeholder-title")
        yield Static("", id="diagnosis-cause")
        yield VirtualTable[StepRow](
            [Column("mark", "", _mark, width=2),
             Column("step", _("Check"), _title, weight=2, min_width=18),
             Column("evidence", _("What KSeF and the panel found"), lambda r: r.step.evidence, weight=4,
                    min_width=16, hide_below=90)],
            selectable=False, empty_text=_("Checking…"), id="diagnosis-steps")
        with VerticalScroll(id="diagnosis-fix"):
            yield Static("", id="diagnosis-hint")
            yield Static("", id="diagnosis-evidence")
        yield PanelFooter()

    def on_mount(self) -> None:
        self.action_run()
        self.query_one("#diagnosis-steps", VirtualTable).focus()

    # ------------------------------------------------------------------ work

    def action_run(self) -> None:
        if self.running:
            return
        self.running = True
        self.query_one("#diagnosis-cause", Static).update(Text(_("Checking in KSeF…")))
        self.run_worker(self._diagnose, thread=True, exclusive=True, group="diagnosis")

    def _diagnose(self) -> None:
        import asyncio

        ctx = self.ctx
        try:
            diag = asyncio.run(ctx.diagnosis.diagnose(ctx.actor, self.user_id, self.company_id, self.env))
        except ServiceError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self.show, diag)

    def _failed(self, message: str) -> None:
        self.running = False
        self.query_one("#diagnosis-cause", Static).update(Text(visible(message), style="bold red"))

    def show(self, diag: Diagnosis) -> None:
        self.running = False
        self.diagnosis = diag
        self.query_one("#diagnosis-title", Static).update(Text(visible(_("Why can't they log in? {who} · {env}").format(
            who=f"{diag.login} · {diag.company_name} (NIP {format_nip(diag.nip)})", env=diag.environment.value))))
        cause = Text()
        cause.append(_("Cause: "), style="bold")
        cause.append(diag.cause, style="bold green" if diag.ok else "bold red")
        cause.append(f" ({cause_text(diag.cause)})")
        if not diag.final:
            cause.append("  " + _("KSeF gave no final answer: nothing was recorded."), style="yellow")
        self.query_one("#diagnosis-cause", Static).update(cause)
        self.query_one("#diagnosis-steps", VirtualTable).load(
            _Steps([StepRow(i, s) for i, s in enumerate(diag.steps)]))
        hint = Text()
        hint.append(_("Fix: "), style="bold")
        hint.append(visible(diag.hint))
        for action in diag.actions:
            hint.append("\n" + visible(_("g: {action} (the office may do it)").format(action=action.label)), style="bold")
        if diag.request:
            hint.append("\n" + _("q: the request to send the client (only the client can grant this)"),
                        style="italic")
        self.query_one("#diagnosis-hint", Static).update(hint)
        failing = [s for s in diag.steps if s.status in (STEP_FAIL, STEP_UNKNOWN) and s.evidence]
        evidence = Text()
        for step in failing:
            evidence.append(f"{step.title}: ", style="bold")
            evidence.append(visible(step.evidence) + "\n")  # KSeF's words: plain text, controls made visible
        self.query_one("#diagnosis-evidence", Static).update(evidence)

    # ------------------------------------------------------------------ keys

    def action_back(self) -> None:
        self.dismiss(None)

    def action_grant(self) -> None:
        diag = self.diagnosis
        if diag is None or not diag.actions:
            self.notify(_("Nothing the office can grant itself here; see the fix."), severity="warning")
            return
        action = diag.actions[0]
        dialog = GrantDialog(action.user_id, action.company_id, action.environment, person=diag.login,
                             company=diag.company_name, identifier=action.identifier, scopes=action.scopes,
                             how=INDIRECT_ONE)

        def chosen(request: GrantRequest | None) -> None:
            if request is not None:
                run_grant(self, request, lambda _outcome: self.action_run())

        self.app.push_screen(dialog, chosen)

    def action_request(self) -> None:
        diag = self.diagnosis
        if diag is None or not diag.request:
            self.notify(_("No request to the client is needed here."), severity="warning")
            return
        self.app.push_screen(RequestDialog(diag.request, diag.company_id, diag.environment, why=diag.hint))
