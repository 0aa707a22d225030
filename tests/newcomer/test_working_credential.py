"""Why 2: a pasted token never replaces a working credential silently (issue 14, item 2).

Before: on a row whose token was Active and worked, a well-formed fake token + Enter was saved at
once, and the next test failed with 450: the good token was gone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import events

from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp

from .conftest import open_user, settle, wait_until


def _row(ctx: AppContext, login: str, env: Environment):
    from ksef_tui.services.users import UserFilter

    user = next(r for r in ctx.users.page(ctx.actor, UserFilter(text=login), 0, 5) if r.login == login)
    view = next(v for v in ctx.credentials.overview(ctx.actor, user.id) if v.environment is env)
    return user.id, view.company_id


def _forged(view_token: str) -> str:
    """The same reference and NIP, a wrong secret: well-formed, refused by KSeF."""
    return view_token.rsplit("|", 1)[0] + "|" + "0" * 64


def _saved_token(ctx: AppContext, uid: int, cid: int, env: Environment) -> str:
    from ksef_tui.store.models import KsefCredential

    with ctx.db.session() as s:
        row = s.query(KsefCredential).filter_by(user_id=uid, company_id=cid, environment=env.value).one()
        return ctx.credentials.open_material(row).reveal()


def test_service_keeps_the_working_token_when_the_new_one_fails(demo: AppContext):
    ctx, env = demo, Environment.DEMO
    uid, cid = _row(ctx, "demo-token", env)
    assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, uid, cid, env)).ok  # it works
    good = _saved_token(ctx, uid, cid, env)
    done = asyncio.run(ctx.credentials.replace_token(ctx.actor, uid, cid, env, _forged(good)))
    assert done.saved is None and done.trial is not None and not done.trial.ok
    assert done.kept is not None and done.kept.token_masked.endswith(good[-4:])
    assert _saved_token(ctx, uid, cid, env) == good  # nothing changed
    assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, uid, cid, env)).ok
    # a token KSeF accepts replaces it, and its authorization is recorded
    new = Path(ctx.options["downloads_dir"], "demo-new-DEMO-token.txt").read_text().strip()
    uid2, cid2 = _row(ctx, "demo-new", env)
    assert asyncio.run(ctx.credentials.replace_token(ctx.actor, uid2, cid2, env, new)).saved is not None  # nothing there: saved
    assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, uid2, cid2, env)).ok
    other = _forged(new)  # a failing token where a working one is: refused, the working one stays
    assert asyncio.run(ctx.credentials.replace_token(ctx.actor, uid2, cid2, env, other)).saved is None
    assert _saved_token(ctx, uid2, cid2, env) == new


def test_cli_refuses_to_replace_a_working_token_with_a_failing_one(demo: AppContext, tmp_path, capsys):
    from ksef_tui.cli import main

    ctx, env = demo, Environment.DEMO
    uid, cid = _row(ctx, "demo-token", env)
    assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, uid, cid, env)).ok
    good = _saved_token(ctx, uid, cid, env)
    nip = ctx.credentials.get(ctx.actor, uid, cid, env).nip
    bad = tmp_path / "bad.txt"
    bad.write_text(_forged(good))
    args = ["--database", str(ctx.db.url), "users", "ksef", "set", "demo-token", "--nip", nip, "--env", "DEMO",
            "--token-file", str(bad)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "KSeF refused the new token" in err and "--force" in err
    assert _saved_token(ctx, uid, cid, env) == good
    assert main([*args, "--force"]) == 0
    assert _saved_token(ctx, uid, cid, env) != good


async def test_pasting_a_failing_token_over_a_working_one_asks_and_keeps_it(demo: AppContext):
    from ksef_tui.ui.common.dialogs import ConfirmDialog
    from ksef_tui.ui.ksef.token_form import TokenInput

    ctx, env = demo, Environment.DEMO
    uid, cid = _row(ctx, "demo-token", env)
    good = _saved_token(ctx, uid, cid, env)
    app = KsefApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_user(pilot, "demo-token")
        screen = app.screen
        await pilot.press("t")  # a newcomer tests it first: it works
        await wait_until(pilot, lambda: screen.views[screen.current].last_auth_ok is True, "the test passed")
        await pilot.press("enter")  # to the token field
        field = screen.query_one(TokenInput)
        assert screen.focused is field
        app.post_message(events.Paste(_forged(good)))
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        dialog = app.screen
        text = str(dialog.query_one(".dialog-text").render())
        assert "KSeF refused the new token" in text and "kept" in text
        assert dialog.focused.id == "no"  # Enter keeps the working one
        await pilot.press("enter")
        await settle(pilot)
        assert _saved_token(ctx, uid, cid, env) == good
        assert "Kept the KSeF setting that works" in str(screen.query_one("#token-check").render())
        await pilot.press("escape", "t")  # back to the table, test again: still works
        await settle(pilot)
        await wait_until(pilot, lambda: "Authorized in KSeF" in str(screen.query_one("#test-result").render()),
                         "the old token still authorizes")
