"""Integrity under concurrency: two key rotations at once, a rotation during a save, two first saves of
the same credential. Each failed before the fix (a key file that opened nothing, a secret sealed with a
key no longer in use, a raw IntegrityError that stopped the panel)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ConflictError
from ksef_tui.services.context import AppContext
from ksef_tui.services.key_rotation import rotate_master_key
from ksef_tui.store.engine import open_database
from ksef_tui.store.models import KsefCredential
from ksef_tui.vault.envelope import Vault

TOKENS = [f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|{n:064x}" for n in (0xC0FFEE, 0xBEEF, 0xF00D)]
DEMO, PROD = Environment.DEMO, Environment.PRODUCTION


def every_secret_opens(url: str) -> list[str]:
    """Every saved token, opened as a new process would: the key file and the database as they are."""
    db = open_database(url)
    try:
        fresh = AppContext(db, None)  # type: ignore[arg-type]
        with db.session() as s:
            rows = list(s.scalars(select(KsefCredential).order_by(KsefCredential.id)))
        return [fresh.credentials.open_material(row).reveal() for row in rows]
    finally:
        db.dispose()


def test_two_key_rotations_at_once_one_waits_its_turn_or_is_refused(panel, monkeypatch):
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    real_rewrap = Vault.rewrap
    second: list[object] = []

    def rewrap_while_another_rotation_starts(self, blob, new):  # the second `keys rotate`, mid-way
        if not second:
            second.append(None)
            other = open_database(ctx.db.url)
            try:
                second[0] = rotate_master_key(other, ctx.actor)
            except ConflictError as exc:
                second[0] = exc
            finally:
                other.dispose()
        return real_rewrap(self, blob, new)

    monkeypatch.setattr(Vault, "rewrap", rewrap_while_another_rotation_starts)
    first = rotate_master_key(ctx.db, ctx.actor)
    monkeypatch.setattr(Vault, "rewrap", real_rewrap)
    assert first.secrets == 1
    assert isinstance(second[0], ConflictError) and "Another master key rotation" in str(second[0])
    assert every_secret_opens(ctx.db.url) == [TOKENS[0]]


def test_a_key_file_renamed_by_a_rotation_between_reading_it_and_the_check_row_is_read_again(panel, monkeypatch):
    """A process reads the key file, another `keys rotate` commits and renames its new key file, then
    the first reads the check row: it opens with the key file as it is now, not "the wrong key" (seen
    in a run of two `keys rotate` commands at once)."""
    from ksef_tui.vault import envelope

    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    before = envelope.load_master_key(create=False)  # what the slow process read
    rotate_master_key(ctx.db, ctx.actor)  # the other process's whole rotation
    real = envelope.load_master_key
    reads: list[int] = []

    def stale_first(**kw):
        reads.append(1)
        return before if len(reads) == 1 else real(**kw)

    monkeypatch.setattr(envelope, "load_master_key", stale_first)
    assert every_secret_opens(ctx.db.url) == [TOKENS[0]]
    assert len(reads) >= 2  # the key file was read again


def test_a_rotation_between_reading_the_check_row_and_the_key_file_is_seen(panel, monkeypatch):
    """A process reads the check row, another `keys rotate` commits and renames its new key file, then
    the first reads the key file (the new key): it reads the check row again and opens, not "the wrong
    key" (a clean-clone CI run of two `keys rotate` commands at once failed so, on 4 Dec)."""
    from ksef_tui.vault import envelope

    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    real = envelope.load_master_key
    rotated: list[object] = []

    def rotation_first(**kw):  # the check row is read already: the other process's whole rotation now
        if not rotated:
            rotated.append("started")  # the rotation reads the key file too
            other = open_database(ctx.db.url)
            rotated.append(rotate_master_key(other, ctx.actor))
            other.dispose()
        return real(**kw)

    monkeypatch.setattr(envelope, "load_master_key", rotation_first)
    starting = open_database(ctx.db.url)
    try:
        AppContext(starting, None).credentials.vaults.check()  # type: ignore[arg-type]  # as every command starts
    finally:
        starting.dispose()
    assert len(rotated) == 2
    assert every_secret_opens(ctx.db.url) == [TOKENS[0]]


