"""Login throttling (issue 12 item 5): per source address and per login at a source; the same
work and answer for an unknown login as for a wrong password; no account state before the
right password; a recovery path."""

from __future__ import annotations

import datetime as dt

import pytest

from ksef_tui.services.accounts import (
    AccountInactive,
    AccountService,
    AdministratorNotHere,
    LoginFailed,
    LoginThrottled,
    lock_seconds,
    source_block_seconds,
    terminal_source,
)
from ksef_tui.services.users import UserInput

from .conftest import FAST, Office

PASSWORD = "Długie-hasło-Anny-2026!"


def test_five_wrong_passwords_block_that_login_at_that_source_only(office: Office, accounts: AccountService, fake_time):
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    for _i in range(4):
        with pytest.raises(LoginFailed, match="Wrong login or password") as info:
            accounts.login("anna", "wrong-password", source="web:203.0.113.7")
        assert not isinstance(info.value, LoginThrottled)
    assert fake_time.slept == [0.25, 0.5, 0.75, 1.0]  # every wrong password costs more
    with pytest.raises(LoginThrottled, match=r"Too many wrong attempts: logging in from here is blocked; "
                       r"try again in \d+ s") as info:
        accounts.login("anna", "wrong-password", source="web:203.0.113.7")
    assert info.value.seconds == 30
    # while blocked there, even the right password is refused from there, without checking it
    with pytest.raises(LoginThrottled):
        accounts.login("anna", PASSWORD, source="web:203.0.113.7")
    # ... but whoever guessed at that address has not locked Anna out: from elsewhere she logs in
    assert accounts.login("anna", PASSWORD, source="ssh:198.51.100.2").id == office.anna
    fake_time.now = info.value.until + dt.timedelta(seconds=1)
    with pytest.raises(LoginThrottled) as again:  # the sixth wrong one there blocks for longer
        accounts.login("anna", "still-wrong", source="web:203.0.113.7")
    assert again.value.seconds > info.value.seconds
    assert lock_seconds(5) == 30 and lock_seconds(6) == 60 and lock_seconds(40) == 3600
    fake_time.now = again.value.until + dt.timedelta(seconds=1)
    assert accounts.login("anna", PASSWORD, source="web:203.0.113.7").id == office.anna
    assert accounts.status(office.ctx.actor, office.anna).failed_logins == 0


def test_unknown_login_and_wrong_password_get_the_same_work_and_answer(office: Office, accounts: AccountService,
                                                                         fake_time, monkeypatch):
    import ksef_tui.services.accounts as accounts_module

    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    runs: list[int] = []
    real = accounts_module._scrypt
    monkeypatch.setattr(accounts_module, "_scrypt", lambda *a: runs.append(a[2]) or real(*a))

    def attempts(login: str, source: str) -> tuple[list, list, list]:
        runs.clear()
        fake_time.slept.clear()
        answers = []
        for _i in range(6):
            with pytest.raises(LoginFailed) as info:
                accounts.login(login, "not-the-password", source=source)
            answers.append((type(info.value).__name__, str(info.value)))
        return list(runs), list(fake_time.slept), answers

    known = attempts("anna", "web:192.0.2.1")
    unknown = attempts("nobody-here", "web:192.0.2.2")
    assert known == unknown
    assert known[0] == [FAST.n] * 5  # one scrypt per checked attempt (none once blocked)
    assert [a[0] for a in known[2]] == ["LoginFailed"] * 4 + ["LoginThrottled"] * 2


