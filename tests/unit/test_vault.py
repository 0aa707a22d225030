import os
import stat

import pytest

from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, Vault, VaultError, encode_key, load_master_key


def test_round_trip_and_context_binding():
    v = Vault(MasterKey.generate())
    blob = v.seal(b"token-secret-123", "cred:1:7:DEMO:token")
    assert b"token-secret-123" not in blob
    assert v.open(blob, "cred:1:7:DEMO:token") == b"token-secret-123"
    with pytest.raises(VaultError, match="does not belong to this record"):
        v.open(blob, "cred:1:7:PRODUCTION:token")


def test_wrong_key_and_tampering_are_clear():
    a, b = Vault(MasterKey.generate("a")), Vault(MasterKey.generate("b"))
    blob = a.seal(b"x", "c")
    with pytest.raises(VaultError, match="is not the key these secrets were stored with"):
        b.open(blob, "c")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(VaultError):
        a.open(bytes(tampered), "c")
    with pytest.raises(VaultError, match="damaged"):
        a.open(b"garbage", "c")


def test_rewrap_keeps_the_secret():
    a, b = Vault(MasterKey.generate()), Vault(MasterKey.generate())
    blob = a.seal(b"private key", "ctx")
    moved = a.rewrap(blob, b)
    assert b.open(moved, "ctx") == b"private key"
    with pytest.raises(VaultError):
        a.open(moved, "ctx")


def test_key_file_created_0600_and_reloaded(tmp_path):
    path = tmp_path / "cfg" / "master.key"
    k1 = load_master_key(create=True, path=path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    k2 = load_master_key(create=False, path=path, environ={})
    assert k1.key_id == k2.key_id
    assert encode_key(k1.raw()) not in repr(k1)


def test_world_readable_or_missing_key_stops(tmp_path):
    path = tmp_path / "master.key"
    load_master_key(create=True, path=path, environ={})
    os.chmod(path, 0o644)
    with pytest.raises(VaultError, match=r"can be read by other users .*chmod 600"):
        load_master_key(create=False, path=path, environ={})
    with pytest.raises(VaultError, match="master key is missing"):
        load_master_key(create=False, path=tmp_path / "none.key", environ={})


def test_key_from_environment(tmp_path):
    key = MasterKey.generate()
    got = load_master_key(create=False, path=tmp_path / "none", environ={MASTER_KEY_ENV: encode_key(key.raw())})
    assert got.key_id == key.key_id
    with pytest.raises(VaultError, match="not valid"):
        load_master_key(create=False, environ={MASTER_KEY_ENV: "short"})
