"""Passwords, one-time codes, lockout, the global default, the CLI."""

from __future__ import annotations

import datetime as dt

import pytest

from ksef_tui.domain.secret import Secret
from ksef_tui.errors import PermissionDenied, ValidationFailed
from ksef_tui.services.accounts import (
    AccountService,
    LoginFailed,
    hash_secret,
    verify_secret,
)
from ksef_tui.services.users import UserInput

from .conftest import FAST, Office

PASSWORD = "Długie-hasło-Anny-2026!"


def test_hash_is_salted_scrypt_with_parameters():
    a, b = hash_secret(PASSWORD, FAST), hash_secret(PASSWORD, FAST)
    assert a != b and a.startswith("scrypt$1024$8$1$") and PASSWORD not in a
    assert verify_secret(PASSWORD, a) and verify_secret(Secret(PASSWORD), b)
    assert not verify_secret(PASSWORD + "x", a) and not verify_secret(PASSWORD, None)
    assert not verify_secret(PASSWORD, "md5$whatever")


def test_login_with_password_gives_the_actor(office: Office, accounts: AccountService, fake_time):
    assert not accounts.login_required()
    accounts.set_password(office.ctx.actor, office.anna, Secret(PASSWORD))
    assert accounts.login_required()
    actor = accounts.login("anna", Secret(PASSWORD))
    assert (actor.id, actor.login, actor.role, actor.is_admin) == (office.anna, "anna", "client", False)
    assert fake_time.slept == []
    actions = [e.action for e in office.ctx.audit.entries(office.ctx.actor, object_type="user", object_id=office.anna)]
    assert actions[:2] == ["user.login", "user.password_set"]


def test_password_rules(office: Office, accounts: AccountService):
    with pytest.raises(ValidationFailed, match="at least 8"):
        accounts.set_password(office.ctx.actor, office.anna, "short")


def test_one_time_code_sets_the_password_once(office: Office, accounts: AccountService, fake_time):
    code = accounts.issue_code(office.ctx.actor, office.anna)
    assert isinstance(code, Secret) and len(code.reveal()) == 9
    with pytest.raises(LoginFailed):
        accounts.login_with_code("anna", "AAAA-AAAA", PASSWORD)
    actor = accounts.login_with_code("anna", code.reveal().lower(), PASSWORD)
    assert actor.id == office.anna
    assert accounts.login("anna", PASSWORD).id == office.anna
    with pytest.raises(LoginFailed):  # used up
        accounts.login_with_code("anna", code, "another-password")
    late = accounts.issue_code(office.ctx.actor, office.bob)
    fake_time.now += dt.timedelta(hours=25)
    with pytest.raises(LoginFailed):  # expired
        accounts.login_with_code("bob", late, PASSWORD)


def test_only_administrators_issue_codes_and_set_others_passwords(office: Office, accounts: AccountService):
    anna = office.actor(office.anna)
    with pytest.raises(PermissionDenied):
        accounts.issue_code(anna, office.bob)
    with pytest.raises(PermissionDenied):
        accounts.set_password(anna, office.bob, PASSWORD)
    with pytest.raises(PermissionDenied):
        accounts.set_clients_may_configure_default(anna, True)
    accounts.set_password(anna, office.anna, PASSWORD)  # their own: allowed


def test_no_password_or_code_in_clear_in_the_database(office: Office, accounts: AccountService, db_url, database_bytes):
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    code = accounts.issue_code(office.ctx.actor, office.bob).reveal()
    accounts.login("anna", PASSWORD)
    with pytest.raises(LoginFailed):
        accounts.login("anna", "another-Wrong-pass")
    office.ctx.db.dispose()
    data = database_bytes(db_url)
    for secret in (PASSWORD, code, "another-Wrong-pass"):
        assert secret.encode() not in data
    assert b"scrypt$" in data


def test_global_default_applies_to_new_users_only(office: Office, accounts: AccountService):
    ctx = office.ctx
    assert not accounts.clients_may_configure_default()
    assert not ctx.users.create(ctx.actor, UserInput(login="c1", full_name="C One")).may_configure_ksef
    accounts.set_clients_may_configure_default(ctx.actor, True)
    assert accounts.clients_may_configure_default()
    assert ctx.users.create(ctx.actor, UserInput(login="c2", full_name="C Two")).may_configure_ksef
    assert not ctx.users.create(ctx.actor, UserInput(login="c3", full_name="C Three",
                                                     may_configure_ksef=False)).may_configure_ksef
    assert not ctx.users.find_by_login(ctx.actor, "c1").may_configure_ksef  # existing users keep theirs
    c1 = ctx.users.find_by_login(ctx.actor, "c1")  # an update without the flag keeps it
    assert not ctx.users.update(ctx.actor, c1.id, c1.version, UserInput(login="c1", full_name="C Uno")).may_configure_ksef
    assert ctx.audit.entries(ctx.actor, action="setting.update")[0].after == {"value": True}


