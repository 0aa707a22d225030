"""The offline demo: simulators on loopback, environments pointed at them, working credentials,
and the simulated Profil Zaufany signing files saved in the demo's Downloads folder."""

import asyncio

from ksef_tui.domain.environments import Environment
from ksef_tui.services.users import UserFilter


def test_demo_prepares_working_credentials_and_signs_downloads(ctx, tmp_path):
    from ksef_tui.demo.environment import prepare

    demo = prepare(ctx, tmp_path / "Downloads", companies=30, users=40, credentials=4)
    try:
        for env in Environment:
            assert ctx.credentials.connections.endpoint_url(env).startswith("http://127.0.0.1:")
        from ksef_tui.demo.environment import DEMO_KSEF_USERS
        from ksef_tui.store.models import KsefCredential

        demo_users = {u.id for u in ctx.users.page(ctx.actor, UserFilter(), 0, 100)
                      if u.login in {d.login for d in DEMO_KSEF_USERS}}
        assert len(demo_users) == len(DEMO_KSEF_USERS)
        with ctx.db.session() as s:
            rows = [(r.user_id, r.company_id, Environment(r.environment)) for r in s.query(KsefCredential)
                    if r.user_id not in demo_users]
        assert len(rows) == 6  # 4 DEMO tokens, 2 PRODUCTION certificates (besides the named demo users')
        for uid, cid, env in rows[:2]:
            assert asyncio.run(ctx.credentials.test_authorization(ctx.actor, uid, cid, env)).ok
        uid, cid, env = rows[0]
        prepared = asyncio.run(ctx.profil_zaufany.prepare_signed_file(ctx.actor, uid, cid, Environment.DEMO, tmp_path / "Downloads"))
        signed = demo.sign_file(prepared.path)
        view = asyncio.run(ctx.profil_zaufany.token_from_signed_file(ctx.actor, uid, cid, Environment.DEMO, signed.read_bytes(),
                                                                  expected_challenge=prepared.challenge))
        assert view.token_status == "Active"
    finally:
        demo.stop()


def test_the_demo_session_puts_the_callers_master_key_back(monkeypatch):
    """The demo's own master key lasts as long as the demo: a key left in the process's environment
    named a key that no longer existed and took the key file's place for everything after (the
    office's key rotation then failed with 'The master key comes from KSEF_TUI_MASTER_KEY')."""
    import os

    from ksef_tui.demo.environment import demo_session
    from ksef_tui.vault.envelope import MASTER_KEY_ENV

    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    with demo_session(companies=2, users=2, simulator=False):
        assert os.environ.get(MASTER_KEY_ENV)
    assert MASTER_KEY_ENV not in os.environ
    monkeypatch.setenv(MASTER_KEY_ENV, "the caller's")
    with demo_session(companies=2, users=2, simulator=False):
        assert os.environ[MASTER_KEY_ENV] != "the caller's"
    assert os.environ[MASTER_KEY_ENV] == "the caller's"
