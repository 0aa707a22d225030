"""Every screen of the panel at 80x24, visited with the keys a newcomer presses, and what its footer
shows (issue 14: "footers fit at 80 columns in both languages").

The panel's key descriptions are translated when their modules are imported (``ksef-tui --lang pl``
sets the language first), so the Polish walk runs in a process of its own started in Polish
(:func:`run_in_language`), exactly as the user starts the panel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def footer_line(app) -> tuple[str, list[str]]:
    """The footer of the current screen as drawn (one line of text) and what does not fit in it: a key
    cut at the right edge or drawn over another (the command palette's key is docked right)."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footers = [f for f in app.screen.query(Footer) if f.display]
    if not footers:
        return "", []
    footer = footers[0]
    width = footer.region.width
    line = [" "] * width
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for key in footer.query(FooterKey):
        text = key.render().plain
        x = key.region.x - footer.region.x
        label = f"{key.key_display} {key.description}".strip()
        if key.region.width < len(text) or x + len(text) > width or x < 0:
            problems.append(f"cut: {label!r}")
        for start, end, other in spans:
            if x < end and start < x + len(text):
                problems.append(f"over each other: {other!r} and {label!r}")
        spans.append((x, x + len(text), label))
        for i, ch in enumerate(text):
            if 0 <= x + i < width:
                line[x + i] = ch
    return "".join(line).rstrip(), problems


class Walk:
    """Records the footer of each screen the walk reaches."""

    def __init__(self, app, pilot) -> None:
        self.app = app
        self.pilot = pilot
        self.footers: dict[str, str] = {}
        self.problems: list[str] = []

    async def look(self, name: str, screen_type: type | None = None) -> None:
        from tests.pilot import settle, wait_until

        if screen_type is not None:
            await wait_until(self.pilot, lambda: isinstance(self.app.screen, screen_type), name)
        await settle(self.pilot)
        await self.pilot.pause()
        line, problems = footer_line(self.app)
        self.footers[name] = line
        self.problems += [f"{name}: {p}" for p in problems]


def company_of(ctx, login: str) -> str:
    """The name of the company of ``login``'s first KSeF row (the demo users each have one)."""
    from ksef_tui.services.users import UserFilter

    user = next(r for r in ctx.users.page(ctx.actor, UserFilter(text=login), 0, 5) if r.login == login)
    return ctx.credentials.overview(ctx.actor, user.id)[0].company_name


async def walk_admin(ctx) -> Walk:
    """Login, then every section and the screens opened from them, as the README walks them."""
    from textual.widgets import TabbedContent

    from ksef_tui.domain.environments import Environment
    from ksef_tui.ui.accounts.login import LoginScreen
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.audit.audit_log import AuditLogScreen
    from ksef_tui.ui.common.dialogs import PlanDialog
    from ksef_tui.ui.companies.companies import CompaniesScreen
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
    from ksef_tui.ui.ksef.bulk_run import BulkRunScreen
    from ksef_tui.ui.ksef.dashboard import KsefDashboardScreen
    from ksef_tui.ui.ksef.diagnosis import DiagnosisScreen
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
    from ksef_tui.ui.users.user_detail import UserDetailScreen
    from ksef_tui.ui.users.users import UsersScreen
    from tests.pilot import no_blink, settle, wait_until

    app = KsefApp(ctx, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        walk = Walk(app, pilot)
        no_blink(app)
        await walk.look("login", LoginScreen)
        await pilot.press(*"admin", "enter", *"admin-demo", "enter")
        await walk.look("companies", CompaniesScreen)
        await pilot.press("slash", *company_of(ctx, "demo-token"))  # a company with users in KSeF
        await wait_until(pilot, lambda: app.screen.table.row_count == 1 and not app.screen.filter_pending,
                         "the company found")
        await pilot.press("down", "enter")
        await walk.look("company: additional data", CompanyDetailScreen)
        app.screen.query_one(TabbedContent).active = "ksef"
        await settle(pilot)
        app.screen.query_one("#company-ksef").table.focus()  # as after Tab into the tab's table
        await walk.look("company: KSeF configuration")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash", "ctrl+u", "escape")  # the filter emptied
        await walk.look("companies again", CompaniesScreen)
        await pilot.press("f3")
        await walk.look("users", UsersScreen)
        await pilot.press("d")
        await walk.look("user: details", UserDetailScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "users again")
        await settle(pilot)
        await pilot.press("enter")
        await walk.look("user: KSeF", UserKsefScreen)
        await pilot.press("d")
        await walk.look("user: why not?", DiagnosisScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "back from why not")
        await pilot.press("escape")
        await pilot.press("f4")
        await walk.look("KSeF dashboard", KsefDashboardScreen)
        dashboard = app.screen
        await pilot.press("n")  # the numbers behind the picture
        await walk.look("KSeF dashboard: the numbers")
        rows = dashboard.counts_table().source.rows
        dashboard.counts_table().focus()
        dashboard.counts_table().move_cursor(next(i for i, r in enumerate(rows)
                                                  if r.environment is Environment.DEMO and r.bucket == "token"))
        await pilot.press("enter")
        await walk.look("KSeF dashboard: a count open")
        await pilot.press("space", "t")
        await wait_until(pilot, lambda: isinstance(app.screen, (PlanDialog, BulkRunScreen)), "the test")
        if isinstance(app.screen, PlanDialog):
            await pilot.press("tab", "enter")
        await walk.look("KSeF dashboard: a run", BulkRunScreen)
        run = app.screen
        await wait_until(pilot, lambda: not run.running, "the run's end")
        await walk.look("KSeF dashboard: a run finished")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, KsefDashboardScreen), "the dashboard again")
        await pilot.press("f7")
        await walk.look("audit log", AuditLogScreen)
        await pilot.press("escape")
        await settle(pilot)
    return walk