def test_serial_allow_block_is_one_audited_transaction(office: Office):
    ctx = office.ctx
    ids = [office.anna, office.bob, office.ewa, 99999]
    result = ctx.users.serial_set_may_configure(ctx.actor, ids, False)
    assert sorted(result.changed) == sorted([office.anna, office.bob])
    assert result.unchanged == [office.ewa] and result.missing == [99999]
    assert not ctx.users.get(ctx.actor, office.anna).may_configure_ksef
    assert len(ctx.audit.entries(ctx.actor, action="user.ksef_block")) == 2
    from ksef_tui.errors import OperationCancelled

    with pytest.raises(OperationCancelled):
        ctx.users.serial_set_may_configure(ctx.actor, ids, True, should_cancel=lambda: True)
    assert not ctx.users.get(ctx.actor, office.anna).may_configure_ksef  # nothing changed
    seen = []
    result = ctx.users.serial_set_may_configure(ctx.actor, ids, True, progress=lambda d, t: seen.append((d, t)))
    assert len(result.changed) == 3 and seen[-1] == (4, 4)
    with pytest.raises(PermissionDenied):
        ctx.users.serial_set_may_configure(office.actor(office.anna), ids, True)


def test_audit_filters_and_csv_export(office: Office):
    import csv
    import io

    from ksef_tui.services.audit import AuditFilter

    ctx = office.ctx
    ctx.users.serial_set_may_configure(ctx.actor, [office.anna], False)
    svc = ctx.audit
    assert {e.action for e in svc.entries(ctx.actor, flt=AuditFilter(action="user."))} >= {"user.create", "user.ksef_block"}
    assert [e.object_label for e in svc.entries(ctx.actor, flt=AuditFilter(user="anna", action="user.ksef_block"))] == ["anna"]
    assert [e.object_label for e in svc.entries(ctx.actor, flt=AuditFilter(company="beta"))] == ["Beta S.A."]
    today = ctx.clock().date()  # the day the entries were stamped by the context's clock (UTC)
    assert svc.count(ctx.actor, flt=AuditFilter(date_from=today, date_to=today)) == svc.count(ctx.actor)
    assert svc.count(ctx.actor, flt=AuditFilter(date_to=today - dt.timedelta(days=1))) == 0
    assert svc.count(ctx.actor, flt=AuditFilter(date_from=today + dt.timedelta(days=1))) == 0
    out = io.StringIO()
    n = svc.export_csv(ctx.actor, out, AuditFilter(action="company."), batch=2)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:4] == ["id", "at_utc", "actor", "action"] and len(rows) == n + 1 == 4
    assert [r[6] for r in rows[1:]] == ["Alfa Sp. z o.o.", "Beta S.A.", "Gamma sp.j."]
    assert "user.ksef_allow" in svc.actions(ctx.actor) or "user.ksef_block" in svc.actions(ctx.actor)
    with pytest.raises(PermissionDenied):
        svc.export_csv(office.actor(office.anna), io.StringIO())


def test_cli_admin_create_password_and_code(db_url, tmp_path, capsys, monkeypatch):
    from ksef_tui.cli import main

    monkeypatch.setenv("KSEF_TUI_DATABASE_URL", db_url)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    assert main(["admin", "create", "szef", "--full-name", "Szef Biura", "--email", "szef@biuro.pl",
                 "--password-file", str(pw)]) == 0
    assert main(["import", "users", str(_users_csv(tmp_path))]) == 0
    assert main(["users", "password", "kasia", "--password-file", str(pw)]) == 0
    capsys.readouterr()
    assert main(["users", "code", "kasia"]) == 0
    code = capsys.readouterr().out.splitlines()[-1]
    assert len(code) == 9 and code[4] == "-"
    assert main(["users", "code", "nobody"]) == 2
    assert "no user with login nobody" in capsys.readouterr().err
    assert main(["admin", "self-service", "allow"]) == 0
    assert "allowed" in capsys.readouterr().out
    from ksef_tui.store.engine import open_database

    db = open_database(db_url)
    try:
        accounts = AccountService(db)
        assert accounts.login("szef", PASSWORD).is_admin
        assert not accounts.login("kasia", PASSWORD).is_admin
    finally:
        db.dispose()


def _users_csv(tmp_path):
    f = tmp_path / "users.csv"
    f.write_text("login,full_name,email,role,companies\nkasia,Kasia Lis,,client,\n", encoding="utf-8")
    return f


def test_downgrade_refused_while_passwords_are_set(office: Office, accounts: AccountService):
    from ksef_tui.store.errors import StoreError
    from ksef_tui.store.migrate import HEAD, current_revision, downgrade

    assert HEAD == "0010"
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    with pytest.raises(StoreError, match="passwords of 1 user"):
        downgrade(office.ctx.db, "0003")
    assert current_revision(office.ctx.db) == HEAD
