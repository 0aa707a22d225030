"""Backup and restore on both engines (and across them), with the master-key warning."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from ksef_tui.domain.environments import Environment
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.users import UserInput
from ksef_tui.store import models  # noqa: F401
from ksef_tui.store.engine import open_database
from ksef_tui.store.errors import StoreError

TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9"


def _utc(v):
    if isinstance(v, dt.datetime):
        return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return bytes(v) if isinstance(v, memoryview) else v


def contents(db) -> dict[str, list[tuple]]:
    out = {}
    with db.engine.connect() as conn:
        for t in SQLModel.metadata.sorted_tables:
            out[t.name] = [tuple(_utc(v) for v in r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
    return out


@pytest.fixture
def full(seeded_ctx):
    ctx = seeded_ctx
    c = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa Łódź", nip="5265877635", ksef_enabled=True, notes="ąę\n"))
    u = ctx.users.create(ctx.actor, UserInput(login="anna.k", full_name="Anna K", may_configure_ksef=True), [c.id])
    ctx.credentials.save_token(ctx.actor, u.id, c.id, Environment.DEMO, TOKEN)
    return ctx


def _cli(argv: list[str], url: str) -> int:
    from ksef_tui.cli import main

    return main(["--database", url, *argv])


def test_backup_and_restore_round_trip(full, tmp_path, capsys):
    from ksef_tui.services.backup import backup, restore
    from ksef_tui.store.dump import backup_format

    ctx = full
    before = contents(ctx.db)
    path = tmp_path / "office.backup"
    assert _cli(["backup", str(path)], ctx.db.url) == 0
    out, err = capsys.readouterr()
    assert "a backup without its key cannot be read" in err and "master.key" in err
    assert backup_format(path) == ("sqlite" if ctx.db.dialect == "sqlite" else "portable")
    assert "company" in out

    with pytest.raises(StoreError, match=r"not empty .* --force"):
        restore(ctx.db, ctx.actor, path)
    # after the backup: changes that the restore must undo
    ctx.companies.serial_set_ksef(ctx.actor, ctx.companies.ids(ctx.actor), True)
    ctx.companies.create(ctx.actor, CompanyInput(name="Later", nip="7762811692"))
    result = restore(ctx.db, ctx.actor, path, force=True)
    assert result.replaced and result.key_matches is True
    after = contents(ctx.db)
    restore_entry = after["audit_entry"].pop()
    assert restore_entry[4] == "db.restore"
    assert after == before
    # ids continue above the restored ones; the audit log is append-only again
    ctx.companies.create(ctx.actor, CompanyInput(name="New after restore", nip="7762811692"))
    from sqlalchemy import text

    with pytest.raises(Exception, match="append-only"), ctx.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry"))

    # the same backup restores into an empty SQLite database elsewhere (across engines on PostgreSQL)
    other = open_database(f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    try:
        restore(other, ctx.actor, path)
        got = contents(other)
        got["audit_entry"].pop()
        assert got == before
        from ksef_tui.services.context import AppContext

        other_ctx = AppContext(other, ctx.actor)
        other_ctx.credentials.vaults.check()  # the same master key opens the restored secrets
    finally:
        other.dispose()
    backup(ctx.db, ctx.actor, tmp_path / "again.backup")


def test_portable_backup_restores_into_this_engine(full, tmp_path, db_url):
    from ksef_tui.services.backup import backup, restore

    ctx = full
    path = tmp_path / "portable.backup"
    before = contents(ctx.db)
    res = backup(ctx.db, ctx.actor, path, portable=True)
    assert res.format == "portable" and res.rows["company"] == 301 and res.rows["ksef_credential"] == 1
    src = open_database(f"sqlite:///{tmp_path / 'src.sqlite3'}")
    try:
        restore(src, ctx.actor, path)  # portable into SQLite ...
        sqlite_copy = tmp_path / "sqlite-copy.backup"
        backup(src, ctx.actor, sqlite_copy)
    finally:
        src.dispose()
    restore(ctx.db, ctx.actor, sqlite_copy, force=True)  # ... and a SQLite backup back into this engine
    after = contents(ctx.db)
    after["audit_entry"] = [r for r in after["audit_entry"] if r[4] != "db.restore"]
    assert after == before


def test_restore_checks_the_schema(db, tmp_path, admin):
    from ksef_tui.services.backup import backup, restore
    from ksef_tui.store.migrate import HEAD, upgrade_to

    path = tmp_path / "p.backup"
    backup(db, admin, path, portable=True)
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    header = json.loads(lines[0])
    assert header["schema"] == HEAD
    header["schema"] = "9999"
    newer = tmp_path / "newer.backup"
    with gzip.open(newer, "wt") as f:
        f.write("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(StoreError, match="newer ksef-tui"):
        restore(db, admin, newer)
    (tmp_path / "junk.backup").write_bytes(b"hello")
    with pytest.raises(StoreError, match="not a ksef-tui backup"):
        restore(db, admin, tmp_path / "junk.backup")
    # a backup of an older schema (a SQLite database at 0001) is upgraded on the way in
    old = open_database(f"sqlite:///{tmp_path / 'old.sqlite3'}", migrate=False)
    upgrade_to(old, "0001")
    from ksef_tui.services.companies import CompanyFilter, CompanyService

    with old.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO company (name, nip, ksef_enabled, search_key, sort_key, created_at, updated_at, version)"
            " VALUES ('Stara', '5265877635', 1, 'stara', 'stara', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1)")
    old.dispose()
    restore(db, admin, tmp_path / "old.sqlite3")
    assert [r.name for r in CompanyService(db).page(admin, CompanyFilter(), 0, 5)] == ["Stara"]


def test_db_downgrade_command(db, capsys):
    from ksef_tui.store.migrate import current_revision

    assert _cli(["db", "downgrade", "12"], db.url) == 1
    assert "Unknown schema version" in capsys.readouterr().err
    assert _cli(["db", "downgrade", "0002"], db.url) == 0
    assert "at 0002" in capsys.readouterr().out
    assert _cli(["db", "downgrade", "base"], db.url) == 1
    assert "would delete every row" in capsys.readouterr().err
    assert current_revision(db) == "0002"
