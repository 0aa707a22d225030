"""The KSeF settings of one user × company × environment: the form under the user's KSeF table.

Login method (Token / Certificate) and API version (2.0; 1.0 is shown as switched off on
26 Jan 2026 and refused), the token form or the certificate forms (DEMO and PRODUCTION of
the company), "Test authorization" with its steps, and the result with its hint. Only the
shown method's form is built with the panel; the other one when the method is first switched
to it (then both stay, hidden by a class, keeping what was typed in them). The panel draws its
top rows first; the form and the test row come a part per frame after them (:attr:`ready`).

Reusable: the administrator's screen and the client's own KSeF view both embed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import AwaitMount, Widget
from textual.widgets import Button, Label, Select, Static
from textual.worker import Worker, WorkerState

from ksef_tui.domain.auth import ApiVersion, AuthMethod
from ksef_tui.domain.clock import Clock, today
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ServiceError
from ksef_tui.files import problem_text
from ksef_tui.i18n import _
from ksef_tui.services.ksef.token_policy import tokens_notice
from ksef_tui.services.ksef.views import CredentialView, describe
from ksef_tui.ui.common.frames import Part, PartPerFrame
from ksef_tui.ui.ksef.cert_form import KsefCertForm, KsefCertPair
from ksef_tui.ui.ksef.status import (
    CERT_STEPS,
    KSEF_WORKERS,
    TOKEN_TEST_STEPS,
    CredentialChanged,
    FormEdited,
    KsefProblem,
    KsefSteps,
    env_name,
    local_time,
    state_content,
)
from ksef_tui.ui.ksef.token_form import KsefTokenForm

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext

PAIR = (Environment.DEMO, Environment.PRODUCTION)


def warnings_text(warnings: tuple[str, ...]) -> str:
    """KSeF's non-blocking warnings, one line each, to add below a result."""
    return "".join("\n" + _("KSeF warns: {warning}").format(warning=w) for w in warnings)


def api_v1_refusal() -> str:
    return _("KSeF API 1.0 was switched off on 26 Jan 2026; only API 2.0 can be used.")


