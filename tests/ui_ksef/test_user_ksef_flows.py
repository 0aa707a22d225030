"""Pilot tests: every KSeF flow of the user's KSeF screen, end to end against the simulator.

Nothing is mocked here: the services, the gateway and two simulators (one playing DEMO,
the other PRODUCTION) do the work; Profil Zaufany signs outside the app.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from textual import events
from textual.widgets import Button, Checkbox, Input, Select

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.ui.ksef.cert_form import KsefCertForm
from ksef_tui.ui.ksef.panel import KsefCredentialPanel
from ksef_tui.ui.ksef.pz_wizard import GOV_PL_SIGN_URL, ProfilZaufanyWizard
from ksef_tui.ui.ksef.status import KsefProblem, KsefSteps
from ksef_tui.ui.ksef.token_form import TokenInput
from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
from ksef_tui.ui.widgets.virtual_table import VirtualTable

from .conftest import NIP, OTHER_NIP, PESEL, Panel, Sims, host, settle, wait_until

SIZE = (80, 24)


def screen(pilot) -> UserKsefScreen:
    s = pilot.app.screen_stack[1]
    assert isinstance(s, UserKsefScreen)
    return s


def status(pilot, env: Environment, company: str = "Alfa") -> str:
    s = screen(pilot)
    key = next(k for k, v in s.views.items() if v.environment is env and v.company_name.startswith(company))
    return s.cell(key, "status")


def panel_of(pilot) -> KsefCredentialPanel:
    return screen(pilot).query_one(KsefCredentialPanel)


def cert_form(pilot, env: Environment) -> KsefCertForm:
    return screen(pilot).query_one(f"#cert-{env.value.lower()}", KsefCertForm)


async def go_to_row(pilot, env: Environment, company: str = "Alfa") -> None:
    """Move the table cursor to the row of ``company`` × ``env``; the form follows once it rests."""
    s = screen(pilot)
    table = s.table
    table.focus()
    keys = list(s.views)
    target = next(k for k, v in s.views.items() if v.environment is env and v.company_name.startswith(company))
    table.move_cursor(keys.index(target))

    def shown() -> bool:
        panel = s.panel_widget()
        return s.current == target and panel is not None and panel.ready

    await wait_until(pilot, shown, f"the form of {target}")
    await pilot.pause()


async def paste_token(pilot, text: str) -> None:
    token_input = screen(pilot).query_one(TokenInput)
    token_input.focus()
    token_input.post_message(events.Paste(text))
    await pilot.pause()


async def save_token(pilot, env: Environment, token: str) -> None:
    """Choose the environment's row, paste the token into its form and save it (Enter), as a user does."""
    await go_to_row(pilot, env)
    await pilot.press("enter")
    await paste_token(pilot, token)
    await pilot.press("enter")
    await settle(pilot)  # the save worker (KSeF checks a token replacing a working one) and the row updated


def write_pem_pair(tmp_path: Path, nip: str, name: str = "anna") -> tuple[Path, Path]:
    from ksef_tui.ksef.testcert import make_test_certificate

    cert, key = make_test_certificate(nip=nip, key="ec", given_name="Anna", surname="Nowak")
    cert_path, key_path = tmp_path / f"{name}-cert.pem", tmp_path / f"{name}-key.pem"
    cert_path.write_bytes(cert)
    key_path.write_bytes(key.reveal())
    return cert_path, key_path


async def choose_certificate_method(pilot) -> None:
    panel = panel_of(pilot)
    panel.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
    await wait_until(pilot, lambda: panel.ready and bool(panel.query("#cert-pair")), "the certificate forms")


async def open_pkcs12_form(pilot, env: Environment) -> KsefCertForm:
    """The row of ``env`` with its certificate form open in PKCS#12 mode."""
    await settle(pilot)
    await go_to_row(pilot, env)
    await choose_certificate_method(pilot)
    form = cert_form(pilot, env)
    form.query_one("#cert-p12-mode", Checkbox).value = True
    await settle(pilot)
    return form


# ------------------------------------------------------------------- the table


