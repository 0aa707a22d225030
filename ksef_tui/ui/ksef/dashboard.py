"""The KSeF dashboard: a credentials-health view. Its title says what is most urgent (computed by
:class:`~ksef_tui.services.ksef.health.HealthService`); the picture shows, per environment, the share
of users ready / on a token / not tested / failing / not configured, the offline-ready companies, and
the token and certificate ends by month for the next 24 months. ``n`` switches to the numbers: how
many credentials are in which state; Enter on a count opens its rows, which can be selected (space,
``a`` for the whole bucket) for serial operations.

Counts and rows come from SQL (:class:`~ksef_tui.services.ksef.dashboard.DashboardService`); the
selection is a ``set`` of row ids kept here, so it survives switching buckets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from ksef_tui.domain.clock import Clock
from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _, ngettext
from ksef_tui.services.ksef import dashboard as dash
from ksef_tui.services.ksef.bulk import targets_from_rows
from ksef_tui.services.ksef.health import HealthService, next_end_text
from ksef_tui.services.ksef.offline import AUTHENTICATION
from ksef_tui.services.ksef.token_policy import policy_line
from ksef_tui.ui.common.base import PanelScreen
from ksef_tui.ui.common.file_picker import downloads_dir
from ksef_tui.ui.ksef.bulk_run import ENROLL, GRANT, REFRESH, REVOKE, TEST, TITLES, BulkRunScreen
from ksef_tui.ui.ksef.health_view import EndsTimeline, HealthBars
from ksef_tui.ui.ksef.status import ksef_status_label
from ksef_tui.ui.widgets.footer import PanelFooter
from ksef_tui.ui.widgets.virtual_table import Column, VirtualTable


@dataclass(frozen=True)
class BucketRow:
    id: int
    environment: Environment
    bucket: str
    label: str
    count: int
    reasons: str = ""


class _ListSource:
    def __init__(self, rows: list) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> list:
        return self.rows[offset:offset + limit]


@dataclass(frozen=True)
class BucketSource:
    service: dash.DashboardService
    actor: object
    environment: Environment
    bucket: str
    now: dt.datetime

    def count(self) -> int:
        return self.service.count(self.actor, self.environment, self.bucket, now=self.now)  # type: ignore[arg-type]

    def page(self, offset: int, limit: int) -> list[dash.DashboardRow]:
        return self.service.page(self.actor, self.environment, self.bucket, offset, limit, now=self.now)  # type: ignore[arg-type]


def _state(row: dash.DashboardRow) -> str:
    if row.credential_id is None:
        return _("not configured")
    if row.last_auth_ok is False:
        return _("failed: {reason}").format(reason=row.last_auth_error or "?")
    if row.last_auth_ok:
        return _("ok {when}").format(when=row.last_auth_at.strftime("%Y-%m-%d") if row.last_auth_at else "")
    return _("never tested")


def _method(row: dash.DashboardRow) -> str:
    if row.method == "token":
        return _("token …{last4}").format(last4=row.token_last4 or "") + (f" {ksef_status_label(row.token_status)}" if row.token_status else "")
    if row.method == "certificate":
        return _("cert to {when}").format(when=row.cert_valid_to.strftime("%Y-%m-%d") if row.cert_valid_to else "?")
    return "-"


class KsefDashboardScreen(PanelScreen[None]):
    SECTION = "ksef"
    #: the picture first: no table takes the keys until the numbers are shown (n)
    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "toggle_numbers", _("Numbers"), id="dashboard.numbers",
                tooltip=_("Switch between the picture and the numbers (counts and their rows)")),
        Binding("a", "select_bucket", _("Select all"), show=False, id="dashboard.select_all",
                tooltip=_("Select every row of the open count")),
        Binding("i", "invert_bucket", _("Invert"), show=False, id="dashboard.invert",
                tooltip=_("Invert the selection within the open count")),
        Binding("escape", "clear_selection", _("Clear"), show=False, id="dashboard.clear",
                tooltip=_("Clear the selection (in every count)")),
        Binding("t", "bulk('test')", _("Test"), id="dashboard.test", tooltip=_("Test authorization of the selected rows")),
        Binding("e", "bulk('enroll')", _("Enroll cert"), id="dashboard.enroll",
                tooltip=_("Enroll KSeF certificates for the selected rows")),
        Binding("r", "revoke", _("Revoke tokens"), id="dashboard.revoke",
                tooltip=_("Revoke the KSeF tokens of selected rows already moved to a certificate")),
        Binding("f", "bulk('refresh')", _("Refresh"), show=False, id="dashboard.refresh",
                tooltip=_("Ask KSeF which tokens and certificates are revoked, expired or blocked")),
        Binding("p", "bulk('permissions')", _("Permissions"), show=False, id="dashboard.permissions",
                tooltip=_("Check the KSeF permissions of the selected rows (who may log in for which company)")),
        Binding("d", "diagnose", _("Why not?"), show=False, id="dashboard.diagnose",
                tooltip=_("Why can't the user of the row under the cursor log in for its company")),
        Binding("o", "grant", _("Grant"), show=False, id="dashboard.grant",
                tooltip=_("The office grants the selected rows' users InvoiceRead/InvoiceWrite for their companies "
                          "(indirectly, from its own KSeF account)")),
        Binding("x", "export", _("CSV"), show=False, id="dashboard.export", tooltip=_("Export the open rows as CSV")),
        Binding("g", "reload", _("Reload"), show=False, id="dashboard.reload"),
        Binding("y", "token_policy", _("Token policy"), show=False, id="dashboard.token_policy",
                tooltip=_("Until when KSeF tokens work, and where that date comes from (the office's setting)")),
    ]

    DEFAULT_CSS = """
    KsefDashboardScreen {
        #dashboard-title { height: auto; text-style: bold; padding: 0 1; }
        #dashboard-title.-error { color: $text-error; }
        #dashboard-title.-warning { color: $text-warning; }
        #dashboard-title.-ok { color: $text-success; }
        #dashboard-switcher { height: 1fr; }
        #dashboard-picture { height: 1fr; padding: 0 1; overflow-y: auto; }
        #dashboard-policy { height: auto; color: $text-muted; margin: 0 0 1 0; }
        #dashboard-timeline { margin: 1 0 0 0; }
        #dashboard-timeline-note { height: auto; color: $text-muted; }
        #dashboard-numbers { height: 1fr; }
    }
    """

    def __init__(self, ctx=None, *, clock: Clock | None = None) -> None:
        super().__init__()
        self._ctx = ctx
        self._clock = clock
        self.selection: set[int] = set()
        self.opened: BucketRow | None = None
        #: the row ids of the open count (the selection may also hold rows of other counts)
        self.bucket_keys: frozenset[int] = frozenset()

    @property
    def ctx(self):  # type: ignore[override]
        return self._ctx or super().ctx

    @property
    def service(self) -> dash.DashboardService:
        return dash.DashboardService(self.ctx.db, clock=self.clock, policy=self.ctx.token_policy)

    @property
    def clock(self) -> Clock:
        return self._clock or self.ctx.clock

    def now(self) -> dt.datetime:
        return self.clock()

    def compose(self) -> ComposeResult:
        yield self.nav_bar()
        yield Static("", id="dashboard-title")
        with ContentSwitcher(initial="dashboard-picture", id="dashboard-switcher"):
            with Vertical(id="dashboard-picture"):
                yield Static("", id="dashboard-policy")
                yield HealthBars(id="dashboard-bars")
                yield EndsTimeline(id="dashboard-timeline")
                yield Static("", id="dashboard-timeline-note")
            with Vertical(id="dashboard-numbers"):
                yield from self._numbers()
        yield PanelFooter()

    def _numbers(self) -> ComposeResult:
        yield VirtualTable[BucketRow](
            [Column("env", _("Environment"), lambda r: r.environment.value, width=11),
             Column("state", _("State"), lambda r: r.label, weight=3, min_width=20),
             Column("count", _("Count"), lambda r: str(r.count), width=7, justify="right"),
             Column("why", _("Reasons"), lambda r: r.reasons, weight=2, min_width=10, hide_below=100)],
            empty_text=_("No KSeF credentials"), id="dashboard-counts")
        yield Static("", id="dashboard-rows-title")
        yield VirtualTable[dash.DashboardRow](
            [Column("login", _("User"), lambda r: r.login, weight=1, min_width=10),
             Column("company", _("Company"), lambda r: r.company_name, weight=2, min_width=12),
             Column("nip", _("NIP"), lambda r: r.nip, width=10, hide_below=90),
             Column("method", _("Login"), _method, width=18),
             Column("state", _("Last authorization"), _state, weight=2, min_width=12, hide_below=70)],
            selection=self.selection, empty_text=_("Enter on a count opens its rows"), id="dashboard-rows")

    def on_mount(self) -> None:
        self.reload()

    def counts_table(self) -> VirtualTable:
        return self.query_one("#dashboard-counts", VirtualTable)

    def rows_table(self) -> VirtualTable:
        return self.query_one("#dashboard-rows", VirtualTable)

    @property
    def showing_numbers(self) -> bool:
        return self.query_one(ContentSwitcher).current == "dashboard-numbers"

    def action_toggle_numbers(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "dashboard-picture" if self.showing_numbers else "dashboard-numbers"
        if self.showing_numbers:
            self.counts_table().focus()
        else:
            self.set_focus(None)

    def reload(self) -> None:
        now = self.now()
        health = HealthService(self.ctx.db, clock=self.clock, policy=self.ctx.token_policy).health(self.ctx.actor, now=now)
        title = self.query_one("#dashboard-title", Static)
        title.update(Text(health.title))
        for urgency in ("error", "warning", "note", "ok"):
            title.set_class(health.urgency == urgency, f"-{urgency}")
        self.query_one("#dashboard-policy", Static).update(Text(policy_line(health.policy, health.today)))
        self.query_one(HealthBars).show(health)
        self.query_one(EndsTimeline).show(health.timeline)
        self.query_one("#dashboard-timeline-note", Static).update(Text(next_end_text(health.timeline)))
        summary = self.service.summary(self.ctx.actor, now=now)
        rows: list[BucketRow] = []
        for env in summary.environments:
            for _i, bucket in enumerate(dash.BUCKETS):
                reasons = ""
                if bucket == dash.FAILING and env.reasons:
                    reasons = "; ".join(f"{r.count}× {r.text}" for r in env.reasons[:3])
                rows.append(BucketRow(len(rows), env.environment, bucket, dash.bucket_label(bucket, summary.today, summary.policy),
                                      env.counts.get(bucket, 0), reasons))
        self.counts_table().load(_ListSource(rows), keep_cursor=True)
        if self.opened is not None:
            self.open_bucket(next((r for r in rows if r.environment is self.opened.environment
                                   and r.bucket == self.opened.bucket), self.opened))

    def open_bucket(self, row: BucketRow) -> None:
        hidden_before = len(self.hidden_selection())
        self.opened = row
        self.bucket_keys = frozenset(self.service.keys(self.ctx.actor, row.environment, row.bucket, now=self.now()))
        self.open_bucket_title()
        self.rows_table().load(BucketSource(self.service, self.ctx.actor, row.environment, row.bucket, self.now()))
        hidden = len(self.hidden_selection())
        if hidden > hidden_before:
            self.notify(ngettext(
                "{n} selected row is in other counts; it stays selected (Esc clears the selection).",
                "{n} selected rows are in other counts; they stay selected (Esc clears the selection).",
                hidden).format(n=hidden), timeout=6)

    def hidden_selection(self) -> set[int]:
        """Selected rows that the open count does not show."""
        return self.selection - self.bucket_keys if self.selection else set()

    def on_virtual_table_row_activated(self, event: VirtualTable.RowActivated) -> None:
        if event.table.id == "dashboard-counts":
            self.open_bucket(event.row)
            self.rows_table().focus()
        else:  # a row: its user's KSeF screen (the same form as from Users), the counts read again after
            from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

            self.app.push_screen(UserKsefScreen(self.ctx, event.row.user_id), lambda _r: self.reload())

    def on_virtual_table_selection_changed(self, event: VirtualTable.SelectionChanged) -> None:
        if self.opened is not None:
            self.open_bucket_title()

    def open_bucket_title(self) -> None:
        row = self.opened
        if row is None:
            return
        hidden = len(self.hidden_selection())
        selected = (ngettext("{n} selected ({hidden} in other counts)", "{n} selected ({hidden} in other counts)",
                             hidden) if hidden else _("{n} selected")).format(n=len(self.selection), hidden=hidden)
        title = self.query_one("#dashboard-rows-title", Static)
        title.update(Text(f"{row.environment.value} · {row.label} ({row.count}) · {selected}"))
        title.set_class(bool(hidden), "-hidden-selection")

    # ------------------------------------------------------------------ actions

    def action_reload(self) -> None:
        self.reload()

    def action_token_policy(self) -> None:
        from ksef_tui.ui.ksef.policy_dialog import TokenPolicyDialog

        self.app.push_screen(TokenPolicyDialog(), lambda changed: self.reload() if changed else None)

    def _selection_changed(self) -> None:
        self.rows_table().refresh_selection()
        self.open_bucket_title()

    def action_select_bucket(self) -> None:
        """Select the whole open count (as in the lists: ``i`` inverts, Esc clears)."""
        if self.opened is None:
            self.notify(_("Open a count first (Enter)."), severity="warning")
            return
        self.selection.update(self.bucket_keys)
        self._selection_changed()

    def action_invert_bucket(self) -> None:
        if self.opened is None:
            return
        self.selection.symmetric_difference_update(self.bucket_keys)
        self._selection_changed()

    def action_clear_selection(self) -> None:
        if self.selection:
            self.selection.clear()
            self._selection_changed()
            self.notify(_("Selection cleared."), timeout=2)

    def _chosen(self) -> set[int]:
        """The selected row ids, or the row under the cursor when nothing is selected."""
        if self.selection:
            return set(self.selection)
        row = self.rows_table().cursor_row
        if row is None:
            self.notify(_("Open a count and select rows first (space, or a for all)."), severity="warning")
            return set()
        return {row.id}

    def pz_folder(self) -> Path:
        return downloads_dir(self.ctx.options) / "ksef-tui-profil-zaufany"

    def action_bulk(self, operation: str) -> None:
        ids = self._chosen()
        if not ids:
            return
        hidden = ids & self.hidden_selection()
        if operation != ENROLL:
            self.confirm_and_run(operation, ids, hidden)
            return
        from ksef_tui.ui.ksef.cert_types import CertificateTypesDialog

        def chosen(types: tuple[str, ...] | None) -> None:
            if types:
                self.confirm_and_run(ENROLL, ids, hidden, types)

        self.app.push_screen(CertificateTypesDialog(len(ids)), chosen)

    def action_grant(self) -> None:
        """The office grants the chosen rows' users InvoiceRead/InvoiceWrite for their companies
        (indirectly, from its own context: model B), asked first like every serial operation."""
        ids = self._chosen()
        if ids:
            self.confirm_and_run(GRANT, ids, ids & self.hidden_selection())

    async def _grant_scopes(self, n: int) -> tuple[str, ...]:
        """What the office grants (none: the user cancelled)."""
        from ksef_tui.ui.ksef.grant_dialog import ChoiceDialog

        choices = [("InvoiceRead,InvoiceWrite", _("viewing and issuing invoices (InvoiceRead, InvoiceWrite)")),
                   ("InvoiceRead", _("viewing invoices (InvoiceRead)")),
                   ("InvoiceWrite", _("issuing invoices (InvoiceWrite)"))]
        question = ngettext("What does the office grant the user of the {n} chosen row?",
                            "What does the office grant the users of the {n} chosen rows?", n).format(n=n)
        chosen = await self.app.push_screen_wait(ChoiceDialog(question, choices, title=TITLES[GRANT]))
        return tuple(chosen.split(",")) if chosen else ()

    def action_diagnose(self) -> None:
        from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen

        row = self.rows_table().cursor_row
        if row is None:
            self.notify(_("Open a count and put the cursor on a row first."), severity="warning")
            return
        self.app.push_screen(DiagnosisScreen(row.user_id, row.company_id, row.environment,
                                             label=f"{row.login} · {row.company_name}"), lambda _r: self.reload())

    def action_revoke(self) -> None:
        self.action_bulk(REVOKE)

    @work(exclusive=True, group="dashboard-confirm", description="confirm_and_run")
    async def confirm_and_run(self, operation: str, ids: set[int], hidden: set[int],
                              types: tuple[str, ...] = (AUTHENTICATION,)) -> None:
        """Say what the operation will do to the chosen rows (and what is skipped and why, and which are
        in other counts), ask when it cannot be undone or costs KSeF's limits, then run it."""
        import asyncio

        from ksef_tui.services.ksef.plans import plan_operation
        from ksef_tui.ui.common.dialogs import MessageDialog, PlanDialog, hidden_line
        from ksef_tui.ui.ksef import plan_text
        actor, db, now = self.ctx.actor, self.ctx.db, self.now()

        ctx = self.ctx

        def prepare():
            targets = targets_from_rows(self.service.rows_for(actor, ids))
            if operation == GRANT:
                from ksef_tui.services.ksef.permission_check import plan_grant

                return targets, plan_grant(ctx.permissions, actor, targets)
            return targets, plan_operation(db, actor, operation, targets, now, types=types)

        targets, plan = await asyncio.to_thread(prepare)
        folder = self.pz_folder() if operation == ENROLL else None
        run = len(plan.to_run)
        if not run:
            await self.app.push_screen_wait(MessageDialog(TITLES[operation], plan_text.nothing_to_do(plan)))
            return
        scopes: tuple[str, ...] = ()
        if operation == GRANT:
            scopes = await self._grant_scopes(len(targets))
            if not scopes:
                return
        hidden_targets = [t for t in targets if (t.user_id, t.company_id, t.environment) in
                          {dash.split_row_id(i) for i in hidden}]
        costly = operation in (ENROLL, REVOKE, GRANT) or len(targets) > 1
        if costly:
            lines = plan_text.lines(plan, folder, scopes)
            if hidden_targets:
                lines.append(hidden_line(len(hidden_targets), tuple(t.label for t in hidden_targets[:5])))
            shown = len(targets) - len(hidden_targets)
            answer = await self.app.push_screen_wait(PlanDialog(
                TITLES[operation], plan_text.question(operation, len(targets)), lines,
                yes=plan_text.yes_label(operation, run),
                shown=(ngettext("Only the {n} in this count", "Only the {n} in this count", shown).format(n=shown)
                       if hidden_targets and shown else None),
                default_no=operation in (ENROLL, REVOKE)))
            if answer is None:
                return
            if answer == "shown":
                keys = {t.key for t in hidden_targets}
                targets = [t for t in targets if t.key not in keys]
        self.app.push_screen(BulkRunScreen(operation, targets, folder=folder, scopes=scopes, types=types),
                             lambda _r: self.reload())

    def action_export(self) -> None:
        if self.opened is None:
            self.notify(_("Open a count first (Enter)."), severity="warning")
            return
        self._export(self.opened)

    @work(thread=True, exclusive=True, group="dashboard-export", exit_on_error=False, description="_export")
    def _export(self, row: BucketRow) -> None:
        from ksef_tui.files import atomic_open, problem_text

        folder = downloads_dir(self.ctx.options)
        path = folder / f"ksef-{row.environment.value.lower()}-{row.bucket}-{self.now():%Y%m%d-%H%M}.csv"
        try:  # whole (0600) or not at all; an unwritable or full folder is a message, never a crash
            with atomic_open(path, "w", newline="") as out:
                n = self.service.export_csv(self.ctx.actor, row.environment, row.bucket, out, now=self.now(),
                                            only=set(self.selection) or None)
        except Exception as exc:
            self.app.call_from_thread(self.notify, problem_text(exc, "the dashboard export failed"),
                                      title=_("Nothing was exported"), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, _("{n} rows written to {path}").format(n=n, path=path), markup=False)


__all__ = ["REFRESH", "TEST", "KsefDashboardScreen"]
