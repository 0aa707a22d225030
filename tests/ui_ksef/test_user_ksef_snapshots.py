"""Snapshots of the user's KSeF screen at 80x24 (the smallest terminal) and 120x40.

The clock is frozen (``FROZEN``), certificates are the fixed files in ``data/`` and the
token is a fixed example; in the Profil Zaufany wizard the service calls that would give a
random challenge are replaced by fixed results (behaviour is tested for real in
test_user_ksef_flows.py). Update with ``pytest tests/ui_ksef --snapshot-update`` and open
and read every SVG that changed: no token, key or password may appear in one.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef.views import CertificateFiles, PreparedFile, SignedFileCheck
from ksef_tui.ui.ksef.cert_form import KsefCertForm
from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard
from ksef_tui.ui.ksef.token_form import KsefTokenForm, TokenInput

from .conftest import DATA, FROZEN, NIP, Panel, host, no_blink, settle, wait_until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
TOKEN = ("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|"
         "919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9")
SECRET = TOKEN.rsplit("|", 1)[1]


def frozen() -> dt.datetime:
    return FROZEN


def app_for(panel: Panel):
    return host(panel, clock=frozen)


def _screen(pilot: Pilot):
    return pilot.app.screen_stack[1]


async def _form_of(pilot: Pilot, key: str) -> None:
    """The form follows the table's cursor once it rests: wait until it shows ``key``."""
    s = _screen(pilot)

    def shown() -> bool:
        panel = s.panel_widget()
        return s.current == key and panel is not None and panel.ready

    await wait_until(pilot, shown, f"the form of {key}")
    await pilot.pause()


async def _ready(pilot: Pilot) -> None:
    await settle(pilot)
    no_blink(pilot.app)
    await pilot.pause()


@pytest.fixture
def saved(panel: Panel) -> Panel:
    """Alfa DEMO has a saved token; Alfa PRODUCTION a saved certificate (fixed files)."""
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, TOKEN)
    cred = CertificateFiles(cert_data=(DATA / "anna-cert.pem").read_bytes(),
                                            key_data=(DATA / "anna-key.pem").read_bytes())
    ctx.credentials.save_certificate(ctx.actor, panel.user_id, panel.alfa, Environment.PRODUCTION, cred)
    return panel


def _downloads() -> Path:
    folder = Path.home() / "Downloads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --------------------------------------------------------------------- the table


