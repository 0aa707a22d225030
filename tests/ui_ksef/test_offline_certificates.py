"""Pilot tests of Offline KSeF certificates (issue 11 acceptance): enrolling one through the Profil
Zaufany wizard, the Companies list's offline-ready column, and an Offline certificate refused as a
login certificate with its message. Against the simulator; nothing mocked."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Checkbox, Input

from ksef_tui.domain.auth import AuthMethod
from ksef_tui.domain.environments import Environment
from ksef_tui.ui.ksef.status import KsefProblem, KsefSteps

from .conftest import PESEL, Panel, Sims, host, settle
from .test_user_ksef_flows import SIZE, _wizard_to_step_3, cert_form, choose_certificate_method


async def test_enrolling_an_offline_certificate(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        wizard = await _wizard_to_step_3(pilot, panel, sims, tmp_path)
        wizard.query_one("#pz-type-auth", Checkbox).value = False
        wizard.query_one("#pz-enroll", Button).press()  # no type chosen: said, nothing sent
        await pilot.pause()
        assert "Choose the certificate type" in wizard.query_one("#pz-3-check", KsefProblem).plain
        assert wizard.step == 3
        wizard.query_one("#pz-type-offline", Checkbox).value = True
        wizard.query_one("#pz-enroll", Button).press()
        await settle(pilot)
        result = wizard.query_one("#pz-result", KsefProblem)
        assert result.kind == "ok", result.plain
        assert "Offline certificate" in result.plain and "never logs in" in result.plain
        assert wizard.query_one("#pz-progress", KsefSteps).plain.count("✓") == 6
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert view.offline_serial and view.offline_serial in result.plain
        assert not view.configured  # no login was set up: an Offline certificate does not log in
        issued = sims.demo.state.certificates[view.offline_serial]
        assert issued.certificate_type == "Offline"


async def test_the_companies_list_shows_who_is_offline_ready(panel: Panel, sims: Sims, tmp_path: Path) -> None:
    from ksef_tui.services.ksef.offline import OFFLINE, store_typed_certificate
    from ksef_tui.services.ksef.views import CertificateFiles
    from tests.pilot import PanelApp

    ctx = panel.ctx
    cert_pem, key_pem = sims.prod.issue_ksef_certificate(pesel=PESEL, given_name="Anna", surname="Nowak",
                                                         certificate_type="Offline")
    credential = ctx.credentials.load_certificate(CertificateFiles(cert_data=cert_pem.encode(),
                                                                   key_data=key_pem.encode()), for_login=False)
    with ctx.db.session() as s:
        store_typed_certificate(s, ctx.credentials.vaults.vault(), ctx.actor, panel.user_id, panel.alfa,
                                Environment.PRODUCTION, credential, OFFLINE, name="offline", now=ctx.clock())
    from ksef_tui.ui.companies.companies import CompaniesScreen, offline_cell
    from ksef_tui.ui.widgets.virtual_table import VirtualTable

    async with PanelApp(ctx, None).run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, CompaniesScreen)
        assert any(c.key == "offline" and c.label == "Offline" for c in screen.columns())
        rows = screen.query_one(VirtualTable).loaded_rows()
        assert {r.name: offline_cell(r).plain for r in rows} == {"Alfa Sp. z o.o.": "PROD", "Beta [/] S.A.": "—"}

    # the dashboard: its picture's offline-ready line, and the count behind it (n)
    from ksef_tui.services.ksef import dashboard as dash
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen

    async with PanelApp(ctx, lambda: KsefDashboardScreen(clock=ctx.clock)).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        line = str(screen.query_one("#dashboard-bars").render())
        assert "Offline-ready companies: DEMO 0 of 1 · PRODUCTION 1 of 1" in line  # of companies with KSeF on
        await pilot.press("n")
        await settle(pilot)
        held = {r.environment: r.count for r in screen.counts_table().loaded_rows() if r.bucket == dash.OFFLINE}
        assert held == {Environment.DEMO: 0, Environment.PRODUCTION: 1}


async def test_an_offline_certificate_is_refused_as_a_login_certificate(panel: Panel, sims: Sims,
                                                                        tmp_path: Path) -> None:
    cert_pem, key_pem = sims.demo.issue_ksef_certificate(pesel=PESEL, given_name="Anna", surname="Nowak",
                                                         certificate_type="Offline")
    cert_path, key_path = tmp_path / "offline.pem", tmp_path / "offline.key"
    cert_path.write_text(cert_pem)
    key_path.write_text(key_pem)
    async with host(panel).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await choose_certificate_method(pilot)
        form = cert_form(pilot, Environment.DEMO)
        form.query_one("#cert-file", Input).value = str(cert_path)
        form.query_one("#key-file", Input).value = str(key_path)
        await settle(pilot)
        assert "KSeF Offline certificate — cannot log in" in form.facts_plain
        form.query_one("#cert-authorize", Button).press()
        await settle(pilot)
        result = form.query_one("#cert-result", KsefProblem)
        assert result.kind == "error", result.plain
        assert result.plain.startswith("Certificate: This is a KSeF Offline certificate")
        assert "can never log in to KSeF" in result.plain and "Nothing was saved" in result.plain
        view = panel.ctx.credentials.get(panel.ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert not view.configured and view.method is not AuthMethod.CERTIFICATE
