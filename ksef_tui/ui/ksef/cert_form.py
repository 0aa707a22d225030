"""Certificate login: certificate file, key file and password (or PKCS#12) per environment.

As soon as the files are chosen the subject, NIP or PESEL, validity and whether the key
matches are shown (``inspect_certificate``; nothing refused yet). "Perform certificate
authorization" (PL "Wykonaj autoryzację certyfikatu") loads the material strictly,
authorizes in KSeF with it, showing each step, and saves it only on success; Esc cancels.

``KsefCertPair`` shows the DEMO and PRODUCTION forms side by side when there is room
(100 columns or more) and one above the other otherwise; the second comes a frame after the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import AwaitMount
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker, WorkerState

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.clock import Clock
from ksef_tui.domain.nip import format_nip
from ksef_tui.domain.secret import Secret
from ksef_tui.errors import ServiceError, ValidationFailed
from ksef_tui.files import problem_text
from ksef_tui.i18n import _
from ksef_tui.services.ksef.views import CertificateFacts, CertificateFiles, CredentialView
from ksef_tui.ui.common.file_picker import PathInput, browse_into, display_path
from ksef_tui.ui.common.web_files import WebFileField
from ksef_tui.ui.ksef.status import (
    CERT_STEPS,
    KSEF_WORKERS,
    CredentialChanged,
    FormEdited,
    KsefProblem,
    KsefSteps,
    env_name,
    local_date,
    local_time,
)

if TYPE_CHECKING:
    from ksef_tui.services.context import AppContext

MAX_FILE_BYTES = 1_000_000


def field_label(field: str) -> str:
    return {"certificate": _("Certificate"), "key": _("Key"), "password": _("Password"),
            "pkcs12": _("PKCS#12")}.get(field, "")


def friendly_subject(subject: str) -> str:
    """"Anna Nowak (TINPL-5265877635)" from an RFC 4514 subject; the whole subject otherwise."""
    import re

    parts = dict(
        (m.group(1), m.group(2).replace("\\,", ","))
        for m in re.finditer(r"(?:^|,)([A-Za-z0-9.]+)=((?:\\,|[^,])*)", subject)
    )
    name = parts.get("CN") or parts.get("O")
    ident = parts.get("2.5.4.5") or parts.get("2.5.4.97") or parts.get("serialNumber")
    if not name:
        return subject
    return f"{name} ({ident})" if ident else name


def saved_certificate_text(view: CredentialView) -> Content:
    if not view.has_certificate:
        return Content.styled(_("No certificate saved for {env}.").format(env=view.environment.value),
                              "$text-muted")
    parts: list[Any] = [_("Saved") + ": ", (friendly_subject(view.cert_subject or "?"), "bold")]
    if view.cert_valid_to:
        parts += [" · ", _("valid to {date}").format(date=local_date(view.cert_valid_to))]
    if view.last_auth_ok and view.last_auth_valid_until and view.last_auth_method == AuthMethod.CERTIFICATE.value:
        parts += ["\n", (_("authorized until {when}").format(when=local_time(view.last_auth_valid_until)),
                         "$text-success")]
    elif view.last_auth_ok is False:
        parts += ["\n", (_("failing: {reason}").format(reason=view.last_auth_error or "?"), "$text-error")]
    if view.method is AuthMethod.TOKEN:
        parts += ["\n", (_("(not used: the login method is Token)"), "$text-muted")]
    return Content.assemble(*parts)


def facts_content(facts: CertificateFacts, company_nip: str, now) -> Content:
    label_width = 10

    def row(label: str, *value: Any) -> Content:
        return Content.assemble((f"{label:<{label_width}}", "$text-muted"), *value)

    lines = [row(_("Subject"), friendly_subject(facts.subject))]
    if facts.nip:
        ident = Content.assemble("NIP " + format_nip(facts.nip))
        if facts.nip != company_nip and facts.is_seal:
            ident = Content.assemble(ident, (" — " + _("not this company's NIP"), "$text-warning"))
        lines.append(row(_("Identity"), ident))
    elif facts.pesel:
        lines.append(row(_("Identity"), "PESEL " + facts.pesel))
    elif facts.identifier:
        lines.append(row(_("Identity"), facts.identifier))
    validity = f"{local_date(facts.valid_from)} → {local_date(facts.valid_to)}"
    problem = facts.validity_problem(now)
    if problem == "expired":
        lines.append(row(_("Valid"), validity, ("  " + _("EXPIRED"), "$text-error bold")))
    elif problem == "not-yet-valid":
        lines.append(row(_("Valid"), validity, ("  " + _("not valid yet"), "$text-error bold")))
    else:
        days = (facts.valid_to - now).days
        style = "$text-warning" if days < 30 else "$text-muted"
        lines.append(row(_("Valid"), validity, ("  " + _("{n} days left").format(n=days), style)))
    if facts.ksef_type == "Offline":
        lines.append(row(_("Type"), (_("KSeF Offline certificate — cannot log in"), "$text-error bold")))
    elif facts.ksef_type:
        lines.append(row(_("Type"), _("KSeF Authentication certificate")))
    if facts.key_matches:
        lines.append(row(_("Key"), facts.key_type + ", ", (_("matches the certificate") + " ✓", "$text-success")))
    else:
        lines.append(row(_("Key"), facts.key_type + ", ", (_("does NOT match the certificate") + " ✗",
                                                          "$text-error bold")))
    return Content("\n").join(lines)


class KsefCertForm(Vertical):
    """The certificate of ``view`` (one user × company × environment)."""

    DEFAULT_CSS = """
    KsefCertForm {
        height: auto;
        border: round $primary 50%;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
        &:focus-within { border: round $primary; }
        #cert-saved { height: auto; margin: 0 0 1 0; }
        .ksef-row { height: 1; }
        .ksef-label { width: 12; color: $text-muted; }
        .ksef-row > Input { width: 1fr; }
        .ksef-row > Button { margin: 0 0 0 1; min-width: 5; }
        .-p12 { display: none; }
        &.-pkcs12 .-p12 { display: block; }
        &.-pkcs12 .-pem { display: none; }
        #cert-p12-mode { margin: 0 0 0 12; }
        #cert-facts { height: auto; margin: 1 0 0 0; }
        #cert-facts.-error { color: $text-error; }
        #cert-authorize { margin: 1 0 0 0; }
        KsefSteps { margin: 1 0 0 0; }
        KsefProblem { margin: 1 0 0 0; }
    }
    """

    def __init__(self, ctx: AppContext, view: CredentialView, *, clock: Clock | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id or f"cert-{view.environment.value.lower()}")
        self.border_title = env_name(view.environment)  # with the form: it may come a frame after its pair
        self.ctx = ctx
        self.view = view
        self.clock: Clock = clock or ctx.clock
        self.facts: CertificateFacts | None = None
        self.running: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Static(saved_certificate_text(self.view), id="cert-saved")
        yield Checkbox(_("PKCS#12 file (.p12, .pfx)"), id="cert-p12-mode", compact=True)
        web = self.ctx.options.get("web") is not None  # a browser session: upload or paste, no paths
        pem_hint = _("Paste the PEM text here (from -----BEGIN to -----END), then Use it (ctrl+s).")
        with Horizontal(classes="ksef-row -pem"):
            yield Label(_("Certificate"), classes="ksef-label")
            if web:
                yield WebFileField(_("The certificate"), id="cert-file", paste_hint=pem_hint)
            else:
                yield PathInput(suffixes=(".pem", ".crt", ".cer", ".der"), placeholder=_("certificate file"),
                                id="cert-file")
                yield Button("…", id="cert-file-browse", compact=True, tooltip=_("Browse (ctrl+o)"))
        with Horizontal(classes="ksef-row -pem"):
            yield Label(_("Key"), classes="ksef-label")
            if web:
                yield WebFileField(_("The private key"), id="key-file", paste_hint=pem_hint)
            else:
                yield PathInput(suffixes=(".pem", ".key"), placeholder=_("private key file"), id="key-file")
                yield Button("…", id="key-file-browse", compact=True, tooltip=_("Browse (ctrl+o)"))
        with Horizontal(classes="ksef-row -p12"):
            yield Label(_("PKCS#12"), classes="ksef-label")
            if web:
                yield WebFileField(_("The PKCS#12 file"), id="p12-file", paste_hint=_(
                    "A PKCS#12 file is binary: upload it instead."))
            else:
                yield PathInput(suffixes=(".p12", ".pfx"), placeholder=_(".p12 / .pfx file"), id="p12-file")
                yield Button("…", id="p12-file-browse", compact=True, tooltip=_("Browse (ctrl+o)"))
        with Horizontal(classes="ksef-row"):
            yield Label(_("Password"), classes="ksef-label")
            yield Input(password=True, compact=True, placeholder=_("key password, if any"), id="cert-password")
        yield Static("", id="cert-facts")
        yield Button(_("Perform certificate authorization"), id="cert-authorize", variant="primary", compact=True)
        yield KsefSteps(id="cert-steps")
        yield KsefProblem(id="cert-result")

    # ---------------------------------------------------------------- state

    @property
    def pkcs12(self) -> bool:
        return self.query_one("#cert-p12-mode", Checkbox).value

    def set_view(self, view: CredentialView) -> None:
        self.view = view
        self.query_one("#cert-saved", Static).update(saved_certificate_text(view))

    @on(Checkbox.Changed, "#cert-p12-mode")
    def _mode(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.set_class(event.value, "-pkcs12")
        self.edited()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id in ("cert-file", "key-file", "p12-file", "cert-password"):
            event.stop()
            self.edited()

    @on(WebFileField.Received)
    def _received(self, event: WebFileField.Received) -> None:
        event.stop()
        self.edited()

    def edited(self) -> None:
        """The user changed the files or the password: look at them; the last authorization's steps and
        result belong to the earlier input, so they go (unless it is still running)."""
        self.inspect()
        if self.running is None or not self.running.is_running:
            self.query_one("#cert-steps", KsefSteps).hide()
            self.query_one("#cert-result", KsefProblem).clear()
        self.post_message(FormEdited())

    @on(PathInput.BrowseRequested)
    def _browse_key(self, event: PathInput.BrowseRequested) -> None:
        event.stop()
        browse_into(event.path_input)

    @on(Button.Pressed, "#cert-file-browse, #key-file-browse, #p12-file-browse")
    def _browse(self, event: Button.Pressed) -> None:
        event.stop()
        target = (event.button.id or "").removesuffix("-browse")
        self.query_one(f"#{target}", PathInput).action_browse()

    # ---------------------------------------------------------- the material

    def material(self) -> CertificateFiles | None:
        """The chosen files for the service, or ``None`` while files are missing (reads the files)."""
        return _material(self.pkcs12, self._paths(), self.query_one("#cert-password", Input).value)

    def _facts_message(self, text: str, error: bool = False) -> None:
        facts = self.query_one("#cert-facts", Static)
        facts.update(Content(text))
        facts.set_class(error, "-error")
        self.facts_plain = text

    facts_plain = ""

    def inspect(self) -> None:
        """Show what the chosen files hold, without refusing anything: read and opened in a thread
        (a PKCS#12 key derivation per keystroke of its password), one look at a time."""
        self.facts = None
        self.facts_pending = True
        self._inspect(self.pkcs12, self._paths(), self.query_one("#cert-password", Input).value)

    facts_pending = False

    def _paths(self) -> dict[str, Path | None]:
        return {input_id: self.query_one(f"#{input_id}", PathInput).path
                for input_id in ("cert-file", "key-file", "p12-file")}

    @work(group="cert-inspect", exclusive=True, exit_on_error=False, description="_inspect")
    async def _inspect(self, pkcs12: bool, paths: dict[str, Path | None], typed: str) -> None:
        import asyncio

        try:
            shown = await asyncio.to_thread(self._look, pkcs12, paths, typed)
        except Exception as exc:  # never a silent stop: a sentence naming the log entry
            shown = (problem_text(exc, "reading the certificate files failed"), True)
        finally:
            self.facts_pending = False
        if isinstance(shown, CertificateFacts):
            self.facts = shown
            content = facts_content(shown, self.view.nip, self.clock())
            widget = self.query_one("#cert-facts", Static)
            widget.update(content)
            widget.set_class(False, "-error")
            self.facts_plain = content.plain
        else:
            self._facts_message(*shown)

    def _look(self, pkcs12: bool, paths: dict[str, Path | None], typed: str) -> CertificateFacts | tuple[str, bool]:
        """In a thread: the facts of the chosen files, or (message, is_error)."""
        try:
            material = _material(pkcs12, paths, typed)
        except ValidationFailed as exc:
            return str(exc), True
        if material is None:
            missing = []
            for input_id, what in ((("p12-file", _("the PKCS#12 file")),) if pkcs12 else
                                   (("cert-file", _("the certificate file")), ("key-file", _("the key file")))):
                path = paths[input_id]
                if path is None or not path.is_file():
                    missing.append(what if path is None else _("{what} ({path}: no such file)").format(
                        what=what, path=display_path(path)))
            return (_("Choose {files}.").format(files=_(" and ").join(missing)) if missing else ""), False
        try:
            return self.ctx.credentials.inspect_certificate(material)
        except ValidationFailed as exc:
            return "; ".join(exc.errors.values()), True

    # -------------------------------------------------------- authorization

    @on(Button.Pressed, "#cert-authorize")
    def _authorize_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.authorize()

    def authorize(self) -> None:
        """"Perform certificate authorization": files read and strictly checked, then authorized
        and saved, all in a worker (the files and the key are never opened on the event loop)."""
        if self.running is not None and self.running.is_running:
            return
        self.query_one("#cert-result", KsefProblem).show_note(
            _("Authorizing in KSeF {env}… Esc cancels.").format(env=self.view.environment.value))
        self.running = self._authorize(self.pkcs12, self._paths(), self.query_one("#cert-password", Input).value)

    @work(group=KSEF_WORKERS, exclusive=True, exit_on_error=False, description="_authorize")
    async def _authorize(self, pkcs12: bool, paths: dict[str, Path | None], typed: str) -> None:
        import asyncio

        v = self.view
        steps = self.query_one("#cert-steps", KsefSteps)
        result = self.query_one("#cert-result", KsefProblem)
        try:
            files = await asyncio.to_thread(_checked_material, self.ctx, pkcs12, paths, typed)
        except ValidationFailed as exc:
            field, message = next(iter(exc.errors.items()))
            label = field_label(field)
            result.show_error(f"{label}: {message}" if label else message,
                              _("Nothing was saved; the previous setting still works."))
            steps.hide()
            return
        steps.start(CERT_STEPS)
        try:
            saved = await self.ctx.credentials.authorize_certificate(
                self.ctx.actor, v.user_id, v.company_id, v.environment, files, progress=steps.advance,
                expected_version=v.version)  # 0: nothing saved yet, as seen
        except ServiceError as exc:
            steps.finish("failed")
            message = "; ".join(exc.errors.values()) if isinstance(exc, ValidationFailed) else str(exc)
            hint = getattr(exc, "hint", "")
            result.show_error(message, (hint + " " if hint else "") +
                              _("Nothing was saved; the previous setting still works."))
            return
        steps.finish("ok")
        self.set_view(saved)
        with self.prevent(Input.Changed):  # not an edit: the result below stays
            self.query_one("#cert-password", Input).value = ""
        until = saved.last_auth_valid_until
        result.show_ok(_("Certificate saved for {env}; authorized until {when}.").format(
            env=saved.environment.value, when=local_time(until) if until else "—"))
        self.post_message(CredentialChanged(saved))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.running or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        self.running = None
        if event.state is WorkerState.CANCELLED:
            self.query_one("#cert-steps", KsefSteps).finish("cancelled")
            self.query_one("#cert-result", KsefProblem).show_note(_("Cancelled — nothing was saved."))
        elif event.state is WorkerState.ERROR:
            self.query_one("#cert-steps", KsefSteps).finish("failed")
            self.query_one("#cert-result", KsefProblem).show_error(problem_text(event.worker.error or RuntimeError()))

    def cancel(self) -> bool:
        if self.running is not None and self.running.is_running:
            self.running.cancel()
            return True
        return False


def _read(paths: dict[str, Path | None], input_id: str) -> bytes | None:
    """The bytes of the file named in ``input_id``; ``None`` when there is no such file yet."""
    path = paths[input_id]
    if path is None or not path.is_file():
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationFailed({input_id: _("{name} is too large for a certificate or key.").format(name=path.name)})
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationFailed({input_id: _("Cannot read {path}: {reason}").format(
            path=display_path(path), reason=exc.strerror)}) from None


def _material(pkcs12: bool, paths: dict[str, Path | None], typed: str) -> CertificateFiles | None:
    """The chosen files for the service, or ``None`` while files are missing (reads the files)."""
    password = Secret(typed) if typed else None
    if pkcs12:
        data = _read(paths, "p12-file")
        return None if data is None else CertificateFiles(pkcs12_data=data, password=password)
    cert = _read(paths, "cert-file")
    if cert is None:
        return None
    key = _read(paths, "key-file")
    if key is None and b"PRIVATE KEY" not in cert:
        return None
    return CertificateFiles(cert_data=cert, key_data=key, password=password)


def _checked_material(ctx: AppContext, pkcs12: bool, paths: dict[str, Path | None], typed: str) -> CertificateFiles:
    """In a thread: the files, strictly checked (opens, key matches, valid now); else ValidationFailed."""
    material = _material(pkcs12, paths, typed)
    if material is None:
        raise ValidationFailed({"certificate": _("Choose the certificate and key files (or a PKCS#12 file) first.")})
    ctx.credentials.check_certificate(material)
    return material


class KsefCertPair(Horizontal):
    """The certificate forms of one company's environments: side by side when wide.

    It is mounted with its first form; :meth:`mount_next` mounts the next (the panel calls it a
    frame later, :class:`~ksef_tui.ui.common.frames.PartPerFrame`): some 20 widgets each."""

    DEFAULT_CSS = """
    KsefCertPair {
        height: auto;
        layout: vertical;
        &.-wide { layout: horizontal; }
        &.-wide > KsefCertForm { width: 1fr; }
        /* half the width even while the second form is still coming: not drawn twice */
        &.-wide.-two > KsefCertForm { max-width: 50%; }
    }
    """

    WIDE = 100

    def __init__(self, ctx: AppContext, views: list[CredentialView], *, clock: Clock | None = None,
                 width: int = 0, id: str | None = None) -> None:
        # side by side from the start when the width it will have (``width``) says so: set at its first
        # resize, the class restyled its ~40 widgets and the screen laid them out and drew them again
        classes = {"-wide"} if width >= self.WIDE else set()
        if len(views) == 2:
            classes.add("-two")
        super().__init__(id=id, classes=" ".join(sorted(classes)))
        self.ctx = ctx
        self.views = views
        self.clock: Clock = clock or ctx.clock

    def compose(self) -> ComposeResult:
        if self.views:  # the others: mount_next
            yield KsefCertForm(self.ctx, self.views[0], clock=self.clock)

    def mount_next(self) -> AwaitMount | None:
        """The form of the next environment without one, as it is now; ``None`` if all are there."""
        shown = {form.view.environment for form in self.forms()}
        view = next((v for v in self.views if v.environment not in shown), None)
        return None if view is None else self.mount(KsefCertForm(self.ctx, view, clock=self.clock))

    def set_view(self, view: CredentialView) -> None:
        """``view`` is its environment's now: in its form, or in the form still to come."""
        self.views = [view if v.environment is view.environment else v for v in self.views]
        for form in self.forms():
            if form.view.environment is view.environment:
                form.set_view(view)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= self.WIDE, "-wide")

    def forms(self) -> list[KsefCertForm]:
        return list(self.query(KsefCertForm))

    def cancel(self) -> bool:
        return any([form.cancel() for form in self.forms()])
