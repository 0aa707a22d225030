""""Get access token" (PL "Uzyskaj token dostępowy"): a KSeF token through Profil Zaufany.

Step 1 "Generate the file to sign with Profil Zaufany": KSeF gives a fresh challenge (valid
10 minutes, counted down on screen) and the unsigned file is saved where the user says
(default: Downloads). Step 2: where and how to sign it on gov.pl. Step 3 "Load the signed
file": a path with completion or a file picker; the file is checked locally at once. Then
"Get access token" (authorize with the signed file → redeem → a new KSeF token with the
chosen permissions → wait until Active → saved), or "Enroll a KSeF certificate instead"
(recommended: a certificate does not depend on the token end date). Esc cancels running work, then closes.

The dialog returns the saved :class:`CredentialView`, or ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, ContentSwitcher, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, WorkerState

from ksef_tui.domain.clock import Clock, today
from ksef_tui.domain.nip import format_nip
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.files import problem_text
from ksef_tui.i18n import _
from ksef_tui.services.ksef.offline import AUTHENTICATION, OFFLINE
from ksef_tui.services.ksef.token_policy import policy_line
from ksef_tui.services.ksef.views import DEFAULT_PERMISSIONS, TOKEN_PERMISSIONS, CredentialView, PreparedFile
from ksef_tui.ui.common.base import DialogScreen
from ksef_tui.ui.common.file_picker import PathInput, browse_into, display_path, downloads_dir, expand
from ksef_tui.ui.common.web_files import WebFileField, deliver
from ksef_tui.ui.ksef.cert_types import chosen_types, type_boxes, types_text
from ksef_tui.ui.ksef.status import (
    KSEF_WORKERS,
    PZ_CERT_STEPS,
    PZ_OFFLINE_STEPS,
    PZ_TOKEN_STEPS,
    KsefProblem,
    KsefSteps,
    ksef_status_label,
    local_date,
    step_label,
)

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext

GOV_PL_SIGN_URL = "https://www.gov.pl/web/gov/podpisz-dokument-elektronicznie-wykorzystaj-podpis-zaufany"
MAX_SIGNED_BYTES = 1024 * 1024


def unsigned_file_name(view: CredentialView) -> str:
    return f"ksef-auth-{view.nip}-{view.environment.value}.xml"


class ProfilZaufanyWizard(DialogScreen["CredentialView | None"]):
    DEFAULT_CSS = """
    ProfilZaufanyWizard {
        #pz {
            width: 80; max-width: 100%; height: auto; max-height: 100%;
            border: round $primary; border-title-style: bold; border-title-color: $text;
            background: $surface; padding: 0 1;
        }
        #pz-nav { height: 1; margin: 0 0 1 0; }
        #pz-body { height: auto; max-height: 1fr; }
        ContentSwitcher { height: auto; }
        ContentSwitcher > Vertical { height: auto; }
        .pz-title { text-style: bold; color: $accent; margin: 0 0 1 0; }
        .pz-text { margin: 0 0 1 0; }
        .pz-row { height: 1; margin: 0 0 1 0; }
        .pz-label { width: 13; color: $text-muted; }
        .pz-row > PathInput { width: 1fr; background: $background; }
        #pz-result { margin: 1 0 0 0; }
        .pz-row > Button { margin: 0 0 0 1; }
        #pz-url { color: $text-accent; text-style: underline; }
        #pz-perms { height: 4; margin: 0 0 1 0; border: none; padding: 0; }
        #pz-perms:focus { background-tint: $foreground 5%; }
        #pz-countdown { height: 1; color: $text-muted; }
        #pz-countdown.-late { color: $warning; text-style: bold; }
        #pz-countdown.-expired { color: $error; text-style: bold; }
        #pz-recommend { color: $text-warning; height: auto; margin: 1 0 0 0; }
        #pz-types { height: 1; }
        #pz-types > Checkbox { margin: 0 2 0 0; }
        #pz-buttons { height: 1; align: right middle; margin: 1 0 0 0; }
        #pz-buttons > Button { margin: 0 0 0 1; }
        #pz-generate { margin: 0 0 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel / close"), id="ksef.pz.cancel",
                tooltip=_("Stop the running step; when nothing runs, close the wizard")),
    ]

    def __init__(self, ctx: AppContext, view: CredentialView, *, clock: Clock | None = None,
                 out_dir: Path | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.view = view
        self.clock: Clock = clock or ctx.clock
        self.out_dir = out_dir or downloads_dir(ctx.options)
        #: ``ksef-tui demo``: a simulated gov.pl signs what is saved in its Downloads folder
        self.demo = bool(ctx.options.get("demo"))
        self.prepared: PreparedFile | None = None
        self.signed: bytes | None = None
        self.result: CredentialView | None = None
        self.step = 1
        self.running: Worker | None = None
        # in a browser session (ksef-tui serve) files go by download and come by upload or paste
        self.web = ctx.options.get("web")

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        policy = policy_line(self.ctx.token_policy, today(self.clock), long=False)
        with Vertical(id="pz") as box:
            box.border_title = Content(_("Get access token — {name} · {env}").format(  # never markup
                name=self.view.company_name, env=self.view.environment.value))
            yield Static(id="pz-nav")
            with VerticalScroll(id="pz-body"), ContentSwitcher(initial="pz-1", id="pz-steps"):
                with Vertical(id="pz-1"):
                    yield Static(_("Step 1 of 3 — Generate the file to sign with Profil Zaufany"),
                                 classes="pz-title", markup=False)
                    if self.web is None:
                        intro = _("KSeF gives a one-time challenge for NIP {nip}; it is valid for 10 minutes. "
                                  "The file with it is saved on this computer: sign it with Profil Zaufany "
                                  "or a qualified signature and load it back before the time runs out.")
                    else:
                        intro = _("KSeF gives a one-time challenge for NIP {nip}; it is valid for 10 minutes. "
                                  "Your browser downloads the file with it: sign it with Profil Zaufany "
                                  "or a qualified signature and upload it here before the time runs out.")
                    yield Static(intro.format(nip=format_nip(self.view.nip)), classes="pz-text", markup=False)
                    if self.web is None:
                        with Horizontal(classes="pz-row"):
                            yield Label(_("Save in"), classes="pz-label")
                            yield PathInput(display_path(self.out_dir) + "/", id="pz-out")
                            yield Button(_("Browse…"), id="pz-out-browse", compact=True)
                    yield Button(_("Generate the file"), id="pz-generate", variant="primary", compact=True)
                    yield KsefProblem(id="pz-1-result")
                with Vertical(id="pz-2"):
                    yield Static(_("Step 2 of 3 — Go to Profil Zaufany to sign the file"),
                                 classes="pz-title", markup=False)
                    yield Static(_("1. Open this page in your browser (c copies the link):"), markup=False)
                    yield Static(GOV_PL_SIGN_URL, id="pz-url", markup=False)
                    yield Static(id="pz-2-text", classes="pz-text", markup=False)
                    yield Button(_("Copy the link"), id="pz-copy", compact=True)
                with Vertical(id="pz-3"):
                    yield Static(_("Step 3 of 3 — Load the signed file"), classes="pz-title", markup=False)
                    with Horizontal(classes="pz-row"):
                        yield Label(_("Signed file"), classes="pz-label")
                        if self.web is None:
                            yield PathInput(display_path(self.out_dir) + "/", suffixes=(".xml",), id="pz-signed")
                            yield Button(_("Browse…"), id="pz-signed-browse", compact=True)
                        else:
                            yield WebFileField(_("The signed file"), id="pz-signed", paste_hint=_(
                                "Paste the whole signed XML file here (open it in a text editor, select all, "
                                "copy), then Use it (ctrl+s)."))
                    yield KsefProblem(id="pz-3-check")
                    yield Label(_("Permissions of the new token (space toggles):"))
                    yield SelectionList[str](
                        *(Selection(p, p, p in DEFAULT_PERMISSIONS) for p in TOKEN_PERMISSIONS),
                        id="pz-perms", compact=True)
                    with Horizontal(id="pz-types"):
                        yield Label(_("Certificate"), classes="pz-label")
                        yield from type_boxes("pz-type")
                    yield Static(_("Recommended: enroll a KSeF certificate instead; it does not depend on the "
                                   "token end date. {policy}").format(policy=policy),
                                 id="pz-recommend", markup=False)
                with Vertical(id="pz-4"):
                    yield Static("", id="pz-4-title", classes="pz-title", markup=False)
                    yield KsefSteps(id="pz-progress")
                    yield KsefProblem(id="pz-result")
            yield Static("", id="pz-countdown")
            with Horizontal(id="pz-buttons"):
                yield Button(_("← Back"), id="pz-back", compact=True)
                yield Button(_("Next →"), id="pz-next", variant="primary", compact=True)
                yield Button(_("Get access token"), id="pz-get", variant="primary", compact=True)
                yield Button(_("Enroll a KSeF certificate instead"), id="pz-enroll", compact=True)
                yield Button(_("Close"), id="pz-close", compact=True)

    def on_mount(self) -> None:
        self.show_step(1)
        self.set_interval(1.0, self.refresh_countdown)
        self.query_one("#pz-generate", Button).focus()

    # ------------------------------------------------------------------ steps

    def show_step(self, step: int) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = f"pz-{step}"
        names = [_("1 Generate"), _("2 Sign at gov.pl"), _("3 Load signed file"), _("Result")]
        parts: list[Content] = []
        for i, name in enumerate(names, start=1):
            style = "$text bold reverse" if i == step else ("$text-success" if i < step else "$text-muted")
            parts.append(Content.styled(f" {name} ", style))
        self.query_one("#pz-nav", Static).update(Content(" › ").join(parts))
        buttons = {
            "pz-back": step in (2, 3) or (step == 4 and self.running is None and self.result is None),
            "pz-next": step in (1, 2),
            "pz-get": step == 3,
            "pz-enroll": step == 3,
            "pz-close": step == 4 and self.result is not None,
        }
        for button_id, visible in buttons.items():
            self.query_one(f"#{button_id}", Button).display = visible
        self.query_one("#pz-next", Button).disabled = step == 1 and self.prepared is None
        if step == 2 and self.prepared is not None and self.web is not None:
            self.query_one("#pz-2-text", Static).update(_(
                "2. Choose the file your browser downloaded: {name}\n"
                "3. Sign it with Profil Zaufany (\"Podpisz podpisem zaufanym\", confirm as gov.pl asks) or with a "
                "qualified signature in your signing application.\n"
                "4. Download the signed file and come back here to upload it (step 3).").format(
                    name=unsigned_file_name(self.view)) + self.demo_note())
        elif step == 2 and self.prepared is not None:
            self.query_one("#pz-2-text", Static).update(_(
                "2. Choose the file from your disk: {path}\n"
                "3. Sign it with Profil Zaufany (\"Podpisz podpisem zaufanym\", confirm as gov.pl asks) or with a "
                "qualified signature in your signing application.\n"
                "4. Download the signed file and come back here to load it (step 3).").format(
                    path=display_path(self.prepared.path)) + self.demo_note())
        self.refresh_countdown()

    def signed_twin(self) -> Path | None:
        """Where the demo's simulated gov.pl puts the signed file (beside the one from step 1)."""
        if self.prepared is None:
            return None
        return self.prepared.path.with_name(self.prepared.path.stem + "-signed.xml")

    def demo_note(self) -> str:
        """In the demo: where its simulated gov.pl signs the file (``demo --serve``: a page; in the
        terminal: the demo's Downloads folder, watched)."""
        url = self.ctx.options.get("demo_sign_url")
        if url:
            return "\n" + _("Demo: sign it at {url} (a simulated Profil Zaufany).").format(url=url)
        twin = self.signed_twin()
        if not self.demo or twin is None:
            return ""
        return "\n" + _("In the demo, files saved in {folder} are signed within a second: the signed file "
                        "appears beside it as {name}. Go on to step 3 (Next →).").format(
                            folder=display_path(twin.parent), name=twin.name)

    def refresh_countdown(self) -> None:
        countdown = self.query_one("#pz-countdown", Static)
        if self.prepared is None or self.step == 4:
            countdown.update("")
            return
        left = int((self.prepared.expires_at - self.clock()).total_seconds())
        countdown.set_class(0 < left <= 120, "-late")
        countdown.set_class(left <= 0, "-expired")
        if left <= 0:
            countdown.update(_("The challenge has expired: go back to step 1 and generate a new file."))
        else:
            countdown.update(_("Time left to sign and load the file: {mm:02d}:{ss:02d}").format(
                mm=left // 60, ss=left % 60))

    @on(Button.Pressed, "#pz-next")
    def _next(self, event: Button.Pressed) -> None:
        event.stop()
        self.next_step()

    def next_step(self) -> None:
        if self.step < 3:
            self.show_step(self.step + 1)
            if self.step == 2:
                self.query_one("#pz-copy", Button).focus()
            else:
                signed = self.query_one("#pz-signed")
                twin = self.signed_twin()
                if (self.demo and twin is not None and isinstance(signed, PathInput)
                        and (not signed.value.strip() or signed.value.endswith("/"))):
                    signed.value = display_path(twin)  # the demo's gov.pl saved it there: Enter loads it
                    signed.cursor_position = len(signed.value)
                signed.focus()

    @on(Button.Pressed, "#pz-back")
    def _back(self, event: Button.Pressed) -> None:
        event.stop()
        self.show_step(3 if self.step == 4 else max(1, self.step - 1))

    @on(Button.Pressed, "#pz-close")
    def _close(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.result)

    def action_cancel(self) -> None:
        if self.running is not None and self.running.is_running:
            self.running.cancel()
            return
        self.dismiss(self.result)

    def key_c(self) -> None:
        if self.step == 2:
            self.copy_link()

    @on(Button.Pressed, "#pz-copy")
    def _copy(self, event: Button.Pressed) -> None:
        event.stop()
        self.copy_link()

    def copy_link(self) -> None:
        self.app.copy_to_clipboard(GOV_PL_SIGN_URL)
        self.notify(_("The link is in the clipboard."), timeout=3)

    @on(PathInput.BrowseRequested)
    def _browse_key(self, event: PathInput.BrowseRequested) -> None:
        event.stop()
        folders = event.path_input.id == "pz-out"
        browse_into(event.path_input, folders=folders,
                    title=_("Where to save the file") if folders else _("The signed file"))

    @on(Button.Pressed, "#pz-out-browse, #pz-signed-browse")
    def _browse(self, event: Button.Pressed) -> None:
        event.stop()
        target = self.query_one("#pz-out" if event.button.id == "pz-out-browse" else "#pz-signed", PathInput)
        target.action_browse()

    # --------------------------------------------------------- step 1: generate

    def out_path(self) -> Path:
        if self.web is not None:  # the session's private inbox on the server; the browser gets a download
            return self.web.inbox / "out" / unsigned_file_name(self.view)
        text = self.query_one("#pz-out", PathInput).value.strip()
        path = expand(text) if text else self.out_dir
        if text.endswith("/") or path.is_dir() or path.suffix.lower() != ".xml":
            path = path / unsigned_file_name(self.view)
        return path

    @on(Button.Pressed, "#pz-generate")
    def _generate_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.generate()

    @on(Input.Submitted, "#pz-out")
    def _out_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.generate()

    def generate(self) -> None:
        result = self.query_one("#pz-1-result", KsefProblem)
        result.show_note(_("Asking KSeF for a challenge…"))
        self.running = self._generate(self.out_path())

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_generate")
    async def _generate(self, path: Path) -> None:
        result = self.query_one("#pz-1-result", KsefProblem)
        v = self.view
        try:
            prepared = await self.ctx.profil_zaufany.prepare_signed_file(
                self.ctx.actor, v.user_id, v.company_id, v.environment, path)
        except ValidationFailed as exc:
            result.show_error(exc.errors.get("path") or str(exc))
            return
        except ServiceError as exc:
            result.show_error(str(exc), getattr(exc, "hint", ""))
            return
        self.prepared = prepared
        self.signed = None
        self.query_one("#pz-generate", Button).label = _("Generate a new file")
        self.query_one("#pz-3-check", KsefProblem).clear()
        if self.web is not None:
            self.query_one("#pz-signed", WebFileField).clear()
            deliver(self.app, prepared.path, unsigned_file_name(self.view))
            result.show_ok(_("Your browser downloads it: {name}\nNow sign it with Profil Zaufany or a qualified signature (Next →).").format(
                name=unsigned_file_name(self.view)))
        else:
            result.show_ok(_("Saved: {path}\nNow sign it with Profil Zaufany or a qualified signature (Next →).").format(
                path=display_path(prepared.path)))
            signed_input = self.query_one("#pz-signed", PathInput)
            if not signed_input.value.strip() or signed_input.value.endswith("/"):
                signed_input.value = display_path(prepared.path.parent) + "/"
        self.show_step(1)
        self.query_one("#pz-next", Button).focus()

    # ----------------------------------------------------- step 3: the signed file

    @on(Input.Changed, "#pz-signed")
    def _signed_changed(self, event: Input.Changed) -> None:
        event.stop()
        path = expand(event.value) if event.value.strip() else None
        if path is not None and path.is_file():
            self.load_signed(path)
        else:
            self.signed = None
            self.query_one("#pz-3-check", KsefProblem).clear()

    @on(Input.Submitted, "#pz-signed")
    def _signed_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = expand(event.value) if event.value.strip() else None
        if path is None or not path.is_file():
            self.query_one("#pz-3-check", KsefProblem).show_error(
                _("No such file: {path}").format(path=event.value.strip() or "—"))
            return
        if self.load_signed(path):
            self.query_one("#pz-get", Button).focus()

    @on(WebFileField.Received, "#pz-signed")
    def _signed_received(self, event: WebFileField.Received) -> None:
        event.stop()
        if self.check_signed(event.data, event.name):
            self.query_one("#pz-get", Button).focus()

    def load_signed(self, path: Path) -> bool:
        """Read the signed file and check it locally (signature present, our challenge and NIP)."""
        check = self.query_one("#pz-3-check", KsefProblem)
        self.signed = None
        try:
            if path.stat().st_size > MAX_SIGNED_BYTES:
                check.show_error(_("{name} is too large to be a signed KSeF request.").format(name=path.name))
                return False
            data = path.read_bytes()
        except OSError as exc:
            check.show_error(_("Cannot read {path}: {reason}").format(path=display_path(path), reason=exc.strerror))
            return False
        if self.prepared is not None and path.resolve() == self.prepared.path.resolve():
            check.show_error(_("This is the unsigned file from step 1; load the file signed at gov.pl."))
            return False
        return self.check_signed(data, path.name)

    def check_signed(self, data: bytes, name: str) -> bool:
        """Check the signed file's bytes locally (signature present, our challenge and NIP)."""
        check = self.query_one("#pz-3-check", KsefProblem)
        self.signed = None
        if len(data) > MAX_SIGNED_BYTES:
            check.show_error(_("{name} is too large to be a signed KSeF request.").format(name=name))
            return False
        try:
            facts = self.ctx.profil_zaufany.check_signed_file(data, self.prepared, nip=self.view.nip)
        except ServiceError as exc:
            check.show_error(str(exc), getattr(exc, "hint", ""))
            return False
        self.signed = data
        check.show_ok(_("Signed file OK: {name} — our challenge, {context}, signatures: {n}.").format(
            name=name, context=facts.context, n=facts.signatures))
        return True

    def permissions(self) -> tuple[str, ...]:
        chosen = set(self.query_one("#pz-perms", SelectionList).selected)
        return tuple(p for p in TOKEN_PERMISSIONS if p in chosen)

    @on(Button.Pressed, "#pz-get")
    def _get_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.get_access_token()

    @on(Button.Pressed, "#pz-enroll")
    def _enroll_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.enroll_certificate()

    def _ready(self) -> bool:
        check = self.query_one("#pz-3-check", KsefProblem)
        if self.signed is None:
            if check.kind != "error":
                check.show_error(_("Load the signed file first."))
            self.query_one("#pz-signed").focus()
            return False
        return True

    def get_access_token(self) -> None:
        if not self._ready():
            return
        permissions = self.permissions()
        if not permissions:
            self.query_one("#pz-3-check", KsefProblem).show_error(_("Choose at least one permission for the token."))
            self.query_one("#pz-perms").focus()
            return
        labels = [step_label(s) for s in PZ_TOKEN_STEPS]
        labels[0] = step_label("checked")  # the signature comes from Profil Zaufany
        self._start(_("Getting the access token"), PZ_TOKEN_STEPS, labels)
        self.running = self._get_token(permissions)

    def certificate_types(self) -> tuple[str, ...]:
        return chosen_types(self.query_one("#pz-type-auth", Checkbox), self.query_one("#pz-type-offline", Checkbox))

    def enroll_certificate(self) -> None:
        if not self._ready():
            return
        types = self.certificate_types()
        if not types:
            self.query_one("#pz-3-check", KsefProblem).show_error(
                _("Choose the certificate type: Authentication, Offline or both."))
            self.query_one("#pz-type-auth", Checkbox).focus()
            return
        steps = PZ_CERT_STEPS if AUTHENTICATION in types else PZ_OFFLINE_STEPS
        labels = [step_label(s) for s in steps]
        labels[0] = step_label("checked")
        for i in range(5, len(steps) - 1 if AUTHENTICATION in types else 5):  # the new certificate's own test
            labels[i] = _("New certificate: {step}").format(step=labels[i])
        self._start(_("Enrolling KSeF certificates: {types}").format(types=types_text(types)), steps, labels)
        self.running = self._enroll(types)

    def _start(self, title: str, steps: tuple[str, ...], labels: list[str] | None = None) -> None:
        self.result = None
        self.show_step(4)
        self.query_one("#pz-4-title", Static).update(title)
        self.query_one("#pz-progress", KsefSteps).start(steps, labels)
        self.query_one("#pz-result", KsefProblem).show_note(_("Esc cancels."))
        self.set_focus(None)

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_get_token")
    async def _get_token(self, permissions: tuple[str, ...]) -> None:
        v, steps = self.view, self.query_one("#pz-progress", KsefSteps)
        assert self.signed is not None and self.prepared is not None
        try:
            saved = await self.ctx.profil_zaufany.token_from_signed_file(
                self.ctx.actor, v.user_id, v.company_id, v.environment, self.signed,
                expected_challenge=self.prepared.challenge, permissions=permissions, progress=steps.advance)
        except ServiceError as exc:
            self._failed(exc)
            return
        self._succeeded(saved, _("KSeF token saved for {env}: {masked}, status {status}.").format(
            env=saved.environment.value, masked=saved.token_masked, status=ksef_status_label(saved.token_status) if saved.token_status else "—"))

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_enroll")
    async def _enroll(self, types: tuple[str, ...]) -> None:
        v, steps = self.view, self.query_one("#pz-progress", KsefSteps)
        assert self.signed is not None and self.prepared is not None
        try:
            saved = await self.ctx.profil_zaufany.certificate_from_signed_file(
                self.ctx.actor, v.user_id, v.company_id, v.environment, self.signed,
                expected_challenge=self.prepared.challenge, progress=steps.advance, types=types)
        except ServiceError as exc:
            self._failed(exc)
            return
        lines = []
        if AUTHENTICATION in types:
            until = saved.last_auth_valid_until
            lines.append(_("KSeF certificate saved for {env}; the login method is now Certificate.").format(
                env=saved.environment.value))
            if until:
                lines.append(_("Authorized until {when}.").format(when=until.astimezone().strftime("%Y-%m-%d %H:%M")))
        if OFFLINE in types and saved.offline_serial:
            lines.append(_("Offline certificate {serial} saved for {env}, valid until {when}: it signs offline "
                           "invoices (QR code II) and never logs in.").format(
                serial=saved.offline_serial, env=saved.environment.value,
                when=local_date(saved.offline_valid_to) if saved.offline_valid_to else "?"))
        self._succeeded(saved, "\n".join(lines))

    def _succeeded(self, saved: CredentialView, message: str) -> None:
        self.result = saved
        self.running = None
        self.query_one("#pz-progress", KsefSteps).finish("ok")
        self.query_one("#pz-result", KsefProblem).show_ok(message)
        self.prepared = None  # the challenge is used up
        self.show_step(4)
        self.query_one("#pz-close", Button).focus()

    def _failed(self, exc: BaseException) -> None:
        self.running = None
        self.query_one("#pz-progress", KsefSteps).finish("failed")
        message = problem_text(exc, "the Profil Zaufany step failed")
        if isinstance(exc, ValidationFailed):
            message = "; ".join(exc.errors.values())
        self.query_one("#pz-result", KsefProblem).show_error(
            message, getattr(exc, "hint", "") or _("Nothing was saved; the previous setting still works."))
        self.show_step(4)
        self.query_one("#pz-back", Button).focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.running:
            return
        if event.state is WorkerState.CANCELLED:
            self.running = None
            if self.step == 4:
                self.query_one("#pz-progress", KsefSteps).finish("cancelled")
                self.query_one("#pz-result", KsefProblem).show_note(
                    _("Cancelled — nothing was saved. Esc closes the wizard."))
                self.show_step(4)
            else:
                self.query_one("#pz-1-result", KsefProblem).show_note(_("Cancelled."))
        elif event.state is WorkerState.ERROR:
            self.running = None
            self._failed(event.worker.error or RuntimeError("?"))
        elif event.state is WorkerState.SUCCESS:
            self.running = None
            if self.step == 4:
                self.show_step(4)

