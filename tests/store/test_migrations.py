"""Upgrades keep every row, from every earlier schema; downgrades that would lose data refuse.
Runs on SQLite and, with KSEF_TUI_TEST_DATABASE, on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select, text
from sqlmodel import SQLModel

from ksef_tui.store import models  # noqa: F401  (tables registered)
from ksef_tui.store.engine import open_database
from ksef_tui.store.errors import StoreError
from ksef_tui.store.migrate import HEAD, current_revision, downgrade, known_revisions, upgrade_to

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)
NAMES = ["Żuraw Sp. z o.o.", "Zorza S.A.", "Ąbc s.c.", "Abc Sp.j.", "Łódź Transport", "Lodz Trans", "Ćma", "Cis"]
EARLIER = [r for r in reversed(known_revisions()) if r != HEAD]  # oldest first


def _nip(i: int) -> str:
    return f"{1000000000 + i:010d}"


def _fill(conn, at: str) -> dict[str, list[tuple]]:
    """Rows in every table that exists at schema ``at``; returns what was written, by table."""
    from sqlalchemy import MetaData, Table

    from ksef_tui.domain.text import search_key, sort_key
    from ksef_tui.store.dump import reset_sequences

    def put(table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        # the table as it is at schema ``at`` (reflected), not as the newest models describe it
        reflected = Table(table, MetaData(), autoload_with=conn)
        conn.execute(insert(reflected), [dict(zip(cols, r, strict=True)) for r in rows])

    companies = [
        (i + 1, name, _nip(i), "123456785" if i % 2 else None, f"ul. Długa {i}" if i % 3 else None,
         i % 2 == 0, "notatka ąę\nline 2" if i == 0 else None, search_key(name), sort_key(name),
         T0 + dt.timedelta(seconds=i), T0 + dt.timedelta(days=1, seconds=i), 1 + i)
        for i, name in enumerate(NAMES)
    ]
    put("company", COMPANY, companies)
    users = [
        (1, "anna", "Anna Nowak", "anna@example.pl", "client", True, True, search_key("anna Anna Nowak"), sort_key("Anna Nowak"), T0, T0, 1),
        (2, "bob", "Bob Łęcki", None, "client", False, False, search_key("bob Bob Łęcki"), sort_key("Bob Łęcki"), T0, T0, 2),
        (3, "admin2", "Ewa Admin", "ewa@example.pl", "admin", True, False, search_key("admin2 Ewa"), sort_key("Ewa Admin"), T0, T0, 1),
    ]
    put("user_account", USER, users)
    memberships = [(1, 1), (1, 2), (1, 5), (2, 1), (3, 8)]
    put("membership", ("user_id", "company_id"), memberships)
    audits = [
        (i + 1, T0 + dt.timedelta(minutes=i), None, "local:tester", "company.create", "company", i + 1,
         NAMES[i], None, f'{{"name": "{NAMES[i]}"}}')
        for i in range(len(NAMES))
    ]
    put("audit_entry", AUDIT, audits)
    written = {"company": companies, "user_account": users, "membership": memberships, "audit_entry": audits}
    if at >= "0002":
        creds = [(1, 1, 1, "DEMO", "token", "2.0", b"\x00sealed\xff" * 5, "ab12", T0, T0, 3)]
        put("ksef_credential", CREDENTIAL, creds)
        put("ksef_endpoint", ("environment", "base_url"), [("DEMO", "http://127.0.0.1:9/")])
        written["ksef_credential"] = creds
    reset_sequences(conn)
    return written


COMPANY = ("id", "name", "nip", "regon", "address", "ksef_enabled", "notes", "search_key", "sort_key",
           "created_at", "updated_at", "version")
USER = ("id", "login", "full_name", "email", "role", "active", "may_configure_ksef", "search_key", "sort_key",
        "created_at", "updated_at", "version")
AUDIT = ("id", "at", "actor_id", "actor_login", "action", "object_type", "object_id", "object_label", "before", "after")
CREDENTIAL = ("id", "user_id", "company_id", "environment", "method", "api_version", "token_blob", "token_last4",
              "created_at", "updated_at", "version")


def _aware(v):
    return v.replace(tzinfo=UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v


def _norm(row) -> tuple:
    return tuple(bytes(v) if isinstance(v, memoryview) else _aware(v) for v in row)


def _read(conn, table: str, columns: tuple[str, ...]) -> list[tuple]:
    t = SQLModel.metadata.tables[table]
    q = select(*[t.c[c] for c in columns]).order_by(*t.primary_key.columns)
    return [_norm(r) for r in conn.execute(q)]


@pytest.mark.parametrize("start", EARLIER)
def test_upgrade_from_every_earlier_schema_keeps_every_row(db_url, start):
    db = open_database(db_url, migrate=False)
    try:
        upgrade_to(db, start)
        assert current_revision(db) == start
        with db.engine.begin() as conn:
            written = _fill(conn, start)
        db.dispose()
        db = open_database(db_url)  # what a newer ksef-tui does on start
        assert current_revision(db) == HEAD
        with db.engine.connect() as conn:
            assert _read(conn, "company", COMPANY) == [_norm(r) for r in written["company"]]
            assert _read(conn, "user_account", USER) == [_norm(r) for r in written["user_account"]]
            assert _read(conn, "membership", ("user_id", "company_id")) == written["membership"]
            assert _read(conn, "audit_entry", AUDIT) == [_norm(r) for r in written["audit_entry"]]
            if "ksef_credential" in written:
                assert _read(conn, "ksef_credential", CREDENTIAL) == [_norm(r) for r in written["ksef_credential"]]
        # the services read the upgraded data: Polish order, filters, memberships, audit
        from ksef_tui.domain.text import sort_key
        from ksef_tui.services.actor import Actor
        from ksef_tui.services.audit import AuditService
        from ksef_tui.services.companies import CompanyFilter, CompanyService
        from ksef_tui.services.users import UserService

        admin = Actor.local_admin("t")
        rows = CompanyService(db).page(admin, CompanyFilter(), 0, 100)
        assert [r.name for r in rows] == sorted(NAMES, key=sort_key)
        assert [r.name for r in CompanyService(db).page(admin, CompanyFilter(text="lodz"), 0, 10)] == ["Lodz Trans", "Łódź Transport"]
        assert CompanyService(db).count(admin, CompanyFilter(ksef=True)) == 4
        assert UserService(db).get(admin, 1).company_ids == [1, 2, 5]
        assert AuditService(db).count(admin) == len(NAMES)
        # new writes work after the upgrade, and the audit log is still append-only
        CompanyService(db).set_ksef(admin, 2, True)
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET action = 'x' WHERE id = 1"))
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entry"))
    finally:
        db.dispose()


def test_downgrade_that_would_lose_data_is_refused(db):
    with db.engine.begin() as conn:
        _fill(conn, HEAD)
    with pytest.raises(StoreError, match=r"refused: Downgrading would delete 1 KSeF credential"):
        downgrade(db, "0001")
    assert current_revision(db) == HEAD  # nothing changed, not even the steps before the refusal
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ksef_credential")).scalar() == 1
        assert conn.execute(text("SELECT COUNT(*) FROM company")).scalar() == len(NAMES)
    with pytest.raises(StoreError, match="refused: Downgrading would delete 1 KSeF credential"):
        downgrade(db, "base")
    assert current_revision(db) == HEAD


def test_downgrade_without_losses_then_upgrade_again(db):
    with db.engine.begin() as conn:
        _fill(conn, "0001")
    assert downgrade(db, "0002") == "0002"
    assert downgrade(db, "0001") == "0001"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM company")).scalar() == len(NAMES)
    db.dispose()
    again = open_database(db.url)
    try:
        assert current_revision(again) == HEAD
    finally:
        again.dispose()


def test_downgrade_arguments_are_checked(db):
    with pytest.raises(StoreError, match="Unknown schema version"):
        downgrade(db, "0999")
    assert downgrade(db, HEAD) == HEAD
    downgrade(db, "0001")
    with pytest.raises(StoreError, match="that is an upgrade"):
        downgrade(db, "0002")


def test_two_programs_starting_on_an_old_database_upgrade_it_once(db_url):
    import subprocess
    import sys

    db = open_database(db_url, migrate=False)
    upgrade_to(db, "0001")
    db.dispose()
    code = "import sys; from ksef_tui.store.engine import open_database; open_database(sys.argv[1]).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    db = open_database(db_url)
    try:
        assert current_revision(db) == HEAD
    finally:
        db.dispose()


def test_downgrade_keeps_the_office_credential_and_the_working_models(db):
    """0007 (issue 15): an office credential or a chosen working model stops a downgrade; the
    permission picture (a reading of KSeF) does not."""
    with db.engine.begin() as conn:
        _fill(conn, HEAD)
        conn.execute(text("UPDATE company SET ksef_model = 'B' WHERE id = 1"))
        conn.execute(text("INSERT INTO ksef_permission (company_id, environment, user_id, holder, scope, source, "
                          "state, can_delegate, seen_by, read_at) VALUES (1, 'DEMO', 1, 'user', 'InvoiceRead', "
                          "'indirect', 'Inactive', :no, 'office', '2026-11-30 10:00:00')"), {"no": False})
    with pytest.raises(StoreError, match="working model of 1 company"):
        downgrade(db, "0006")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE company SET ksef_model = NULL"))
        conn.execute(text("INSERT INTO office_credential (environment, nip, method, created_at, updated_at) "
                          "VALUES ('DEMO', '7762811692', 'token', '2026-11-30 10:00:00', '2026-11-30 10:00:00')"))
    with pytest.raises(StoreError, match="1 office KSeF credential"):
        downgrade(db, "0006")
    assert current_revision(db) == HEAD
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM office_credential"))
    assert downgrade(db, "0006") == "0006"
    with db.engine.connect() as conn:  # the credential's rows (and their children) are all still there
        assert conn.execute(text("SELECT COUNT(*) FROM ksef_credential")).scalar() == 1
        assert conn.execute(text("SELECT COUNT(*) FROM membership")).scalar() == 5
