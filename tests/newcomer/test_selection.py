"""Why 6 and 7: selection you can see, and a confirmation for what cannot be undone or costs KSeF's
limits (issue 14, items 5 and 6).

Before: 2 "off" companies selected, `k` (KSeF: on) showed "2 selected of 298" and `o` acted on them
unseen; in the dashboard the selection survived category changes ("37 selected", 12 visible, `t` ran
37) and Esc, `i`, `a` could not clear it; "Revoke 25 tokens" revoked 1 without saying why 24 were
skipped; `e` started enrollment for every selected row without a question."""

from __future__ import annotations

from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import press_button, settle, wait_until


def _status(app) -> str:
    return str(app.screen.query_one("#status").render())


async def test_companies_hidden_selection_is_counted_named_and_asked(demo: AppContext):
    from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu, SerialResultDialog
    from ksef_tui.ui.companies.companies import CompaniesScreen

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompaniesScreen)
        await pilot.press("o")  # nothing selected: it says so
        await settle(pilot)
        assert any("Select companies first" in str(n.message) for n in app._notifications)
        # two companies with KSeF off, then the filter "KSeF: on" hides them
        await pilot.press("k", "k")
        await wait_until(pilot, lambda: screen.ksef_filter is False and not screen.filter_pending, "KSeF: off")
        await settle(pilot)
        off = [screen.table.cursor_row.name]
        await pilot.press("space")
        off.append(screen.table.cursor_row.name)
        await pilot.press("space")
        await pilot.press("k", "k")  # all, then on
        await wait_until(pilot, lambda: screen.ksef_filter is True, "KSeF: on")
        await wait_until(pilot, lambda: "hidden by the filter" in _status(app), "the hidden ones counted")
        assert _status(app).startswith("2 selected (2 hidden by the filter) of")
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the menu")
        await pilot.press("enter")  # Enable KSeF
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        dialog = app.screen
        text = str(dialog.query_one("#plan-question").render()) + str(dialog.query_one("#plan-lines").render())
        assert "Enable KSeF for 2 companies?" in text
        assert "2 will have KSeF switched on" in text
        assert "2 of them are hidden by the filter: " in text
        for name in off:
            assert name in text
        assert not dialog.query("#shown")  # none of them is shown: nothing "only shown" to offer
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialResultDialog), "the result")
        note = str(app.screen.query_one(".result-note").render())
        assert "Of these, 2 were hidden by the filter." in note


async def test_companies_english_plurals_for_one(demo: AppContext):
    from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "o")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the menu")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        assert str(app.screen.query_one("#plan-question").render()) == "Enable KSeF for 1 company?"


def _move_to_certificate(ctx: AppContext, login: str) -> None:
    """demo-token's DEMO row: a certificate saved beside its token (as after an enrollment)."""
    from ksef_tui.services.ksef.views import CertificateFiles
    from ksef_tui.services.users import UserFilter

    user = next(r for r in ctx.users.page(ctx.actor, UserFilter(text=login), 0, 5) if r.login == login)
    view = next(v for v in ctx.credentials.overview(ctx.actor, user.id) if v.environment is Environment.DEMO)
    cert, key = ctx.options["demo_ksef"].sim(Environment.DEMO).issue_ksef_certificate(
        nip=view.nip, given_name="Jan", surname="Demo")
    ctx.credentials.save_certificate(ctx.actor, user.id, view.company_id, Environment.DEMO,
                                     CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))


async def _open_count(pilot, env: Environment, bucket: str) -> None:
    screen = pilot.app.screen
    rows = screen.counts_table().source.rows
    screen.counts_table().focus()
    screen.counts_table().move_cursor(next(i for i, r in enumerate(rows)
                                           if r.environment is env and r.bucket == bucket))
    await pilot.press("enter")
    await settle(pilot)


def _title(app) -> str:
    return str(app.screen.query_one("#dashboard-rows-title").render())


async def test_dashboard_selection_clears_counts_other_buckets_and_revoke_says_why(demo: AppContext):
    from ksef_tui.ui.common.dialogs import PlanDialog
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen

    _move_to_certificate(demo, "demo-token")
    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        await _open_count(pilot, Environment.DEMO, "token")
        tokens = len(screen.bucket_keys)
        assert tokens >= 3
        await pilot.press("a")
        assert len(screen.selection) == tokens and f"{tokens} selected" in _title(app)
        await pilot.press("i")  # inverted within the count: none left
        assert not screen.selection
        await pilot.press("space", "space", "i")  # two, inverted: the others
        assert len(screen.selection) == tokens - 2
        await pilot.press("escape")  # clears
        assert not screen.selection and "0 selected" in _title(app)
        await pilot.press("a")
        await _open_count(pilot, Environment.DEMO, "token-to-revoke")
        assert len(screen.bucket_keys) == 1
        await pilot.press("space")
        assert f"{tokens + 1} selected ({tokens} in other counts)" in _title(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        dialog = app.screen
        text = str(dialog.query_one("#plan-question").render()) + str(dialog.query_one("#plan-lines").render())
        assert f"of {tokens + 1} chosen rows?" in text
        assert "1 token will be revoked in KSeF" in text and "cannot be undone" in text
        assert f"{tokens} skipped: Still logs in with the token; move it to a certificate first." in text
        assert f"{tokens} of them are hidden by the filter" in text
        assert str(dialog.query_one("#all").label) == "Revoke 1 token"
        assert dialog.focused.id == "cancel"  # Enter would cancel
        await press_button(pilot, "#all")
        await wait_until(pilot, lambda: isinstance(app.screen, BulkRunScreen), "the run")
        run = app.screen
        await wait_until(pilot, lambda: run.report is not None and not run.running, "the revocation")
        assert run.report.counts["ok"] == 1 and run.report.counts["skipped"] == tokens
        assert all(r.message == "Still logs in with the token; move it to a certificate first."
                   for r in run.report.results if r.status == "skipped")


async def test_dashboard_enrollment_and_many_tests_are_confirmed_with_the_count(demo: AppContext):
    from ksef_tui.ui.common.dialogs import PlanDialog
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen
    from ksef_tui.ui.ksef.cert_types import CertificateTypesDialog

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        await _open_count(pilot, Environment.DEMO, "token")
        n = len(screen.bucket_keys)
        await pilot.press("a", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, CertificateTypesDialog), "which KSeF certificates")
        await pilot.press("enter")  # Authentication, as ticked
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the enrollment question")
        text = str(app.screen.query_one("#plan-lines").render())
        assert f"Enroll KSeF certificates for {n} chosen rows?" in str(app.screen.query_one("#plan-question").render())
        assert f"{n} log in with a token only: a Profil Zaufany file each is saved in" in text
        assert app.screen.focused.id == "cancel"
        await pilot.press("enter")  # cancelled: nothing ran
        await settle(pilot)
        assert not isinstance(app.screen, (PlanDialog, BulkRunScreen))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the test question")
        assert f"{n} will be authorized in KSeF" in str(app.screen.query_one("#plan-lines").render())
        assert str(app.screen.query_one("#all").label) == f"Test {n} rows"
        await pilot.press("escape")