async def test_table_lists_companies_by_environment(panel: Panel) -> None:
    app = host(panel)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        s = screen(pilot)
        table = s.table
        assert table.row_count == 4
        rows = [[s.cell(k, c) for c in ("company", "nip", "env", "method", "status")] for k in s.views]
        assert [r[2] for r in rows] == ["DEMO", "PROD", "DEMO", "PROD"]
        assert rows[0][4] == "not configured" and rows[2][4] == "KSeF off for the company"
        assert rows[2][0] == "Beta [/] S.A."  # markup in a name is shown, not parsed
        # the KSeF-off company: the form only points to the company
        await go_to_row(pilot, Environment.DEMO, "Beta")
        rule = panel_of(pilot).query_one("#panel-rule", KsefProblem)
        assert rule.kind == "error" and "switched off for Beta [/] S.A." in rule.plain
        assert "Additional data" in rule.plain
        # enter goes to the form of the selected row, escape back to the table, again: leaves
        await go_to_row(pilot, Environment.DEMO)
        await pilot.press("enter")
        assert isinstance(app.focused, TokenInput)
        await pilot.press("escape")
        assert isinstance(app.focused, VirtualTable)
        await pilot.press("escape")
        assert not isinstance(app.screen, UserKsefScreen)


async def test_api_v1_is_refused_with_its_date(panel: Panel) -> None:
    from ksef_tui.domain.clock import fixed_clock

    # the notice's words depend on the day: a fixed one before the policy's last day
    async with host(panel, clock=fixed_clock("2026-12-03")).run_test(size=SIZE) as pilot:
        await settle(pilot)
        select = panel_of(pilot).query_one("#panel-version", Select)
        select.value = "1.0"
        await settle(pilot)
        rule = panel_of(pilot).query_one("#panel-rule", KsefProblem)
        assert rule.kind == "error" and "switched off on 26 Jan 2026" in rule.plain
        assert select.value == "2.0"
        notice = str(panel_of(pilot).query_one("#token-notice").render())
        assert "KSeF tokens issued before 2027 work until 30 Nov 2027" in notice and "left" in notice
        assert "announced by MF" in notice and "31 Dec 2026" in notice  # the regulation's date, named as such


# --------------------------------------------------------------------- tokens


async def test_pasted_token_is_saved_masked_and_authorizes(panel: Panel, sims: Sims) -> None:
    token = sims.demo.issue_ksef_token(context_nip=NIP)
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        # a bracketed paste split over lines, with spaces around
        await paste_token(pilot, "  " + token[:40] + "\n" + token[40:] + " \r\n")
        token_input = screen(pilot).query_one(TokenInput)
        assert token_input.value == token and token_input.password
        form = screen(pilot).query_one("#token-form")
        assert form.check_message.startswith("Looks right")
        await pilot.press("enter")  # saves
        await settle(pilot)  # in the save worker; the field is emptied and the row updated when it is saved
        assert token_input.value == ""
        assert status(pilot, Environment.DEMO) == f"token ••••••••{token[-4:]}"
        saved = str(form.query_one("#token-saved").render())
        assert token[-4:] in saved and token[:-4] not in saved
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert view.method is AuthMethod.TOKEN and view.token_last4 == token[-4:]
        # nothing on screen shows the token's secret part (the reference number is not secret)
        secret = token.rsplit("|", 1)[1]
        shot = pilot.app.export_screenshot()
        assert secret[:20] not in shot and secret[-20:] not in shot and secret[-8:] not in shot
        await pilot.press("escape")  # back to the table, where t tests
        await pilot.press("t")
        await settle(pilot)
        result = panel_of(pilot).query_one("#test-result", KsefProblem)
        assert result.kind == "ok", result.plain
        steps = panel_of(pilot).query_one("#test-steps", KsefSteps)
        assert steps.outcome == "ok" and steps.plain.count("✓") == 5
        assert status(pilot, Environment.DEMO).startswith("authorized until ")


async def test_keys_pressed_while_the_rows_form_is_coming_act_once_it_is_there(panel: Panel, sims: Sims) -> None:
    """The form comes a part per frame after the row is chosen: `t` and Enter pressed in between are
    not lost (and raise nothing): the test runs, and the focus lands in the form, once it is there."""
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO,
                               sims.demo.issue_ksef_token(context_nip=NIP))
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        s = screen(pilot)
        demo = next(k for k, v in s.views.items() if v.environment is Environment.DEMO)
        s.current = None
        s.show_row(demo)  # the row's form made again, as when the cursor comes to rest on it
        shown = s.panel_widget()
        assert shown is not None and not shown.ready
        s.action_test()  # `t`
        s.focus_form()  # Enter
        await wait_until(pilot, lambda: shown.ready, "the form")
        await settle(pilot)
        assert shown.query_one("#test-result", KsefProblem).kind == "ok"
        assert pilot.app.focused is shown.query_one(TokenInput)


