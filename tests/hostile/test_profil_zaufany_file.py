"""The Profil Zaufany step-1 file had a name anyone could guess in advance and was written through a
symlink planted at that name (another local user could read the request or make us overwrite a file of
theirs). Now: a name with the challenge's random part, 0600, and a symlink at the path is replaced,
never followed."""

from __future__ import annotations

import asyncio
import os
import stat

from ksef_tui.domain.environments import Environment
from tests.ui_ksef.conftest import sims  # noqa: F401  (fixture)


def test_the_step_one_file_has_an_unguessable_name_and_never_follows_a_symlink(panel, sims, tmp_path):  # noqa: F811
    ctx, pz = panel.ctx, panel.ctx.profil_zaufany

    def prepare(out):
        return asyncio.run(pz.prepare_signed_file(ctx.actor, panel.user_id, panel.alfa, Environment.DEMO, out))

    folder = tmp_path / "pz"
    folder.mkdir()
    first, second = prepare(folder), prepare(folder)
    assert first.path != second.path and first.path.parent == folder == second.path.parent
    assert first.challenge[-12:] in first.path.name  # the random part of KSeF's challenge
    for made in (first.path, second.path):
        assert stat.S_IMODE(os.stat(made).st_mode) == 0o600

    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    planted = folder / "request.xml"
    planted.symlink_to(victim)
    done = prepare(planted)
    assert victim.read_text() == "someone else's file"
    assert not done.path.is_symlink() and b"AuthTokenRequest" in done.path.read_bytes()
    assert stat.S_IMODE(os.stat(done.path).st_mode) == 0o600