async def walk_client(ctx, login: str, password: str) -> Walk:
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen

    app = KsefApp(ctx, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        walk = Walk(app, pilot)
        await walk.look("login")
        await pilot.press(*login, "enter", *password, "enter")
        await walk.look(f"client view ({login})", ClientKsefScreen)
    return walk


def footers_of_every_screen() -> tuple[dict[str, str], list[str]]:
    """The demo as ``ksef-tui demo --login`` makes it (small), walked by the administrator and both
    demo clients."""
    import asyncio

    from ksef_tui.demo.environment import demo_session

    footers: dict[str, str] = {}
    problems: list[str] = []
    with demo_session(companies=40, users=30, logins=True, fast=True) as ctx:
        walks = [asyncio.run(walk_admin(ctx)),
                 asyncio.run(walk_client(ctx, "client", "client-demo")),
                 asyncio.run(walk_client(ctx, "blocked", "blocked-demo"))]
    for walk in walks:
        footers.update(walk.footers)
        problems += walk.problems
    return footers, problems


def run_in_language(language: str, function: str, tmp: Path) -> object:
    """``function`` (a name in this module, no arguments, returning JSON-able data) in a new process
    started in ``language`` (as ``ksef-tui --lang``), in its own home and config folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KSEF_TUI_", "LC_", "LANGUAGE"))}
    env.update(LANG="pl_PL.UTF-8" if language == "pl" else "en_US.UTF-8", HOME=str(tmp), TZ="UTC",
               PYTHONPATH=str(ROOT))
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(tmp / var.lower())
    code = ("import json, sys\n"
            "from ksef_tui import i18n\n"
            f"i18n.set_language({language!r})\n"
            "from tests.newcomer import walk\n"
            f"print('@@RESULT@@' + json.dumps(walk.{function}()))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0 or "@@RESULT@@" not in done.stdout:
        raise AssertionError(f"the {language} walk failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return json.loads(done.stdout.split("@@RESULT@@", 1)[1])


def compare_with(expected_file: Path, footers: dict[str, str], update: Callable[[], bool]) -> None:
    """The footers as text, one screen a line, compared with the reviewed file (``--snapshot-update``
    rewrites it: read the difference before committing)."""
    text = "".join(f"{name:<34}|{line}\n" for name, line in footers.items())
    if update():
        expected_file.write_text(text, encoding="utf-8")
    assert expected_file.exists(), f"{expected_file.name} missing: run with --snapshot-update and read it"
    assert text == expected_file.read_text(encoding="utf-8")


async def _language_leftovers(ctx) -> dict[str, object]:
    """What issue 14's item 12 found in English in the Polish panel: the command palette, the Ctrl+C
    prompt; and the environment as the seed names it."""
    from textual.command import CommandPalette
    from textual.widgets import Input, Select

    from ksef_tui.domain.auth import AuthMethod
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
    from tests.pilot import settle, wait_until

    found: dict[str, object] = {}
    app = KsefApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: bool(app._notifications), "the quit prompt")
        note = list(app._notifications)[-1]
        found["quit"] = [note.title, note.message]
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await settle(pilot)
        found["palette_placeholder"] = app.screen.query_one(Input).placeholder
        found["system_commands"] = [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("slash", *"demo-cert")
        await wait_until(pilot, lambda: getattr(app.screen.table.cursor_row, "login", None) == "demo-cert", "demo-cert")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-cert's KSeF screen")
        await settle(pilot)
        found["panel_titles"] = [str(s.render()) for s in app.screen.query("#panel-title")]
        # the certificate forms are there once Certificate is the login method shown
        app.screen.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
        await wait_until(pilot, lambda: len(app.screen.query("KsefCertForm")) == 2, "the certificate forms")
        found["form_titles"] = [str(w.border_title) for w in app.screen.query("KsefCertForm")]
    return found


def language_leftovers() -> dict[str, object]:
    import asyncio

    from ksef_tui.demo.environment import demo_session

    with demo_session(companies=10, users=10, logins=True, fast=True) as ctx:
        return asyncio.run(_language_leftovers(ctx))


# ------------------------------------------------------------------------------------------------
# The newcomer's walk: every seed flow from the README, at 80x24, as keys (issue 14's first acceptance
# line). Facts are language-neutral (states read through the services and the widgets), so the same
# walk runs in English (here) and in Polish (run_in_language).


async def _wizard(pilot, downloads: Path) -> tuple[bool, str]:
    """The three Profil Zaufany steps in the demo (the simulated gov.pl signs files saved in Downloads);
    at step 3 the newcomer first loads the wrong file (a copy of the unsigned one): what the panel says."""
    from tests.newcomer.conftest import press_button
    from tests.pilot import settle, wait_until

    wizard = pilot.app.screen
    await pilot.press("enter")  # step 1: "Generate the file" has the focus
    await wait_until(pilot, lambda: wizard.prepared is not None, "step 1's file")
    assert wizard.prepared.path.parent == downloads
    await pilot.press("enter")  # Next (focused after generating): step 2, sign at gov.pl
    await press_button(pilot, "#pz-next")  # step 3
    twin = wizard.signed_twin()
    await wait_until(pilot, lambda: twin.exists(), "the simulated gov.pl signed the file")
    field, check = wizard.query_one("#pz-signed"), wizard.query_one("#pz-3-check")
    filled = field.value
    unsigned_copy = downloads.parent / "copied-unsigned.xml"
    unsigned_copy.write_bytes(wizard.prepared.path.read_bytes())
    await pilot.press("ctrl+u", *str(unsigned_copy), "enter")
    await wait_until(pilot, lambda: check.kind == "error", "the unsigned copy refused")
    refused = check.plain
    await pilot.press("ctrl+u", *filled)
    await pilot.press("enter")  # the signed file's path is filled in: Enter loads it
    await wait_until(pilot, lambda: wizard.signed is not None, "the signed file checked")
    await press_button(pilot, "#pz-get")
    await wait_until(pilot, lambda: wizard.result is not None, "the access token")
    await settle(pilot)
    return wizard.result.token_status == "Active", refused


async def _row(pilot, env, *, company: str | None = None) -> None:
    """Arrows in the user's table to the row of ``env`` (and ``company``), as a newcomer moves."""
    from tests.pilot import settle, wait_until

    screen = pilot.app.screen
    screen.table.focus()
    rows = screen.table.source.rows
    target = next(i for i, r in enumerate(rows) if r.view.environment is env
                  and (company is None or r.view.company_name == company))
    while screen.table.cursor != target:
        await pilot.press("down" if screen.table.cursor < target else "up")
    await wait_until(pilot, lambda: screen.current == rows[target].key and screen.panel_widget() is not None,
                     "the row's form")
    await settle(pilot)


async def _admin_walk(ctx) -> dict[str, object]:
    from textual import events
    from textual.widgets import Input, Select

    from ksef_tui.domain.auth import AuthMethod
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.common.dialogs import PlanDialog, SerialMenu, SerialResultDialog
    from ksef_tui.ui.companies.companies import CompaniesScreen
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
    from ksef_tui.ui.ksef.pz_wizard import ProfilZaufanyWizard
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen
    from ksef_tui.ui.users.users import UsersScreen
    from tests.newcomer.conftest import open_user, press_button
    from tests.pilot import settle, wait_until

    facts: dict[str, object] = {}
    downloads = Path(ctx.options["downloads_dir"])
    app = KsefApp(ctx, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"admin", "tab", *"admin-demo", "enter")  # the README's administrator
        await wait_until(pilot, lambda: isinstance(app.screen, CompaniesScreen), "the panel")
        companies = app.screen
        await settle(pilot)
        facts["footer"] = footer_line(app)[0]
        # 1. KSeF for one company: k k (KSeF: off), Enter, the switch has the focus, space, ctrl+s
        await pilot.press("k", "k")
        await wait_until(pilot, lambda: companies.ksef_filter is False and not companies.filter_pending, "KSeF: off")
        await settle(pilot)
        one = companies.table.cursor_row
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompanyDetailScreen), "the company's form")
        await settle(pilot)
        await pilot.press("space", "ctrl+s")
        await wait_until(pilot, lambda: ctx.companies.get(ctx.actor, one.id).ksef_enabled, "KSeF on, saved")
        facts["one company enabled"] = True
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is companies, "the list")
        await settle(pilot)
        # 2. ... and by serial operation: two selected, o, Enable KSeF, confirmed
        await wait_until(pilot, lambda: not companies.filter_pending and companies.table.cursor_row is not None
                         and companies.table.cursor_row.id != one.id, "the list without it")
        two = [companies.table.cursor_row.id]
        await pilot.press("space")
        two.append(companies.table.cursor_row.id)
        await pilot.press("space", "o")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialMenu), "the serial operations")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanDialog), "the confirmation")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SerialResultDialog), "the result")
        await pilot.press("escape")
        facts["serial enabled"] = all(ctx.companies.get(ctx.actor, i).ksef_enabled for i in two)
        assert ctx.companies.count(ctx.actor, CompanyFilter(ksef=True)) >= 3
        # 3. paste a token (demo-new's, in Downloads) into demo-new's DEMO row
        await wait_until(pilot, lambda: app.screen is companies, "the list again")
        await settle(pilot)
        await open_user(pilot, "demo-new")
        user = app.screen
        await _row(pilot, Environment.DEMO)
        await pilot.press("enter")  # into the form: the token field
        app.post_message(events.Paste((downloads / "demo-new-DEMO-token.txt").read_text().strip()))
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: user.views[user.current].configured, "the token saved")
        await pilot.press("escape", "t")
        await wait_until(pilot, lambda: user.views[user.current].last_auth_ok is not None, "the test")
        facts["pasted token authorizes"] = user.views[user.current].last_auth_ok
        # 4. the three Profil Zaufany steps, on the PRODUCTION row (nothing there yet)
        await _row(pilot, Environment.PRODUCTION)
        await pilot.press("enter")
        await press_button(pilot, "#token-wizard")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfilZaufanyWizard), "the wizard")
        facts["profil zaufany token active"], facts["unsigned file refused"] = await _wizard(pilot, downloads)
        await press_button(pilot, "#pz-close")
        await wait_until(pilot, lambda: app.screen is user, "back from the wizard")
        await settle(pilot)
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "Users")
        await settle(pilot)
        # 5. certificate authorization with the demo's files: demo-cert's DEMO row
        await pilot.press("escape")  # leave the filter
        await open_user(pilot, "demo-cert")
        user = app.screen
        await _row(pilot, Environment.DEMO)
        panel = user.panel_widget()
        panel.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
        await wait_until(pilot, lambda: bool(panel.query("#cert-demo")), "the certificate forms")
        await settle(pilot)
        form = panel.query_one("#cert-demo")
        for field, name in (("#cert-file", "demo-cert-DEMO.crt"), ("#key-file", "demo-cert-DEMO.key")):
            form.query_one(field, Input).focus()
            await pilot.press(*str(downloads / name))
        await press_button(pilot, "#cert-authorize")
        result = form.query_one("#cert-result")
        await wait_until(pilot, lambda: result.kind in ("ok", "error"), "the certificate authorization")
        # the row told of the saved certificate, and the result scrolled into view after the next refresh
        # (call_after_refresh): what is on screen is looked at once they are done, not as the result comes
        await settle(pilot)
        facts["certificate authorizes"] = result.kind == "ok"
        facts["certificate result on screen"] = user.query_one("#ksef-form").region.contains_region(result.region)
        # 6. API 1.0 refused (demo-cert's PRODUCTION row)
        await _row(pilot, Environment.PRODUCTION)
        panel = user.panel_widget()
        panel.query_one("#panel-version", Select).value = "1.0"
        await settle(pilot)
        facts["api 1.0 refused"] = panel.query_one("#panel-rule").kind == "error"
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, UsersScreen), "Users again")
        await settle(pilot)
        # 7. from a company to its users: the Users filter takes the company's name
        users = app.screen
        name = company_of(ctx, "demo-token")
        await pilot.press("escape", "slash", *name)
        await wait_until(pilot, lambda: not users.filter_pending and "demo-token" in
                         {users.table.row_at(i).login for i in range(users.table.row_count)}, "the company's users")
        users.table.move_cursor([users.table.row_at(i).login for i in range(users.table.row_count)].index("demo-token"))
        users.table.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, UserKsefScreen), "demo-token's KSeF screen")
        await settle(pilot)
        facts["company to its users"] = any(v.company_name == name for v in app.screen.views.values())
    return facts


async def _client_walk(ctx, login: str, password: str) -> dict[str, object]:
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.ksef.client_ksef import ClientKsefScreen
    from tests.pilot import settle, wait_until

    app = KsefApp(ctx, login=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*login, "tab", *password, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ClientKsefScreen), "the client's view")
        screen = app.screen
        await wait_until(pilot, lambda: screen.panel_widget() is not None, "the form")
        await settle(pilot)
        return {"blocked": screen.blocked, "form usable": not screen.panel_widget().disabled,
                "sections": app.is_panel}


def newcomer_walk() -> dict[str, object]:
    """``ksef-tui demo --login`` (small), then the README's flows: the administrator's, a client's, the
    blocked client's."""
    import asyncio

    from ksef_tui.demo.environment import demo_session

    with demo_session(companies=40, users=30, logins=True, fast=True) as ctx:
        facts = asyncio.run(_admin_walk(ctx))
        facts["client"] = asyncio.run(_client_walk(ctx, "client", "client-demo"))
        facts["blocked client"] = asyncio.run(_client_walk(ctx, "blocked", "blocked-demo"))
    return facts