async def test_wrong_token_shows_450_with_hint_and_environments_stay_apart(panel: Panel, sims: Sims) -> None:
    prod_token = sims.prod.issue_ksef_token(context_nip=NIP)  # valid only on PRODUCTION
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        for env in (Environment.DEMO, Environment.PRODUCTION):
            await save_token(pilot, env, prod_token)
        await go_to_row(pilot, Environment.DEMO)
        await pilot.press("t")
        await settle(pilot)
        result = panel_of(pilot).query_one("#test-result", KsefProblem)
        assert result.kind == "error"
        assert "450" in result.plain and "The KSeF token is wrong" in result.plain  # message + hint
        assert status(pilot, Environment.DEMO).startswith("failing: ")
        await go_to_row(pilot, Environment.PRODUCTION)
        await pilot.press("t")
        await settle(pilot)
        assert panel_of(pilot).query_one("#test-result", KsefProblem).kind == "ok"
        assert status(pilot, Environment.PRODUCTION).startswith("authorized until ")
        assert status(pilot, Environment.DEMO).startswith("failing: ")



async def test_wrong_token_test_authorization_speaks_polish(panel: Panel, sims: Sims) -> None:
    """Issue 14 item 12: "Test authorization" in Polish says KSeF's 450 in Polish; the sentence is made in
    the panel's worker thread, in the language chosen when it is said."""
    from ksef_tui import i18n

    prod_token = sims.prod.issue_ksef_token(context_nip=NIP)  # valid only on PRODUCTION: DEMO answers 450
    i18n.set_language("pl")  # reset to English after the test (conftest)
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await save_token(pilot, Environment.DEMO, prod_token)
        await go_to_row(pilot, Environment.DEMO)
        await pilot.press("t")
        await settle(pilot)
        result = panel_of(pilot).query_one("#test-result", KsefProblem)
        await wait_until(pilot, lambda: result.kind == "error", "the result of the test")
        text = " ".join(result.plain.split())
        assert "Uwierzytelnianie w KSeF zakończone niepowodzeniem, status 450 (błędny token KSeF)" in text, text
        assert "Token KSeF jest błędny" in text  # the hint
        assert "authentication failed" not in text and "bad KSeF token" not in text

async def test_token_format_checked_inline_and_refused(panel: Panel) -> None:
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.press(*"abc")
        form = screen(pilot).query_one("#token-form")
        assert "not a KSeF token" in form.check_message
        await pilot.press("enter")
        assert "not a KSeF token" in form.check_message
        assert not panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO).configured
        other = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-" + OTHER_NIP + "|" + "a" * 64
        screen(pilot).query_one(TokenInput).value = ""
        await paste_token(pilot, other)
        assert "made for NIP 776-281-16-92" in form.check_message


# ------------------------------------------------------------ Profil Zaufany


async def _wizard_to_step_3(pilot, panel: Panel, sims: Sims, tmp_path: Path) -> ProfilZaufanyWizard:
    sims.demo.testdata_person({"nip": NIP, "pesel": PESEL, "isBailiff": False, "description": "owner"})
    screen(pilot).query_one("#token-wizard", Button).press()
    await pilot.pause()
    wizard = pilot.app.screen
    assert isinstance(wizard, ProfilZaufanyWizard)
    # step 1: the file saved where the user says (default: Downloads)
    out = wizard.query_one("#pz-out", Input)
    assert out.value == "~/Downloads/"
    out.value = str(tmp_path) + "/"
    await pilot.press("enter")  # in the folder field: generate
    await settle(pilot)
    assert wizard.prepared is not None, wizard.query_one("#pz-1-result", KsefProblem).plain
    unsigned = wizard.prepared.path
    assert unsigned == tmp_path / f"ksef-auth-{NIP}-DEMO.xml" and unsigned.is_file()
    assert "Time left to sign and load the file: 09:" in str(wizard.query_one("#pz-countdown").render())
    # step 2: where and how to sign on gov.pl
    wizard.query_one("#pz-next", Button).press()
    await pilot.pause()
    assert wizard.step == 2
    step2 = str(wizard.query_one("#pz-url").render()) + str(wizard.query_one("#pz-2-text").render())
    assert GOV_PL_SIGN_URL in step2 and unsigned.name in step2
    wizard.query_one("#pz-next", Button).press()
    await pilot.pause()
    assert wizard.step == 3
    # the user signs at gov.pl, outside the app, and downloads the signed file
    signed = sims.demo.sign_as_trusted_profile(unsigned.read_bytes(), pesel=PESEL, given_name="Anna",
                                               surname="Nowak")
    signed_path = tmp_path / "signed" / "ksef-auth-signed.xml"
    signed_path.parent.mkdir()
    signed_path.write_bytes(signed)
    # the unsigned file is refused at once
    field = wizard.query_one("#pz-signed", Input)
    field.value = str(unsigned)
    await settle(pilot)
    assert wizard.query_one("#pz-3-check", KsefProblem).kind == "error"
    field.value = str(signed_path)
    await settle(pilot)
    check = wizard.query_one("#pz-3-check", KsefProblem)
    assert check.kind == "ok" and "Signed file OK" in check.plain, check.plain
    return wizard