class KsefCredentialPanel(Vertical):
    """Everything about ``view``; posts :class:`CredentialChanged` when something is saved."""

    DEFAULT_CSS = """
    KsefCredentialPanel {
        height: auto;
        #panel-title { height: 1; text-style: bold; }
        #panel-state { height: auto; }
        & > .ksef-row { height: 1; margin: 1 0 0 0; }
        & > .ksef-row > .ksef-label { width: 10; color: $text-muted; }
        #panel-method { width: 18; }
        #panel-version-label { width: auto; padding: 0 1 0 3; color: $text-muted; }
        #panel-version { width: 34; }
        #token-notice { height: auto; color: $text-warning; margin: 1 0 0 0; }
        #panel-rule { margin: 1 0 0 0; }
        KsefTokenForm, KsefCertPair { margin: 1 0 0 0; }
        #panel-test-row { height: 1; margin: 1 0 0 0; }
        #test-steps { margin: 1 0 0 0; }
        #test-result { margin: 1 0 0 0; }
        &.-token KsefCertPair { display: none; }
        &.-certificate KsefTokenForm { display: none; }
        &.-certificate #token-notice { display: none; }
    }
    """

    def __init__(self, ctx: AppContext, view: CredentialView, *, clock: Clock | None = None,
                 pair: list[CredentialView] | None = None, id: str | None = None) -> None:
        shown = view.method or AuthMethod.TOKEN
        # the method's class from the start: set after mounting, it would restyle ~90 widgets
        super().__init__(id=id, classes="-token" if shown is AuthMethod.TOKEN else "-certificate")
        self.ctx = ctx
        self.view = view
        self.clock: Clock = clock or ctx.clock
        self.shown_method = shown
        self.running: Worker | None = None
        #: the views of the certificate pair (DEMO, PRODUCTION), given by the screen that has them all
        self.pair = pair
        #: the methods whose form is built: the shown one's at first, the other's once switched to
        self.built: set[AuthMethod] = set()
        #: the form and the test row, mounted a part per frame after the top rows
        self.parts = PartPerFrame(self, expect_parts=True)

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        v = self.view
        yield Static(Content(f"{v.company_name} · NIP {format_nip(v.nip)} · {env_name(v.environment)}"),
                     id="panel-title")
        yield Static(id="panel-state")
        if not v.company_ksef_enabled:
            yield KsefProblem(id="panel-rule")
            return
        with Horizontal(classes="ksef-row"):
            yield Label(_("Login"), classes="ksef-label")
            yield Select([(_("Token"), AuthMethod.TOKEN.value), (_("Certificate"), AuthMethod.CERTIFICATE.value)],
                         value=self.shown_method.value, allow_blank=False, compact=True, id="panel-method")
            yield Label(_("API"), id="panel-version-label")
            yield Select([("2.0", ApiVersion.V2.value), (_("1.0 — switched off 26 Jan 2026"), ApiVersion.V1.value)],
                         value=(v.api_version or ApiVersion.V2).value, allow_blank=False, compact=True,
                         id="panel-version")
        yield Static(tokens_notice(self.ctx.token_policy, today(self.clock)), id="token-notice", markup=False)
        yield KsefProblem(id="panel-rule")
        # the form and the test row come after these rows, a part per frame (on_mount): in one turn
        # with them, the certificate pair's 40 widgets held the loop 40-60 ms

    @property
    def ready(self) -> bool:
        """Every part of the panel is mounted (the form comes a part per frame after the top rows)."""
        return self.parts.done

    def when_ready(self, callback: Callable[[], object]) -> None:
        """``callback()`` once every part of the panel is mounted (now, if it is)."""
        self.parts.when_done(callback)

    def _form_parts(self, method: AuthMethod, before: Callable[[], Widget] | None = None) -> list[Part]:
        """The parts that mount ``method``'s form (before the widget ``before()`` gives then, or at the
        panel's end), each made when mounted, with the views as they are then: the token form in one;
        the certificate pair with its first form, then its second."""
        self.built.add(method)

        def place(form: Widget) -> AwaitMount:
            return self.mount(form, before=before() if before else None)

        if method is AuthMethod.TOKEN:
            return [lambda: place(KsefTokenForm(self.ctx, self.view, clock=self.clock, id="token-form"))]
        return [lambda: place(KsefCertPair(self.ctx, self._pair_views(), clock=self.clock, width=self._width(),
                                           id="cert-pair")),
                lambda: self.query_one(KsefCertPair).mount_next()]

    def _test_row(self) -> list[Widget]:
        return [Horizontal(Button(_("Test authorization (t)"), id="panel-test", compact=True), id="panel-test-row"),
                KsefSteps(id="test-steps"), KsefProblem(id="test-result")]

    def _width(self) -> int:
        """Its width, or before its first layout the room its container gives it."""
        if self.size.width or not isinstance(self.parent, Widget):
            return self.size.width
        return self.parent.scrollable_content_region.width

    def _pair_views(self) -> list[CredentialView]:
        v = self.view
        if v.environment not in PAIR:
            return [v]
        if self.pair is not None:  # this row's as it is now (saved with a token since, say)
            return [v if view.environment is v.environment else view for view in self.pair
                    if view.environment in PAIR]
        views = []
        for env in PAIR:
            if env is v.environment:
                views.append(v)
            else:
                try:
                    views.append(self.ctx.credentials.get(self.ctx.actor, v.user_id, v.company_id, env))
                except ServiceError:
                    continue
        return views

    def on_mount(self) -> None:
        self._show_state()
        v = self.view
        if not v.company_ksef_enabled:
            self.query_one("#panel-rule", KsefProblem).show_error(
                _("KSeF is switched off for {name} (NIP {nip}).").format(name=v.company_name, nip=format_nip(v.nip)),
                _("Switch it on first: Users and Companies → Companies → the company → Additional data."))
            self.parts.add()  # nothing more comes
            return
        if v.api_version is ApiVersion.V1:
            self.query_one("#panel-rule", KsefProblem).show_error(
                api_v1_refusal(), _("This setting still says API 1.0: choose 2.0 to use it again."))
        # the shown method's form, with the test row under it in its first part
        first, *rest = self._form_parts(self.shown_method)
        test_row = self._test_row()

        async def form_and_test_row() -> None:
            mounted = first()
            if mounted is not None:
                await mounted
            await self.mount_all(test_row)

        self.parts.add(form_and_test_row, *rest)
        self.when_ready(lambda: self.call_after_refresh(self._own_form_into_view))

    def _own_form_into_view(self) -> None:
        """The PRODUCTION row at 80 columns: its certificate form is below DEMO's; show it, not DEMO's."""
        pairs = [p for p in self.query(KsefCertPair) if p.display and not p.has_class("-wide")]
        if not pairs or not self.is_attached or self.has_class("-token"):
            return
        forms = pairs[0].forms()
        own = [f for f in forms if f.view.environment is self.view.environment]
        if own and own[0] is not forms[0]:
            own[0].scroll_visible(top=True, animate=False)

    def _show_state(self) -> None:
        state = describe(self.view, self.clock(), self.ctx.token_policy)
        self.query_one("#panel-state", Static).update(
            Content.assemble((_("Status") + ": ", "$text-muted"), state_content(state)))

    def _show_method(self) -> None:
        token = self.shown_method is AuthMethod.TOKEN
        if self.has_class("-token") != token or self.has_class("-certificate") == token:
            self.update_classes({"-token": token, "-certificate": not token})  # one restyle, not two
        if self.shown_method not in self.built:  # first switched to: its form now, styled once as shown
            def before() -> Widget:  # looked up when mounted: the parts before it may still be coming
                pair = self.query(KsefCertPair)
                return pair.first() if token and pair else self.query_one("#panel-test-row")

            self.parts.add(*self._form_parts(self.shown_method, before=before))

    def first_field(self):
        """Where Enter/Tab from the table lands (``None`` until the panel is :attr:`ready`)."""
        if not self.view.company_ksef_enabled or not self.ready:
            return None
        if self.shown_method is AuthMethod.TOKEN:
            return self.query_one("#token-input")
        forms = self.query(KsefCertForm)
        for form in forms:
            if form.view.environment is self.view.environment:
                return form.query_one("#cert-file")
        return self.query_one("#panel-method")

    # ------------------------------------------------------------ the view

    def set_view(self, view: CredentialView) -> None:
        """Show ``view`` (this row's, or the other environment's in the certificate pair)."""
        if self.pair is not None:  # a certificate pair built later shows it too
            self.pair = [view if p.environment is view.environment and p.company_id == view.company_id else p
                         for p in self.pair]
        if view.environment is self.view.environment and view.company_id == self.view.company_id:
            self.view = view
            self._show_state()
            if not view.company_ksef_enabled:
                return
            for token_form in self.query(KsefTokenForm):
                token_form.set_view(view)
            if view.method is not None and view.method is not self.shown_method:
                self.shown_method = view.method
                with self.prevent(Select.Changed):
                    self.query_one("#panel-method", Select).value = view.method.value
                self._show_method()
        for pair in self.query(KsefCertPair):
            pair.set_view(view)

    @on(CredentialChanged)
    def _changed(self, event: CredentialChanged) -> None:
        # let it bubble on to the screen, after showing it here
        self.set_view(event.view)

    @on(FormEdited)
    def _edited(self, event: FormEdited) -> None:
        """A field was edited: the last test's steps and result, and a past change's confirmation, are
        about the earlier input; they go (a running test stays, and so do warnings and errors)."""
        event.stop()
        if self.running is None or not self.running.is_running:
            for steps in self.query("#test-steps").results(KsefSteps):  # none while the form is coming
                steps.hide()
            for result in self.query("#test-result").results(KsefProblem):
                result.clear()
        rule = self.query_one("#panel-rule", KsefProblem)
        if rule.kind == "ok":
            rule.clear()

    # ------------------------------------------------- method and API version

    @on(Select.Changed, "#panel-method")
    def _method(self, event: Select.Changed) -> None:
        event.stop()
        method = AuthMethod(str(event.value))
        if method is self.shown_method:
            return
        self.shown_method = method
        self._show_method()
        rule = self.query_one("#panel-rule", KsefProblem)
        v = self.view
        has = v.has_token if method is AuthMethod.TOKEN else v.has_certificate
        if not v.configured or v.method is method:
            rule.clear()
            return
        if not has:
            rule.show_note(_("Not changed yet: {env} keeps using {old} until a token is saved here.").format(
                env=v.environment.value, old=_("the certificate")) if method is AuthMethod.TOKEN else
                _("Not changed yet: {env} keeps using {old} until a certificate is authorized here.").format(
                env=v.environment.value, old=_("the token")))
            return
        self._set_method(method, _("The login method for {env} is now {method}.").format(
            env=v.environment.value, method=_("Token") if method is AuthMethod.TOKEN else _("Certificate")))

    @work(group="panel-method", exclusive=True, exit_on_error=False, description="_set_method")
    async def _set_method(self, method: AuthMethod, done: str) -> None:
        """Save the login method (or the API version) of the row, in a thread."""
        import asyncio
        from functools import partial

        rule = self.query_one("#panel-rule", KsefProblem)
        v = self.view
        try:
            view = await asyncio.to_thread(partial(
                self.ctx.credentials.set_method, self.ctx.actor, v.user_id, v.company_id, v.environment, method,
                ApiVersion.V2, expected_version=v.version))
        except ServiceError as exc:
            rule.show_error(str(exc))
            return
        rule.show_ok(done)
        self.set_view(view)
        self.post_message(CredentialChanged(view))

    @on(Select.Changed, "#panel-version")
    def _version(self, event: Select.Changed) -> None:
        event.stop()
        rule = self.query_one("#panel-rule", KsefProblem)
        if event.value == ApiVersion.V1.value:
            rule.show_error(api_v1_refusal(), _("KSeF works only with API 2.0 since 1 Feb 2026."))
            with self.prevent(Select.Changed):
                event.select.value = ApiVersion.V2.value  # type: ignore[assignment]  # Select[str] here
            return
        v = self.view
        if v.configured and v.api_version is ApiVersion.V1 and v.method is not None:
            self._set_method(v.method, _("{env} now uses KSeF API 2.0.").format(env=v.environment.value))
        else:
            rule.clear()

    # -------------------------------------------------- test authorization

    @on(Button.Pressed, "#panel-test")
    def _test_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.test_authorization()

    def test_authorization(self) -> None:
        """Authorize in KSeF with the saved credential of this row (nothing is changed)."""
        if not self.view.company_ksef_enabled or self.busy:
            return
        if not self.ready:  # `t` while the form is still coming: once it is there
            self.when_ready(self.test_authorization)
            return
        result = self.query_one("#test-result", KsefProblem)
        v = self.view
        if not v.configured:
            result.show_error(_("Nothing is configured for {env} yet.").format(env=v.environment.value),
                              _("Paste a token, get one with Profil Zaufany, or authorize a certificate first."))
            return
        steps = self.query_one("#test-steps", KsefSteps)
        steps.start(TOKEN_TEST_STEPS if v.method is AuthMethod.TOKEN else CERT_STEPS)
        result.show_note(_("Testing the authorization in KSeF {env}… Esc cancels.").format(env=v.environment.value))
        self.running = self._test()

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_test")
    async def _test(self) -> None:
        import asyncio

        v = self.view
        steps = self.query_one("#test-steps", KsefSteps)
        result = self.query_one("#test-result", KsefProblem)
        try:
            outcome = await self.ctx.credentials.test_authorization(
                self.ctx.actor, v.user_id, v.company_id, v.environment, progress=steps.advance)
        except ServiceError as exc:
            steps.finish("failed")
            result.show_error(str(exc), getattr(exc, "hint", ""))
            return
        # the row's new state first: it changes lines above the result (the saved token's status), which
        # would push the result's last lines below the fold at 80x24 after it was scrolled into view
        try:
            view = await asyncio.to_thread(self.ctx.credentials.get, self.ctx.actor, v.user_id, v.company_id,
                                           v.environment)
        except ServiceError:
            view = None
        if view is not None:
            self.set_view(view)
            self.post_message(CredentialChanged(view))
        if outcome.ok:
            steps.finish("ok")
            until = local_time(outcome.valid_until) if outcome.valid_until else "—"
            result.show_ok(_("Authorized in KSeF {env}; the session can be refreshed until {when}.").format(
                env=v.environment.value, when=until) + warnings_text(outcome.warnings))
        else:
            steps.finish("failed")
            result.show_error(outcome.message, (outcome.hint + warnings_text(outcome.warnings)).strip())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.running or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        self.running = None
        if event.state is WorkerState.CANCELLED:
            self.query_one("#test-steps", KsefSteps).finish("cancelled")
            self.query_one("#test-result", KsefProblem).show_note(_("Cancelled."))
        elif event.state is WorkerState.ERROR:
            self.query_one("#test-steps", KsefSteps).finish("failed")
            self.query_one("#test-result", KsefProblem).show_error(problem_text(event.worker.error or RuntimeError()))

    # ------------------------------------------------------------ workers

    @property
    def busy(self) -> bool:
        if self.running is not None and self.running.is_running:
            return True
        forms = [*self.query(KsefCertForm), *self.query(KsefTokenForm)]
        return any(form.running is not None and form.running.is_running for form in forms)

    def cancel(self) -> bool:
        """Cancel the running KSeF work of this panel; ``True`` if there was any."""
        cancelled = False
        if self.running is not None and self.running.is_running:
            self.running.cancel()
            cancelled = True
        for pair in self.query(KsefCertPair):
            cancelled = pair.cancel() or cancelled
        for form in self.query(KsefTokenForm):
            if form.running is not None and form.running.is_running:
                form.running.cancel()
                form.cancelled()
                cancelled = True
        return cancelled
