"""The CLI through its real entry point (subprocess), as scripts use it."""

import os
import subprocess
import sys

import pytest


def run(*args, db=None, stdin=None, env_extra=None):
    cmd = [sys.executable, "-m", "ksef_tui"]
    if db:
        cmd += ["--database", db]
    env = dict(os.environ) | (env_extra or {})
    return subprocess.run(cmd + list(args), capture_output=True, text=True, input=stdin, env=env, timeout=60)


@pytest.fixture
def companies_csv(tmp_path):
    p = tmp_path / "companies.csv"
    p.write_text("name,nip,ksef_enabled\nAlfa Sp. z o.o.,526-587-76-35,false\nŁąka S.A.,7762811692,true\nGamma,3755747347,false\n", encoding="utf-8")
    return p


def test_help_everywhere():
    for args in ([], ["import"], ["import", "companies"], ["export"], ["companies", "enable-ksef"], ["demo"]):
        r = run(*args, "--help")
        assert r.returncode == 0 and "usage: ksef-tui" in r.stdout


def test_import_enable_export(db_url, companies_csv):
    r = run("import", "companies", str(companies_csv), db=db_url)
    assert r.returncode == 0, r.stderr
    assert "Imported 3 companies" in r.stdout
    r = run("companies", "enable-ksef", "526 587 76 35", "PL3755747347", db=db_url)
    assert r.returncode == 0, r.stderr
    assert "KSeF enabled for 2 companies; 0 already enabled." in r.stdout
    r = run("export", "companies", db=db_url)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split(",")[:3] == ["name", "nip", "ksef_enabled"]
    assert {tuple(ln.split(",")[1:3]) for ln in lines[1:]} == {("5265877635", "true"), ("7762811692", "true"), ("3755747347", "true")}
    r = run("companies", "disable-ksef", "--all", db=db_url)
    assert "KSeF disabled for 3 companies" in r.stdout


def test_bad_import_names_every_line_and_imports_nothing(db_url, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,nip\nA,5265877635\nB,1234567890\nC,12345\nD,7762811692\n")
    r = run("import", "companies", str(p), db=db_url)
    assert r.returncode == 2
    assert "line 3, column nip" in r.stderr and "line 4, column nip" in r.stderr
    assert "Traceback" not in r.stderr
    assert run("export", "companies", db=db_url).stdout.strip() == "name,nip,ksef_enabled,regon,address,notes"


def test_users_import(db_url, companies_csv, tmp_path):
    run("import", "companies", str(companies_csv), db=db_url)
    p = tmp_path / "users.csv"
    p.write_text("login,full_name,email,role,companies\nanna,Anna Nowak,anna@example.pl,client,5265877635;7762811692\nx,Bad,,client,1111111112\n")
    r = run("import", "users", str(p), db=db_url)
    assert r.returncode == 2 and "line 3" in r.stderr and "line 3, column login" in r.stderr
    p.write_text("login,full_name,email,role,companies\nanna,Anna Nowak,anna@example.pl,client,5265877635;7762811692\n")
    assert run("import", "users", str(p), db=db_url).returncode == 0
    assert "anna,Anna Nowak" in run("export", "users", db=db_url).stdout


@pytest.mark.parametrize("nip,msg", [("1234567890", "wrong check digit"), ("52658776ab", "only digits"), ("526587763", "10 digits"), ("9999999999", "no company with NIP 9999999999")])
def test_unknown_or_invalid_nip_changes_nothing(db_url, companies_csv, nip, msg):
    run("import", "companies", str(companies_csv), db=db_url)
    r = run("companies", "enable-ksef", "5265877635", nip, db=db_url)
    assert r.returncode != 0
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "5265877635,false" in run("export", "companies", db=db_url).stdout


def test_unreadable_database_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    r = run("export", "companies", db=f"sqlite:///{bad}")
    assert r.returncode == 1
    assert r.stderr.strip() == f"ksef-tui: The file {bad} is not a ksef-tui database (or it is damaged); it was left as it is."


def test_locked_database_is_one_clear_line(tmp_path):
    import sqlite3

    path = tmp_path / "locked.sqlite3"
    assert run("companies", "enable-ksef", "--all", db=f"sqlite:///{path}").returncode == 0  # creates it
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = run("companies", "enable-ksef", "--all", db=f"sqlite:///{path}", env_extra={"KSEF_TUI_BUSY_TIMEOUT": "0.2"})
        assert r.returncode == 1
        assert "is busy:" in r.stderr and "try again" in r.stderr and len(r.stderr.splitlines()) == 1
        assert f"(pid {os.getpid()}) is writing to it" in r.stderr  # who holds it: this test's process
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_database_from_environment(tmp_path, companies_csv):
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    r = run("import", "companies", str(companies_csv), env_extra={"KSEF_TUI_DATABASE_URL": url})
    assert r.returncode == 0 and (tmp_path / "env.sqlite3").exists()


def test_default_database_in_user_data_dir(companies_csv, tmp_path):
    data = tmp_path / "xdg-data"
    r = run("import", "companies", str(companies_csv), env_extra={"XDG_DATA_HOME": str(data)})
    assert r.returncode == 0
    assert (data / "ksef-tui" / "ksef-tui.sqlite3").exists()


def test_demo_login_starts_at_the_login_screen_with_working_demo_accounts(monkeypatch):
    """`ksef-tui demo --login`: the app starts at the login screen, and the demo accounts it lists
    really log in (the administrator to the panel, the client as a client)."""
    from ksef_tui import cli
    from ksef_tui.services.accounts import AccountService

    seen = {}

    def fake_run_app(ctx, *, login=False):
        seen["login"] = login
        accounts = AccountService(ctx.db)
        seen["logins"] = ctx.options.get("demo_logins")
        seen["admin"] = accounts.login("admin", "admin-demo")
        seen["client"] = accounts.login("client", "client-demo")
        return 0

    from ksef_tui.cli import panel

    monkeypatch.setattr(panel, "run_app", fake_run_app)
    from ksef_tui.vault.envelope import MASTER_KEY_ENV

    monkeypatch.setenv(MASTER_KEY_ENV, "placeholder")  # the demo sets its own key: restored afterwards
    assert cli.main(["demo", "--no-simulator", "--login", "--companies", "20", "--users", "10"]) == 0
    assert seen["login"] is True
    assert {d.login for d in seen["logins"]} == {"admin", "client", "blocked"}
    assert seen["admin"].is_admin and not seen["client"].is_admin