def test_a_rotation_interrupted_before_renaming_its_key_file_is_finished_at_the_next_start(panel):
    """The rotation committed, the process ended before its new key file (``<key>.new``) replaced the
    old one: the next start finishes it, and every secret opens."""
    from ksef_tui.vault import envelope

    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    key_path = envelope.key_file_path()
    old = key_path.read_bytes()
    rotate_master_key(ctx.db, ctx.actor)
    new = key_path.read_bytes()
    staged = key_path.with_name(key_path.name + ".new")
    key_path.replace(staged)  # as it was between the commit and the rename
    key_path.write_bytes(old)
    key_path.chmod(0o600)
    assert every_secret_opens(ctx.db.url) == [TOKENS[0]]
    assert key_path.read_bytes() == new and not staged.exists()


def test_two_keys_rotate_commands_at_once_leave_a_key_that_opens_everything(panel):
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, PROD, TOKENS[1])
    for _ in range(2):
        cmd = [sys.executable, "-m", "ksef_tui", "--database", ctx.db.url, "keys", "rotate"]
        runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in runs]
        results = [(p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]
        for code, _out, err in results:
            assert code == 0 or (b"Another master key rotation" in err or b"changed meanwhile" in err), err
            assert b"Traceback" not in err
        assert any(code == 0 for code, _o, _e in results)
        assert every_secret_opens(ctx.db.url) == [TOKENS[0], TOKENS[1]]


def test_a_rotation_between_loading_the_key_and_saving_never_loses_the_secret(panel, monkeypatch):
    """The panel has the key loaded; `keys rotate` commits just before its save: the save is a conflict
    (nothing sealed with the old key), and saving again works and opens with the new key."""
    ctx = panel.ctx
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0])
    real_clock = ctx.credentials.clock  # read once the key is loaded, just before the save
    rotated: list[object] = []

    def rotation_in_between():
        if not rotated:
            other = open_database(ctx.db.url)
            rotated.append(rotate_master_key(other, ctx.actor))
            other.dispose()
        return real_clock()

    monkeypatch.setattr(ctx.credentials, "clock", rotation_in_between)
    with pytest.raises(ConflictError, match="master key was changed meanwhile"):
        ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[1])
    assert rotated
    assert every_secret_opens(ctx.db.url) == [TOKENS[0]]  # nothing half-saved, nothing lost
    ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[1])  # the user tries again
    assert every_secret_opens(ctx.db.url) == [TOKENS[1]]


def test_two_first_saves_at_once_end_in_reload_and_nothing_is_lost(panel, monkeypatch):
    """Two administrators save the first token of the same user, company and environment at the same
    moment (each saw nothing saved: version 0). One is saved, the other is told to reload."""
    import threading

    from ksef_tui.services.ksef import credentials as credentials_module

    ctx = panel.ctx
    other_db = open_database(ctx.db.url, busy_timeout_s=120)
    other = AppContext(other_db, ctx.actor)
    real_seal = credentials_module.seal_token
    outcomes: dict[str, object] = {}

    def second_save():
        try:
            outcomes["second"] = other.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[1],
                                                              expected_version=0)
        except ConflictError as exc:
            outcomes["second"] = exc

    def seal_while_the_other_saves(vault, row, token):  # the first has looked and found nothing saved
        monkeypatch.setattr(credentials_module, "seal_token", real_seal)
        worker = threading.Thread(target=second_save)
        worker.start()
        worker.join(0.5)  # it may finish (nothing holds it) or wait for this save's transaction
        outcomes["worker"] = worker
        real_seal(vault, row, token)

    monkeypatch.setattr(credentials_module, "seal_token", seal_while_the_other_saves)
    try:
        outcomes["first"] = ctx.credentials.save_token(ctx.actor, panel.user_id, panel.alfa, DEMO, TOKENS[0],
                                                       expected_version=0)
    except ConflictError as exc:
        outcomes["first"] = exc
    outcomes.pop("worker").join(120)  # type: ignore[attr-defined]
    other_db.dispose()
    conflicts = [o for o in outcomes.values() if isinstance(o, ConflictError)]
    saved = [o for o in outcomes.values() if not isinstance(o, ConflictError)]
    assert len(conflicts) == 1 and len(saved) == 1, outcomes
    assert "reload" in str(conflicts[0])
    kept = TOKENS[0] if saved[0] is outcomes["first"] else TOKENS[1]
    assert every_secret_opens(ctx.db.url) == [kept]
