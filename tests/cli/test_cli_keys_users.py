import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9"


def run(*args, db, env_extra=None):
    env = dict(os.environ) | (env_extra or {})
    return subprocess.run([sys.executable, "-m", "ksef_tui", "--database", db, *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def prepared(db_url, tmp_path):
    (tmp_path / "c.csv").write_text("name,nip,ksef_enabled\nAlfa,5265877635,true\nBeta,7762811692,false\n")
    (tmp_path / "u.csv").write_text("login,full_name,email,role,companies\nanna,Anna Nowak,,client,5265877635;7762811692\nbob,Bob B,,client,5265877635\n")
    assert run("import", "companies", str(tmp_path / "c.csv"), db=db_url).returncode == 0
    assert run("import", "users", str(tmp_path / "u.csv"), db=db_url).returncode == 0
    (tmp_path / "token.txt").write_text(TOKEN[:60] + "\n" + TOKEN[60:] + "\n")
    return db_url, tmp_path


def _token_blob(url: str) -> bytes:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bytes(conn.exec_driver_sql("select token_blob from ksef_credential").fetchone()[0])
    finally:
        engine.dispose()


def test_set_token_then_rotate_keys(prepared):
    db, tmp = prepared
    r = run("users", "ksef", "set", "anna", "--nip", "5265877635", "--env", "DEMO", "--token-file", str(tmp / "token.txt"), db=db)
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout and TOKEN[-4:] in r.stdout
    cfg = os.environ["XDG_CONFIG_HOME"]
    key = os.path.join(cfg, "ksef-tui", "master.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    old = Path(key).read_text()
    blob_before = _token_blob(db)
    r = run("keys", "rotate", db=db)
    assert r.returncode == 0, r.stderr
    assert "Re-encrypted 1 secret(s)" in r.stdout
    assert Path(key).read_text() != old and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    blob_after = _token_blob(db)
    assert blob_after != blob_before
    # the old key no longer opens the database: a clear line, not a traceback
    with open(key, "w") as f:
        f.write(old)
    r = run("export", "companies", db=db)
    assert r.returncode == 1 and "is not the key these secrets were stored with" in r.stderr and "Traceback" not in r.stderr
    os.remove(key)
    r = run("export", "companies", db=db)
    assert r.returncode == 1 and "The master key is missing" in r.stderr


def test_world_readable_key_stops(prepared):
    db, tmp = prepared
    assert run("users", "ksef", "set", "anna", "--nip", "5265877635", "--env", "DEMO", "--token-file", str(tmp / "token.txt"), db=db).returncode == 0
    key = os.path.join(os.environ["XDG_CONFIG_HOME"], "ksef-tui", "master.key")
    os.chmod(key, 0o644)
    r = run("export", "companies", db=db)
    assert r.returncode == 1 and "can be read by other users" in r.stderr and "chmod 600" in r.stderr


@pytest.mark.parametrize("login,nip,msg", [
    ("anna", "7762811692", "KSeF is switched off for Beta"),
    ("bob", "7762811692", "bob does not belong to the company Beta"),
    ("nobody", "5265877635", "no user with login nobody"),
])
def test_set_refused_clearly(prepared, login, nip, msg):
    db, tmp = prepared
    r = run("users", "ksef", "set", login, "--nip", nip, "--env", "DEMO", "--token-file", str(tmp / "token.txt"), db=db)
    assert r.returncode != 0 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