@pytest.mark.parametrize("size", SIZES)
def test_table_and_masked_token_form(snap_compare, saved: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("enter")  # to the token field of Alfa DEMO
        await pilot.pause()

    assert snap_compare(app_for(saved), terminal_size=size, run_before=run_before)


#: the day after the default token policy's last day (30 Nov 2027)
AFTER_POLICY = dt.datetime(2027, 12, 1, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("size", SIZES)
def test_token_form_after_the_policy_date(snap_compare, saved: Panel, size) -> None:
    """1 Dec 2027: the token is "expired by policy" (not "0 days left") and the notice says so."""
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(host(saved, clock=lambda: AFTER_POLICY), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_pasted_token_checked_inline(snap_compare, panel: Panel, size) -> None:
    from textual import events

    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("enter")
        field = _screen(pilot).query_one(TokenInput)
        field.post_message(events.Paste(TOKEN[:60] + "\n" + TOKEN[60:] + "\n"))
        await pilot.pause()
        no_blink(pilot.app)

    assert snap_compare(app_for(panel), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_api_v1_refused(snap_compare, panel: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        _screen(pilot).query_one("#panel-version", Select).value = "1.0"
        await settle(pilot)

    assert snap_compare(app_for(panel), terminal_size=size, run_before=run_before)


# ------------------------------------------------------------------ certificates


@pytest.mark.parametrize("size", SIZES)
def test_certificate_form_with_details(snap_compare, panel: Panel, size) -> None:
    folder = _downloads()
    for name in ("anna-cert.pem", "anna-key.pem"):
        shutil.copy(DATA / name, folder / name)

    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        s = _screen(pilot)
        s.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
        await settle(pilot)  # the certificate forms come a frame apart
        form = s.query_one("#cert-demo", KsefCertForm)
        form.query_one("#cert-file", Input).value = "~/Downloads/anna-cert.pem"
        form.query_one("#key-file", Input).value = "~/Downloads/anna-key.pem"
        form.query_one("#cert-password", Input).value = "not-needed-but-masked"
        await settle(pilot)
        form.query_one("#cert-authorize", Button).focus()
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(app_for(panel), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_pkcs12_form_with_details(snap_compare, panel: Panel, size) -> None:
    folder = _downloads()
    shutil.copy(DATA / "anna.p12", folder / "anna.p12")

    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        s = _screen(pilot)
        table = s.table
        table.move_cursor(1)  # Alfa PRODUCTION
        await _form_of(pilot, list(s.views)[1])
        s.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
        await settle(pilot)  # the certificate forms come a frame apart
        form = s.query_one("#cert-production", KsefCertForm)
        form.query_one("#cert-p12-mode").value = True
        form.query_one("#p12-file", Input).value = "~/Downloads/anna.p12"
        form.query_one("#cert-password", Input).value = "p12-snapshot-password"
        await settle(pilot)  # the file is opened with the password in a thread (the inspect worker)
        form.query_one("#cert-authorize", Button).focus()
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(app_for(panel), terminal_size=size, run_before=run_before)


# ------------------------------------------------------------- error with hint


@pytest.fixture
def failing(panel: Panel, sims) -> Panel:
    """A token the DEMO simulator does not know: test authorization gives 450 and its hint."""
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, TOKEN)
    return panel


@pytest.mark.parametrize("size", SIZES)
def test_error_with_hint(snap_compare, failing: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("t")  # the result comes into view by itself, as on a user's 80x24 terminal
        s = _screen(pilot)
        result, form = s.query_one("#test-result"), s.query_one("#ksef-form")
        await wait_until(pilot, lambda: result.has_class("-error"), "the test's result")
        # all of it, to its last line (a scroll made while it was one line high stopped short of it)
        await wait_until(pilot, lambda: form.region.contains_region(result.region), "the whole result in view")
        await settle(pilot)
        await pilot.pause()

    assert snap_compare(app_for(failing), terminal_size=size, run_before=run_before)


# ------------------------------------------------------------ Profil Zaufany


@pytest.fixture
def pz(panel: Panel, monkeypatch) -> Panel:
    """Fixed answers for the calls that would give a random challenge (no network)."""
    service = panel.ctx.profil_zaufany
    expires = FROZEN + dt.timedelta(minutes=10)

    async def prepare(actor, user_id, company_id, env, out_path, *, base_url=None):
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(b"<AuthTokenRequest/>")
        return PreparedFile(out_path, "20261124-CR-0000000000-0000000000-00", expires, NIP, env)

    def check(signed, prepared=None, *, nip=None):
        return SignedFileCheck("20261124-CR-0000000000-0000000000-00", f"Nip {NIP}", 1)

    async def get_token(actor, user_id, company_id, env, signed, *, expected_challenge=None, permissions=(),
                        description=None, progress=None, base_url=None):
        for step in ("signed", "sent", "status", "redeemed", "token", "active"):
            progress(step)
        return panel.ctx.credentials.save_token(actor, user_id, company_id, env, TOKEN, permissions=permissions,
                                  status="Active", action="credential.token_obtained")

    monkeypatch.setattr(service, "prepare_signed_file", prepare)
    monkeypatch.setattr(service, "check_signed_file", check)
    monkeypatch.setattr(service, "token_from_signed_file", get_token)
    (_downloads() / "ksef-auth-signed.xml").write_bytes(b"<signed/>")
    return panel


async def _open_wizard(pilot: Pilot) -> ProfilZaufanyWizard:
    await _ready(pilot)
    _screen(pilot).query_one(KsefTokenForm).open_wizard()  # not Button.press(): its flash is timed
    await pilot.pause()
    wizard = pilot.app.screen
    assert isinstance(wizard, ProfilZaufanyWizard)
    return wizard


async def _generated(pilot: Pilot) -> ProfilZaufanyWizard:
    wizard = await _open_wizard(pilot)
    wizard.generate()
    await settle(pilot)
    wizard.clock = lambda: FROZEN + dt.timedelta(seconds=48)
    wizard.refresh_countdown()
    no_blink(pilot.app)
    await pilot.pause()
    return wizard


@pytest.mark.parametrize("size", SIZES)
def test_pz_step_1_before(snap_compare, pz: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _open_wizard(pilot)
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(app_for(pz), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_pz_step_1_generated(snap_compare, pz: Panel, size) -> None:
    assert snap_compare(app_for(pz), terminal_size=size, run_before=_generated)


@pytest.mark.parametrize("size", SIZES)
def test_pz_step_2_sign_at_gov_pl(snap_compare, pz: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        wizard = await _generated(pilot)
        wizard.next_step()
        await pilot.pause()

    assert snap_compare(app_for(pz), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_pz_step_3_signed_file_loaded(snap_compare, pz: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        wizard = await _generated(pilot)
        wizard.show_step(3)
        wizard.query_one("#pz-signed", Input).value = "~/Downloads/ksef-auth-signed.xml"
        wizard.query_one("#pz-get", Button).focus()
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(app_for(pz), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_pz_result_token_saved(snap_compare, pz: Panel, size) -> None:
    async def run_before(pilot: Pilot) -> None:
        wizard = await _generated(pilot)
        wizard.show_step(3)
        wizard.query_one("#pz-signed", Input).value = "~/Downloads/ksef-auth-signed.xml"
        await pilot.pause()
        wizard.get_access_token()
        await settle(pilot)

    assert snap_compare(app_for(pz), terminal_size=size, run_before=run_before)


def test_no_secret_in_any_snapshot() -> None:
    folder = Path(__file__).parent / "__snapshots__"
    if folder.is_dir():
        for sub in folder.rglob("*.svg"):
            text = sub.read_text()
            assert SECRET[:-4] not in text and SECRET[-12:] not in text, sub
            assert "p12-snapshot-password" not in text and "not-needed-but-masked" not in text, sub
            assert "PRIVATE KEY" not in text, sub
