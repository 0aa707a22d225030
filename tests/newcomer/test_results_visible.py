"""Why 5: at 80x24 results were below the fold (after ``t`` or "Perform certificate authorization" the
steps and result were not visible), and choosing the PROD row showed the DEMO certificate form first."""

from __future__ import annotations

from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, settle, wait_until


def _on_screen(app, widget) -> bool:
    """Drawn inside the part of the screen the user sees (its scrolling form's visible region)."""
    form = app.screen.query_one("#ksef-form")
    return widget.region.height > 0 and form.region.contains_region(widget.region)


async def _to_row(pilot, env: Environment, company: str | None = None) -> None:
    screen = pilot.app.screen
    rows = screen.table.source.rows
    index = next(i for i, r in enumerate(rows) if r.view.environment is env
                 and (company is None or r.view.company_name == company))
    screen.table.focus()
    screen.table.move_cursor(index)
    await wait_until(pilot, lambda: screen.current == rows[index].key and screen.panel_widget() is not None,
                     "the row's form")
    await settle(pilot)


async def test_test_authorization_result_is_scrolled_into_view_at_80x24(demo: AppContext):
    from ksef_tui.ui.ksef.status import KsefProblem

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-token")
        await _to_row(pilot, Environment.DEMO)
        result = app.screen.panel_widget().query_one("#test-result", KsefProblem)
        assert not _on_screen(app, result)  # below the fold before
        await pilot.press("t")
        await wait_until(pilot, lambda: result.kind == "ok", "the authorization")
        await settle(pilot)
        assert _on_screen(app, result), "the result is on screen"
        assert "Authorized in KSeF DEMO" in result.plain


async def test_the_production_row_shows_the_production_certificate_form(demo: AppContext):
    from ksef_tui.ui.ksef.cert_form import KsefCertForm

    app = KsefApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-cert")
        await _to_row(pilot, Environment.PRODUCTION)
        forms = {f.view.environment: f for f in app.screen.panel_widget().query(KsefCertForm)}
        assert set(forms) == {Environment.DEMO, Environment.PRODUCTION}
        production = forms[Environment.PRODUCTION]
        form = app.screen.query_one("#ksef-form")
        assert form.region.y <= production.region.y < form.region.bottom  # its top is on screen
        assert str(production.border_title) == "PRODUCTION"