async def test_profil_zaufany_three_steps_give_an_active_token(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        wizard = await _wizard_to_step_3(pilot, panel, sims, tmp_path)
        assert wizard.permissions() == ("InvoiceRead", "InvoiceWrite")
        wizard.query_one("#pz-get", Button).press()
        await settle(pilot)
        result = wizard.query_one("#pz-result", KsefProblem)
        assert result.kind == "ok", result.plain
        assert wizard.query_one("#pz-progress", KsefSteps).plain.count("✓") == 7
        assert "status Active" in result.plain
        await pilot.press("escape")  # closes, returning the saved credential
        await settle(pilot)  # the row told of it; back on the screen, a worker reads what changed meanwhile
        assert isinstance(pilot.app.screen, UserKsefScreen)
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert view.method is AuthMethod.TOKEN and view.token_status == "Active"
        assert set(view.token_permissions) == {"InvoiceRead", "InvoiceWrite"}
        assert status(pilot, Environment.DEMO) == f"token {view.token_masked}"
        # and the new token works
        screen(pilot).table.focus()
        await pilot.press("t")
        await settle(pilot)
        assert panel_of(pilot).query_one("#test-result", KsefProblem).kind == "ok"


async def test_profil_zaufany_can_enroll_a_certificate_instead(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        wizard = await _wizard_to_step_3(pilot, panel, sims, tmp_path)
        assert "Recommended: enroll a KSeF certificate instead" in str(wizard.query_one("#pz-recommend").render())
        wizard.query_one("#pz-enroll", Button).press()
        await settle(pilot)
        result = wizard.query_one("#pz-result", KsefProblem)
        assert result.kind == "ok", result.plain
        assert "Authorized until" in result.plain
        wizard.query_one("#pz-close", Button).press()
        await settle(pilot)  # the row told of it; back on the screen, a worker reads what changed meanwhile
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert view.method is AuthMethod.CERTIFICATE and view.has_certificate
        assert status(pilot, Environment.DEMO).startswith("authorized until ")


async def test_wizard_escape_cancels_then_closes(panel: Panel, tmp_path: Path) -> None:
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", status_delay_s=30.0))
    sim = app.state.sim
    sim.testdata_person({"nip": NIP, "pesel": PESEL, "isBailiff": False, "description": "owner"})
    with serve_in_thread(app) as server:
        panel.ctx.credentials.connections.set_endpoint(panel.ctx.actor, Environment.DEMO, server.base_url)
        async with host(panel).run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen(pilot).query_one("#token-wizard", Button).press()
            await pilot.pause()
            wizard = pilot.app.screen
            assert isinstance(wizard, ProfilZaufanyWizard)
            wizard.query_one("#pz-out", Input).value = str(tmp_path) + "/"
            wizard.generate()
            await settle(pilot)
            signed = sim.sign_as_trusted_profile(wizard.prepared.path.read_bytes(), pesel=PESEL,
                                                 given_name="Anna", surname="Nowak")
            (tmp_path / "signed.xml").write_bytes(signed)
            wizard.show_step(3)
            wizard.query_one("#pz-signed", Input).value = str(tmp_path / "signed.xml")
            await settle(pilot)
            wizard.get_access_token()
            steps = wizard.query_one("#pz-progress", KsefSteps)
            await wait_until(pilot, lambda: steps.done >= 2, "the file was sent")  # KSeF keeps it at 100
            await pilot.press("escape")
            await settle(pilot)
            assert steps.outcome == "cancelled"
            assert "nothing was saved" in wizard.query_one("#pz-result", KsefProblem).plain
            assert pilot.app.screen is wizard
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(pilot.app.screen, UserKsefScreen)
            assert not panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa,
                                                 Environment.DEMO).configured


# ---------------------------------------------------------------- certificates


async def test_certificate_from_pem_is_inspected_authorized_and_saved(panel: Panel, sims: Sims,
                                                                      tmp_path: Path) -> None:
    cert_path, key_path = write_pem_pair(tmp_path, NIP)
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await choose_certificate_method(pilot)
        form = cert_form(pilot, Environment.DEMO)
        assert {f.view.environment for f in screen(pilot).query(KsefCertForm)} == {Environment.DEMO,
                                                                                  Environment.PRODUCTION}
        form.query_one("#cert-file", Input).value = str(cert_path)
        await settle(pilot)
        assert "Choose the key file" in form.facts_plain
        form.query_one("#key-file", Input).value = str(key_path)
        await settle(pilot)
        facts = form.facts_plain
        assert "Anna Nowak" in facts and "NIP 526-587-76-35" in facts and "matches the certificate" in facts
        assert "days left" in facts
        form.query_one("#cert-authorize", Button).press()
        await settle(pilot)
        result = form.query_one("#cert-result", KsefProblem)
        assert result.kind == "ok", result.plain
        assert "authorized until" in result.plain
        assert form.query_one("#cert-steps", KsefSteps).plain.count("✓") == 5
        assert status(pilot, Environment.DEMO).startswith("authorized until ")
        assert "authorized until" in str(form.query_one("#cert-saved").render())
        assert status(pilot, Environment.PRODUCTION) == "not configured"  # DEMO only
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert view.method is AuthMethod.CERTIFICATE and view.cert_identifier == f"TINPL-{NIP}"


async def test_certificate_from_pkcs12_on_production(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    from ksef_tui.ksef.testcert import make_test_certificate

    cert_pem, key_pem = make_test_certificate(nip=NIP, key="ec", given_name="Anna", surname="Nowak")
    p12 = pkcs12.serialize_key_and_certificates(
        b"anna", serialization.load_pem_private_key(key_pem.reveal(), None),
        x509.load_pem_x509_certificate(cert_pem), None, serialization.BestAvailableEncryption(b"tajne-haslo-1"))
    p12_path = tmp_path / "anna.p12"
    p12_path.write_bytes(p12)
    async with host(panel).run_test(size=(120, 40)) as pilot:
        form = await open_pkcs12_form(pilot, Environment.PRODUCTION)
        form.query_one("#p12-file", Input).value = str(p12_path)
        await settle(pilot)
        assert form.facts is None and form.query_one("#cert-facts").has_class("-error")  # no password yet
        password = form.query_one("#cert-password", Input)
        assert password.password
        password.value = "tajne-haslo-1"
        await settle(pilot)
        assert form.facts is not None and form.facts.key_matches and form.facts.nip == NIP
        form.query_one("#cert-authorize", Button).press()
        await settle(pilot)
        assert form.query_one("#cert-result", KsefProblem).kind == "ok"
        assert password.value == ""  # not kept on screen
        assert status(pilot, Environment.PRODUCTION).startswith("authorized until ")
        assert status(pilot, Environment.DEMO) == "not configured"
        assert "tajne-haslo-1" not in pilot.app.export_screenshot()


async def test_failed_reauthorization_keeps_the_working_certificate(panel: Panel, sims: Sims,
                                                                   tmp_path: Path) -> None:
    good_cert, good_key = write_pem_pair(tmp_path, NIP, "good")
    bad_cert, bad_key = write_pem_pair(tmp_path, OTHER_NIP, "other")  # no rights in Alfa's context
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await choose_certificate_method(pilot)
        form = cert_form(pilot, Environment.DEMO)
        form.query_one("#cert-file", Input).value = str(good_cert)
        form.query_one("#key-file", Input).value = str(good_key)
        form.authorize()
        await settle(pilot)
        before = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert before.last_auth_ok
        form.query_one("#cert-file", Input).value = str(bad_cert)
        form.query_one("#key-file", Input).value = str(bad_key)
        await settle(pilot)
        form.authorize()
        await settle(pilot)
        result = form.query_one("#cert-result", KsefProblem)
        assert result.kind == "error" and "previous setting still works" in result.plain
        assert form.query_one("#cert-steps", KsefSteps).outcome == "failed"
        after = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert after.cert_fingerprint == before.cert_fingerprint and after.version == before.version
        form.query_one("#cert-file", Input).focus()
        await pilot.press("escape")  # from the form to the table
        assert isinstance(pilot.app.focused, VirtualTable)
        await go_to_row(pilot, Environment.DEMO)
        await pilot.press("t")
        await settle(pilot)
        assert panel_of(pilot).query_one("#test-result", KsefProblem).kind == "ok"


async def test_mismatched_key_is_shown_and_refused(panel: Panel, tmp_path: Path) -> None:
    cert_a, _key_a = write_pem_pair(tmp_path, NIP, "a")
    _cert_b, key_b = write_pem_pair(tmp_path, NIP, "b")
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await choose_certificate_method(pilot)
        form = cert_form(pilot, Environment.DEMO)
        form.query_one("#cert-file", Input).value = str(cert_a)
        form.query_one("#key-file", Input).value = str(key_b)
        await settle(pilot)
        assert "does NOT match the certificate" in form.facts_plain
        form.authorize()
        await settle(pilot)
        result = form.query_one("#cert-result", KsefProblem)
        assert result.kind == "error" and result.plain.startswith("Key: ")
        assert not panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO).configured


async def test_escape_cancels_a_certificate_authorization(panel: Panel, tmp_path: Path) -> None:
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    cert_path, key_path = write_pem_pair(tmp_path, NIP)
    app = create_app(SimulatorConfig(mode="test", status_delay_s=30.0))
    with serve_in_thread(app) as server:
        panel.ctx.credentials.connections.set_endpoint(panel.ctx.actor, Environment.DEMO, server.base_url)
        async with host(panel).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await choose_certificate_method(pilot)
            form = cert_form(pilot, Environment.DEMO)
            form.query_one("#cert-file", Input).value = str(cert_path)
            form.query_one("#key-file", Input).value = str(key_path)
            form.query_one("#cert-authorize", Button).focus()
            form.authorize()
            steps = form.query_one("#cert-steps", KsefSteps)
            await wait_until(pilot, lambda: steps.done >= 3, "the request was sent")
            assert panel_of(pilot).busy
            await pilot.press("escape")
            await settle(pilot)
            assert steps.outcome == "cancelled"
            assert "nothing was saved" in form.query_one("#cert-result", KsefProblem).plain
            assert isinstance(pilot.app.screen, UserKsefScreen)  # Esc cancelled, did not leave
            assert not panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa,
                                                 Environment.DEMO).configured


