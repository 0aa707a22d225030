"""Why 1 and 4: the demo is complete and explains itself (issue 14, item 1).

Its own folder holds everything it writes and is gone afterwards; Profil Zaufany files from every
path (the user's screen, the client's view, the dashboard's enrollment) are signed by the simulated
gov.pl; the README and the login screen name demo users with a working token, a working
certificate whose files are in the folder, a failing one, and one on TEST.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, press_button, settle, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"


def demo_user(ctx: AppContext, login: str):
    from ksef_tui.services.users import UserFilter

    rows = ctx.users.page(ctx.actor, UserFilter(text=login), 0, 5)
    row = next(r for r in rows if r.login == login)
    views = ctx.credentials.overview(ctx.actor, row.id)
    return row, views


def test_the_demo_folder_holds_everything_and_is_removed(monkeypatch, tmp_path):
    from ksef_tui.demo.environment import demo_session
    from ksef_tui.vault.envelope import MASTER_KEY_ENV

    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    home = Path(os.environ["HOME"])
    before = sorted(p for p in home.rglob("*"))
    with demo_session(companies=30, users=10, fast=True) as ctx:
        folder = Path(ctx.options["demo_folder"])
        downloads = Path(ctx.options["downloads_dir"])
        assert downloads.parent == folder and folder.name.startswith("ksef-tui-demo-")
        names = {p.name for p in downloads.iterdir()}
        assert {"demo-cert-DEMO.crt", "demo-cert-DEMO.key", "demo-cert-PRODUCTION.crt",
                "demo-cert-PRODUCTION.key", "demo-new-DEMO-token.txt"} <= names
        for path in downloads.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not folder.exists()
    assert sorted(p for p in home.rglob("*")) == before  # nothing written in the home folder


def test_demo_users_have_what_the_readme_says(demo: AppContext):
    ctx = demo
    downloads = Path(ctx.options["downloads_dir"])
    readme = README.read_text("utf-8")
    for item in ctx.options["demo_ksef_users"]:
        assert f"`{item.login}`" in readme, item.login

    def test(login: str, env: Environment):
        row, views = demo_user(ctx, login)
        view = next(v for v in views if v.environment is env)
        return asyncio.run(ctx.credentials.test_authorization(ctx.actor, row.id, view.company_id, env)), view

    assert test("demo-token", Environment.DEMO)[0].ok
    assert test("demo-cert", Environment.PRODUCTION)[0].ok
    assert test("demo-test", Environment.TEST)[0].ok
    _row, views = demo_user(ctx, "demo-test")
    assert Environment.TEST in {v.environment for v in views}  # TEST shows in the user's table
    _row, views = demo_user(ctx, "demo-failing")
    failing = next(v for v in views if v.environment is Environment.DEMO)
    assert failing.last_auth_ok is False  # the dashboard's "Last authorization failed" has it
    assert not test("demo-failing", Environment.DEMO)[0].ok

    # the certificate files in Downloads authorize demo-cert on DEMO (nothing saved there yet)
    row, views = demo_user(ctx, "demo-cert")
    view = next(v for v in views if v.environment is Environment.DEMO)
    assert not view.configured
    files = CertificateFiles(cert_data=(downloads / "demo-cert-DEMO.crt").read_bytes(),
                             key_data=(downloads / "demo-cert-DEMO.key").read_bytes())
    saved = asyncio.run(ctx.credentials.authorize_certificate(ctx.actor, row.id, view.company_id,
                                                              Environment.DEMO, files))
    assert saved.last_auth_ok
    # and the token to paste is demo-new's, for DEMO
    row, views = demo_user(ctx, "demo-new")
    view = next(v for v in views if v.environment is Environment.DEMO)
    token = (downloads / "demo-new-DEMO-token.txt").read_text().strip()
    ctx.credentials.save_token(ctx.actor, row.id, view.company_id, Environment.DEMO, token)
    assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, row.id, view.company_id,
                                                          Environment.DEMO)).ok


async def test_login_screen_and_help_name_the_demo_users_and_folder(demo: AppContext):
    app = KsefApp(demo, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        hint = str(app.screen.query_one("#login-demo-hint").render())
        for item in demo.options["demo_ksef_users"]:
            assert item.login in hint
        assert "Demo folder" in hint
        await pilot.press(*"admin", "tab", *"admin-demo", "enter")
        await wait_until(pilot, lambda: app.current_mode == "companies", "the panel")
        await settle(pilot)  # the list has its rows before the key, as a person sees them
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: bool(app.screen.query("#help-demo")), "the help")
        text = str(app.screen.query_one("#help-demo").render())
        assert demo.options["demo_folder"] in text
        for item in demo.options["demo_ksef_users"]:
            assert f"{item.login} — {item.describe()}" in text


async def wizard_walk(pilot, downloads: Path) -> None:
    """The three Profil Zaufany steps as the wizard leads a newcomer through them, in the demo."""
    from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard

    app = pilot.app
    wizard = app.screen
    assert isinstance(wizard, ProfilZaufanyWizard)
    await pilot.press("enter")  # "Generate the file" has the focus
    await wait_until(pilot, lambda: wizard.prepared is not None, "step 1's file")
    assert wizard.prepared.path.parent == downloads  # the demo's Downloads, where gov.pl signs
    await pilot.press("enter")  # Next → (focused after generating)
    step2 = str(wizard.query_one("#pz-2-text").render())
    assert "In the demo, files saved in" in step2 and "signed within a second" in step2
    await press_button(pilot, "#pz-next")
    assert wizard.step == 3
    twin = wizard.signed_twin()
    await wait_until(pilot, lambda: twin.exists(), "the simulated gov.pl signed the file")
    await pilot.press("enter")  # the signed file's path is filled in: Enter loads it
    await wait_until(pilot, lambda: wizard.signed is not None, "the signed file checked")
    await press_button(pilot, "#pz-get")
    await wait_until(pilot, lambda: wizard.result is not None, "the access token")
    await settle(pilot)


async def test_profil_zaufany_from_the_user_screen_is_signed_in_the_demo(demo: AppContext):
    from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard

    downloads = Path(demo.options["downloads_dir"])
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-new")
        await pilot.press("enter")  # the DEMO row's form: the token field
        await press_button(pilot, "#token-wizard")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfilZaufanyWizard), "the wizard")
        await wizard_walk(pilot, downloads)
        assert app.screen.result.token_status == "Active"


async def test_profil_zaufany_from_the_client_view_is_signed_in_the_demo(demo: AppContext):
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen
    from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard

    downloads = Path(demo.options["downloads_dir"])
    app = KsefApp(demo, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"client", "tab", *"client-demo", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen), "the client view")
        await settle(pilot)
        await pilot.press("down", "enter")  # the first company's PRODUCTION row: nothing there yet
        await press_button(pilot, "#token-wizard")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfilZaufanyWizard), "the wizard")
        assert app.screen.view.environment is Environment.PRODUCTION
        await wizard_walk(pilot, downloads)
        assert app.screen.result.token_status == "Active"


async def test_dashboard_enrollment_files_are_signed_in_the_demo(demo: AppContext):
    from ksef_tui.ui.common.dialogs import PlanDialog
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen
    from ksef_tui.ui.ksef.cert_types import CertificateTypesDialog

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("n")  # the numbers behind the picture
        counts = app.screen.counts_table()
        rows = counts.source.rows
        token_row = next(i for i, r in enumerate(rows) if r.environment is Environment.DEMO and r.bucket == "token")
        counts.move_cursor(token_row)
        await pilot.press("enter")  # its rows; the cursor on the first
        await settle(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, CertificateTypesDialog), "which KSeF certificates")
        await pilot.press("enter")  # Authentication, as ticked
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the question")
        await press_button(pilot, "#all")  # "Enroll 1 certificate" (Cancel has the focus)
        await wait_until(pilot, lambda: isinstance(app.screen, BulkRunScreen), "the enrollment screen")
        screen = app.screen
        assert screen.folder.is_relative_to(Path(demo.options["downloads_dir"]))
        await wait_until(pilot, lambda: screen.report is not None, "every row finished")
        assert screen.report.counts["ok"] == 1, screen.report.results
