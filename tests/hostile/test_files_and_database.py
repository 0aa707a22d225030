"""Files and the database under hostile or unlucky conditions: modes, symlinks, FIFOs, devices, a DSN
password, an empty or damaged database, read-only commands, disk full, a killed restore."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli import no_raw_control, run

PASSWORD = "Sup3rSecretDsnPassw0rd"


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def data_home() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "ksef-tui"


# ---- modes -----------------------------------------------------------------------------------

def test_database_and_its_folder_are_private():
    """Password hashes and the audit log must not be readable by other local users."""
    r = run("import", "companies", "-", stdin=b"name,nip\nAlfa,5265877635\n")
    assert r.returncode == 0, r.stderr
    folder = data_home()
    db = folder / "ksef-tui.sqlite3"
    assert mode(folder) == 0o700 and mode(db) == 0o600
    for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        if extra.exists():
            assert mode(extra) == 0o600
    # a folder of ours made too open (e.g. by an older version) is tightened at the next start
    os.chmod(folder, 0o755)
    assert run("export", "companies").returncode == 0
    assert mode(folder) == 0o700


def test_wal_and_shm_are_private_while_in_use(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite files")
    from ksef_tui.store.engine import open_database

    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            path = Path(db.engine.url.database)
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert p.exists() and mode(p) == 0o600, p
    finally:
        db.dispose()


def test_exports_backups_and_test_certificates_are_private(tmp_path, db_url):
    r = run("import", "companies", "-", db=db_url, stdin=b"name,nip\nAlfa,5265877635\n")
    assert r.returncode == 0
    assert run("export", "companies", "--out", str(tmp_path / "c.csv"), db=db_url).returncode == 0
    assert mode(tmp_path / "c.csv") == 0o600
    assert run("backup", str(tmp_path / "b.backup"), db=db_url).returncode == 0
    assert mode(tmp_path / "b.backup") == 0o600
    assert run("ksef", "test-cert", "--nip", "5265877635", "--out-dir", str(tmp_path / "cert")).returncode == 0
    assert {p.name: mode(p) for p in (tmp_path / "cert").iterdir()} == {"cert.pem": 0o600, "key.pem": 0o600}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_export_never_writes_through_a_symlink(tmp_path, db_url):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "export.csv"
    link.symlink_to(victim)
    run("import", "companies", "-", db=db_url, stdin=b"name,nip\nAlfa,5265877635\n")
    assert run("export", "companies", "--out", str(link), db=db_url).returncode == 0
    assert victim.read_text() == "precious\n"  # the link was replaced, its target untouched
    assert not link.is_symlink() and "Alfa" in link.read_text()


# ---- the database ----------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"postgresql+nosuchdriver://u:{PASSWORD}@h/db",
    f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/db",
    f"postgresql+psycopg://u:{PASSWORD}@h:notaport/db",
    f"nosuchdialect://u:{PASSWORD}@h/db",
], ids=["unknown-driver", "refused", "bad-port", "unknown-dialect"])
def test_a_dsn_password_is_never_printed(url):
    for args in (["export", "companies"], ["db", "version"], ["import", "companies", "-"]):
        r = run(*args, db=url, stdin=b"name,nip\n", env={"PGCONNECT_TIMEOUT": "2"})
        assert r.returncode != 0
        assert PASSWORD.encode() not in r.stderr + r.stdout, r.stderr
        assert b"Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
    log = Path(os.environ["XDG_STATE_HOME"])
    for f in log.rglob("*"):
        if f.is_file():
            assert PASSWORD.encode() not in f.read_bytes(), f


def test_an_empty_database_file_is_refused_and_kept(tmp_path):
    path = tmp_path / "ksef.sqlite3"
    path.write_bytes(b"")
    for args in (["export", "companies"], ["companies", "enable-ksef", "--all"], ["db", "version"]):
        r = run(*args, db=f"sqlite:///{path}")
        assert r.returncode == 1 and b"is empty (0 bytes)" in r.stderr and b"Traceback" not in r.stderr
    assert path.stat().st_size == 0 and not Path(f"{path}-wal").exists()


def test_a_damaged_database_is_refused_with_a_sentence(tmp_path, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("a damaged SQLite file")
    run("import", "companies", "-", db=db_url, stdin=b"name,nip\n" + b"".join(
        b"Firma %d,%s\n" % (i, nip.encode()) for i, nip in enumerate(_nips(400))))
    path = Path(db_url.removeprefix("sqlite:///"))
    data = bytearray(path.read_bytes())
    page = 4096
    for i in range(3 * page, len(data) - page, page):  # damage the table pages past the schema
        data[i + 8:i + 200] = os.urandom(192)
    path.write_bytes(bytes(data))
    r = run("export", "companies", db=db_url)
    assert r.returncode == 1 and b"is damaged" in r.stderr and b"Traceback" not in r.stderr
    assert b"SELECT" not in r.stderr and b"sqlite3" not in r.stderr.lower().replace(b".sqlite3", b"")


def _nips(n: int) -> list[str]:
    from ksef_tui.demo.seed import demo_nips

    return demo_nips(n)


def test_read_only_commands_never_create_a_database(tmp_path):
    path = tmp_path / "none" / "ksef.sqlite3"
    for args in (["db", "version"], ["export", "companies"], ["export", "users"], ["backup", str(tmp_path / "b")]):
        r = run(*args, db=f"sqlite:///{path}")
        assert r.returncode == 1 and b"There is no database" in r.stderr, (args, r.stderr)
    assert not path.exists() and not path.parent.exists()
    assert not data_home().exists()
    assert run("db", "version").returncode == 1 and not (data_home() / "ksef-tui.sqlite3").exists()


# ---- files that are not files ----------------------------------------------------------------

@pytest.fixture
def fifo(tmp_path):
    p = tmp_path / "signed.xml"
    os.mkfifo(p)
    return p


@pytest.mark.parametrize("option", ["--signed-file", "--token-file", "--pkcs12"])
@pytest.mark.parametrize("source", ["fifo", "/dev/zero", "huge"])
def test_credential_files_that_are_not_files_are_refused_at_once(tmp_path, fifo, option, source):
    if source == "fifo":
        path = str(fifo)
    elif source == "huge":
        big = tmp_path / "big.xml"
        with open(big, "wb") as f:
            f.truncate(300 * 1024 * 1024)  # sparse: 300 MB without writing them
        path = str(big)
    else:
        link = tmp_path / "zero.xml"
        link.symlink_to("/dev/zero")
        path = str(link)
    extra = ["--password-file", path] if option == "--pkcs12" else []
    started = time.monotonic()
    r = run("ksef", "auth", "--base-url", "http://127.0.0.1:9", "--nip", "5265877635", option,
            path if option != "--pkcs12" else str(tmp_path / "missing.p12"), *extra, timeout=20)
    assert time.monotonic() - started < 15
    assert r.returncode == 2, r.stderr
    assert (b"not a regular file" in r.stderr or b"too large" in r.stderr), r.stderr
    assert b"Traceback" not in r.stderr and b"MemoryError" not in r.stderr and no_raw_control(r.stderr)


def test_import_and_password_files_that_are_not_files_are_refused(tmp_path, fifo, db_url):
    r = run("import", "companies", str(fifo), db=db_url, timeout=20)
    assert r.returncode == 2 and b"named pipe" in r.stderr
    r = run("import", "companies", "/dev/zero", db=db_url, timeout=20)
    assert r.returncode == 2 and b"a device" in r.stderr
    r = run("users", "password", "nobody", "--password-file", str(fifo), db=db_url, timeout=20)
    assert r.returncode == 2 and b"named pipe" in r.stderr, r.stderr


# ---- faults while writing --------------------------------------------------------------------

class _FillingFile:
    """A file on a disk that fills up after ``room`` characters: then every write fails with ENOSPC."""

    def __init__(self, f, room: int) -> None:
        self._f, self._room = f, room

    def write(self, data):
        import errno

        self._room -= len(data)
        if self._room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _full_disk(monkeypatch, after: int = 0):
    """Files opened from now on fail with ENOSPC after ``after`` characters (the disk fills up)."""
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FillingFile(real_fdopen(*a, **k), after))


def test_export_to_a_full_disk_leaves_no_truncated_file(ctx, tmp_path, monkeypatch):
    from ksef_tui.errors import ServiceError
    from ksef_tui.files import atomic_open

    ctx.csv.import_companies(ctx.actor, b"name,nip\n" + b"".join(
        b"Firma %d,%s\n" % (i, n.encode()) for i, n in enumerate(_nips(3000))))
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "out.csv"
    target.write_text("the previous export\n")
    _full_disk(monkeypatch, after=20_000)
    with pytest.raises(ServiceError, match="The disk is full"), atomic_open(target, "w", newline="") as out:
        ctx.csv.export_companies(ctx.actor, out)
    monkeypatch.undo()
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in folder.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("portable", [False, True], ids=["sqlite", "portable"])
def test_a_failed_backup_leaves_nothing_behind(seeded_ctx, tmp_path, monkeypatch, portable):
    """A backup to a disk that fills up: a clear sentence, and neither a partial file nor a -journal."""
    import gzip

    from ksef_tui.errors import ServiceError
    from ksef_tui.services.backup import backup

    ctx = seeded_ctx
    if not portable and ctx.db.dialect != "sqlite":
        pytest.skip("a SQLite backup is of a SQLite database")
    out = tmp_path / "backups"
    out.mkdir()
    real_connect, real_gzip_open = sqlite3.connect, gzip.open

    def connect(database, *args, **kwargs):
        conn = real_connect(database, *args, **kwargs)
        if str(database).endswith(".part"):
            conn.execute("PRAGMA max_page_count=3")  # the copy cannot grow past 3 pages: the disk is full
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(gzip, "open", lambda *a, **k: _FillingFile(real_gzip_open(*a, **k), 5000))
    with pytest.raises(ServiceError, match=r"The disk is full: the backup .* was not written"):
        backup(ctx.db, ctx.actor, out / "b.backup", portable=portable)
    monkeypatch.undo()
    assert list(out.iterdir()) == []


# ---- restore ---------------------------------------------------------------------------------

def _portable(tmp_path, lines: list[str]) -> Path:
    import gzip
    import json

    from ksef_tui.store.migrate import HEAD

    p = tmp_path / "crafted.backup"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"format": "ksef-tui-backup", "format_version": 1, "schema": HEAD}) + "\n")
        for line in lines:
            f.write(line + "\n")
    return p


COMPANY_COLS = ('{"table": "company", "columns": ["id", "name", "nip", "regon", "address", "ksef_enabled", "notes", '
                '"search_key", "sort_key", "created_at", "updated_at", "version"]}')


def _company(i: int, nip: str) -> str:
    return (f'[{i}, "Firma {i}", "{nip}", null, null, false, null, "firma {i}", "firma {i}", '
            '{"$t": "2026-01-01T00:00:00+00:00"}, {"$t": "2026-01-01T00:00:00+00:00"}, 1]')


@pytest.mark.parametrize(("lines", "expected"), [
    ([COMPANY_COLS, _company(1, "5265877635"), "[2, \"Firma\""], "line 4 (not JSON"),
    (['{"table": "nosuch", "columns": ["x"]}'], "line 2 (an unknown table nosuch)"),
    ([COMPANY_COLS, _company(1, "5265877635"), _company(2, "5265877635")], "line 4 (a row that is already there)"),
    ([COMPANY_COLS, "[1, 2]"], "line 3 (2 values for 12 columns)"),
    ([COMPANY_COLS, _company(1, "5265877635").replace('{"$t": "2026-01-01T00:00:00+00:00"}', '{"$t": "yesterday"}', 1)],
     "line 3 (a value that cannot be read)"),
    (['{"table": "company", "columns": ["id", "evil\\u001b]52;c;x\\u0007"]}'], "line 2 (unknown columns of table company)"),
], ids=["json", "table", "duplicate", "width", "value", "columns"])
def test_a_damaged_backup_names_its_line(ctx, tmp_path, lines, expected):
    from ksef_tui.errors import ServiceError
    from ksef_tui.services.backup import restore

    with pytest.raises(ServiceError) as e:
        restore(ctx.db, ctx.actor, _portable(tmp_path, lines))
    assert expected in str(e.value) and "nothing was restored" in str(e.value)
    assert no_raw_control(str(e.value).encode())
    assert ctx.companies.count(ctx.actor) == 0


def test_a_backup_that_inflates_to_gigabytes_is_refused_in_bounded_memory(ctx, tmp_path):
    """A few hundred KB of gzip that inflate to one line of 400 MB (the 1.43 GB restore of the issue)."""
    import gzip
    import resource

    from ksef_tui.errors import ServiceError
    from ksef_tui.services.backup import restore
    from ksef_tui.store.migrate import HEAD

    p = tmp_path / "bomb.backup"
    with gzip.open(p, "wb", compresslevel=9) as f:
        f.write(('{"format": "ksef-tui-backup", "format_version": 1, "schema": "' + HEAD + '"}\n').encode())
        f.write(COMPANY_COLS.encode() + b"\n")
        f.write(b'[1, "')
        chunk = b"A" * (1024 * 1024)
        for _ in range(400):
            f.write(chunk)
        f.write(b'"]\n')
    assert p.stat().st_size < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ServiceError, match=r"line 3 .*longer than 16 MiB"):
        restore(ctx.db, ctx.actor, p)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100, f"restore grew by {grown_mib:.0f} MiB"


def test_a_killed_restore_leaves_no_copy_in_the_system_temporary_folder(tmp_path, db_url):
    """The scratch copy lives in the data folder and is removed at the next start."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the target's SQLite write lock holds the restore")
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    run("import", "companies", "-", db=source, stdin=b"name,nip\nAlfa,5265877635\n")
    assert run("backup", str(tmp_path / "b.backup"), db=source).returncode == 0
    target = tmp_path / "target.sqlite3"
    run("companies", "enable-ksef", "--all", db=f"sqlite:///{target}")
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    holder = sqlite3.connect(target, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the restore waits for the write lock with its copy made
    scratch = data_home() / "scratch"
    proc = subprocess.Popen([sys.executable, "-m", "ksef_tui", "--database", f"sqlite:///{target}", "restore",
                             str(tmp_path / "b.backup")], env=dict(os.environ) | {
                                 "TMPDIR": str(system_tmp), "KSEF_TUI_BUSY_TIMEOUT": "30"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (scratch.exists() and any(
                (d / "restore.sqlite3").exists() for d in scratch.iterdir())):
            time.sleep(0.05)
        time.sleep(0.3)
        assert any(scratch.iterdir()), "the restore made no scratch copy in the data folder"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        if proc.poll() is None:
            proc.kill()
    assert list(system_tmp.iterdir()) == []
    assert mode(scratch) == 0o700
    assert run("export", "companies", db=f"sqlite:///{target}").returncode == 0  # the next start cleans up
    assert list(scratch.iterdir()) == []


def test_a_full_database_disk_is_a_sentence_and_nothing_is_half_saved(ctx):
    """The disk under the database fills up while companies are added one by one: the add that does
    not fit is one sentence in the user's terms (no SQL, no driver text), and neither the company nor
    its audit entry is left behind; everything added before stays."""
    from sqlalchemy import event

    from ksef_tui.domain.nip import make_nip
    from ksef_tui.services.companies import CompanyFilter, CompanyInput
    from ksef_tui.store.errors import StoreError

    if ctx.db.dialect != "sqlite":
        pytest.skip("SQLite's page cap stands for a full disk; PostgreSQL's disk is the server's")
    with ctx.db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_conn, _record) -> None:  # the file cannot grow past a few pages more: the disk is full
        dbapi_conn.execute(f"PRAGMA max_page_count={pages + 4}")

    event.listen(ctx.db.engine, "connect", cap)
    ctx.db.engine.dispose()
    nips = (n for n in (make_nip(f"52{i:07d}") for i in range(1, 100_000)) if n)
    added = 0
    with pytest.raises(StoreError) as refused:
        for nip in nips:
            ctx.companies.create(ctx.actor, CompanyInput(name=f"Firma {added} " + "x" * 200, nip=nip,
                                                         address="a" * 200))
            added += 1
    message = str(refused.value)
    assert "is full: nothing was saved" in message
    assert "INSERT" not in message and "OperationalError" not in message and "sqlite3." not in message
    assert added > 0
    event.remove(ctx.db.engine, "connect", cap)
    ctx.db.engine.dispose()
    assert ctx.companies.count(ctx.actor, CompanyFilter()) == added
    assert ctx.audit.count(ctx.actor, object_type="company") == added