async def test_switching_the_method_uses_the_saved_material(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    from ksef_tui.ksef.testcert import make_test_certificate

    ctx = panel.ctx
    token = sims.demo.issue_ksef_token(context_nip=NIP)
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, token)
    cert, key = make_test_certificate(nip=NIP, key="ec")
    ctx.credentials.save_certificate(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO,
                                     CertificateFiles(cert_data=cert, key_data=key.reveal()))
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        s = screen(pilot)
        assert s.cell(f"{panel.alfa}:DEMO", "method") == "Cert."
        panel_of(pilot).query_one("#panel-method", Select).value = AuthMethod.TOKEN.value
        await settle(pilot)
        assert ctx.credentials.get(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO).method is AuthMethod.TOKEN
        assert s.cell(f"{panel.alfa}:DEMO", "method") == "Token"
        await pilot.press("t")
        await settle(pilot)
        assert panel_of(pilot).query_one("#test-result", KsefProblem).kind == "ok"


async def test_screen_runs_inside_the_panel_app(panel: Panel) -> None:
    from ksef_tui.ui.app import KsefApp

    app = KsefApp(panel.ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(UserKsefScreen(panel.ctx, panel.user_id))
        await settle(pilot)
        assert isinstance(app.screen, UserKsefScreen) and app.screen.table.row_count == 4
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, UserKsefScreen)
