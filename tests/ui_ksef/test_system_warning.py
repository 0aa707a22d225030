"""KSeF's non-blocking warnings (``X-System-Warning``, API 2.6+) reach the user: in the panel's test
result, in the service's outcome and in ``ksef check`` (issue 11 item 6, gateway side)."""

from __future__ import annotations

import json

from ksef_tui.domain.environments import Environment
from ksef_tui.ui.ksef.panel import KsefCredentialPanel
from ksef_tui.ui.ksef.status import KsefProblem
from tests.warning_proxy import warning_proxy

from .conftest import NIP, Panel, Sims, host, settle, wait_until

WARNING = "[W7]: Planowana przerwa techniczna 12.12.2026"


async def test_test_authorization_shows_ksefs_warning(panel: Panel, sims: Sims) -> None:
    ctx = panel.ctx
    token = sims.demo.issue_ksef_token(context_nip=NIP)
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, token)
    with warning_proxy(sims.demo_url, WARNING) as url:
        ctx.credentials.connections.set_endpoint(ctx.actor, Environment.DEMO, url)
        outcome = await ctx.credentials.test_authorization(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO)
        assert outcome.ok and outcome.warnings == ("[W7] Planowana przerwa techniczna 12.12.2026",)
        async with host(panel).run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            await pilot.press("t")
            result = pilot.app.screen.query_one(KsefCredentialPanel).query_one("#test-result", KsefProblem)
            await wait_until(pilot, lambda: result.kind in ("ok", "error"), "the test result")
            assert result.kind == "ok", result.plain
            assert "KSeF warns: [W7] Planowana przerwa techniczna 12.12.2026" in result.plain


def test_ksef_check_lists_ksefs_warnings(panel: Panel, sims: Sims, capsys) -> None:
    from ksef_tui.cli import main as cli_main

    ctx = panel.ctx
    token = sims.demo.issue_ksef_token(context_nip=NIP)
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, token)
    with warning_proxy(sims.demo_url, WARNING) as url:
        ctx.credentials.connections.set_endpoint(ctx.actor, Environment.DEMO, url)
        code = cli_main(["--database", ctx.db.url, "ksef", "check", "--env", "DEMO", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["ksef_warnings"] == ["[W7] Planowana przerwa techniczna 12.12.2026"]
        cli_main(["--database", ctx.db.url, "ksef", "check", "--env", "DEMO"])
        assert "KSeF warns: [W7] Planowana przerwa techniczna 12.12.2026" in capsys.readouterr().out