def test_no_account_state_before_the_right_password(office: Office, accounts: AccountService, fake_time):
    accounts.set_password(office.ctx.actor, office.bob, PASSWORD)
    bob = office.ctx.users.get(office.ctx.actor, office.bob)
    office.ctx.users.update(office.ctx.actor, bob.id, bob.version, UserInput(
        login=bob.login, full_name=bob.full_name, role=bob.role, active=False))
    with pytest.raises(LoginFailed, match="Wrong login or password") as wrong:
        accounts.login("bob", "wrong-password", source="web:192.0.2.3")
    assert type(wrong.value) is LoginFailed
    with pytest.raises(AccountInactive, match="switched off"):
        accounts.login("bob", PASSWORD, source="web:192.0.2.3")
    # an administrator where only clients may log in (the browser portal by default)
    accounts.set_password(office.ctx.actor, office.ewa, PASSWORD)
    with pytest.raises(LoginFailed, match="Wrong login or password") as wrong:
        accounts.login("ewa", "wrong-password", source="web:192.0.2.4", admins=False)
    assert type(wrong.value) is LoginFailed
    with pytest.raises(AdministratorNotHere, match="Administrators do not log in here"):
        accounts.login("ewa", PASSWORD, source="web:192.0.2.4", admins=False)
    assert accounts.login("ewa", PASSWORD, source="web:192.0.2.4").is_admin


def test_a_source_trying_many_logins_is_blocked_for_all_of_them(office: Office, accounts: AccountService, fake_time):
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    for i in range(10):  # ten guesses, each at another login: no login is blocked, the source is next
        with pytest.raises(LoginFailed, match="Wrong login or password"):
            accounts.login(f"guess{i}", "x" * 10, source="web:203.0.113.9")
    with pytest.raises(LoginThrottled) as info:
        accounts.login("guess10", "x" * 10, source="web:203.0.113.9")
    assert info.value.seconds == 30
    with pytest.raises(LoginThrottled):  # the source is blocked for real logins too
        accounts.login("anna", PASSWORD, source="web:203.0.113.9")
    assert accounts.login("anna", PASSWORD, source="web:203.0.113.10").id == office.anna
    fake_time.now += dt.timedelta(seconds=31)
    assert accounts.login("anna", PASSWORD, source="web:203.0.113.9").id == office.anna
    assert source_block_seconds(11) == 30 and source_block_seconds(13) == 120 and source_block_seconds(99) == 900


def test_the_one_time_code_path_is_throttled_alike(office: Office, accounts: AccountService, fake_time):
    accounts.issue_code(office.ctx.actor, office.anna)
    for login in ("anna", "nobody"):
        for _i in range(4):
            with pytest.raises(LoginFailed, match="Wrong login or password"):
                accounts.login_with_code(login, "AAAA-AAAA", PASSWORD, source="web:198.51.100.20")
        with pytest.raises(LoginThrottled):
            accounts.login_with_code(login, "AAAA-AAAA", PASSWORD, source="web:198.51.100.20")


def test_recovery_path_setting_a_password_clears_the_blocks(office: Office, accounts: AccountService, fake_time):
    accounts.set_password(office.ctx.actor, office.ewa, PASSWORD)
    for _i in range(5):
        with pytest.raises(LoginFailed):
            accounts.login("ewa", "wrong-password")
    with pytest.raises(LoginThrottled):
        accounts.login("ewa", PASSWORD)
    accounts.set_password(office.ctx.actor, office.ewa, PASSWORD + "!")  # `ksef-tui users password ewa`
    assert accounts.login("ewa", PASSWORD + "!").is_admin


def test_the_audit_records_where_a_login_came_from(office: Office, accounts: AccountService):
    accounts.set_password(office.ctx.actor, office.anna, PASSWORD)
    accounts.login("anna", PASSWORD, source="web:2001:db8::5")
    entry = office.ctx.audit.entries(office.ctx.actor, action="user.login")[0]
    assert entry.after == {"source": "web:2001:db8::5"}
    assert terminal_source({"SSH_CONNECTION": "198.51.100.2 52000 10.0.0.1 22"}) == "ssh:198.51.100.2"
    assert terminal_source({}) == "local"


def test_a_login_typed_is_never_stored_in_clear(office: Office, accounts: AccountService, db_url, database_bytes):
    typed = "Tajne-Hasło-W-Polu-Loginu"  # a password typed into the login field by mistake
    with pytest.raises(LoginFailed):
        accounts.login(typed, "whatever-else")
    office.ctx.db.dispose()
    assert typed.encode() not in database_bytes(db_url)
