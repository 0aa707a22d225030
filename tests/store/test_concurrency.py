"""Two administrators (two engines stand for two processes) editing the same rows: the
second save is a conflict with a clear message, and nothing is lost. SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from ksef_tui.domain.environments import Environment
from ksef_tui.errors import ConflictError
from ksef_tui.services.actor import Actor
from ksef_tui.services.companies import CompanyFilter, CompanyInput
from ksef_tui.services.context import AppContext
from ksef_tui.services.users import UserInput
from ksef_tui.store.engine import open_database

ADMIN = Actor.local_admin("t")
NIP = "5265877635"
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9"
TOKEN2 = "20251010-EC-1DCE3E3000-12ECB5B36E-46|nip-5265877635|0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def two(db_url):
    a, b = open_database(db_url), open_database(db_url)
    yield AppContext(a, ADMIN), AppContext(b, ADMIN)
    a.dispose()
    b.dispose()


def test_user_edited_by_two_administrators(two):
    a, b = two
    u = a.users.create(ADMIN, UserInput(login="anna", full_name="Anna Nowak"))
    seen_a, seen_b = a.users.get(ADMIN, u.id), b.users.get(ADMIN, u.id)
    a.users.update(ADMIN, u.id, seen_a.version, UserInput(login="anna", full_name="Anna Nowak-Kowalska"))
    with pytest.raises(ConflictError, match="Someone else changed this user"):
        b.users.update(ADMIN, u.id, seen_b.version, UserInput(login="anna", full_name="Anna B", email="a@b.pl"))
    fresh = b.users.get(ADMIN, u.id)
    assert fresh.full_name == "Anna Nowak-Kowalska" and fresh.email is None
    b.users.update(ADMIN, u.id, fresh.version, UserInput(login="anna", full_name=fresh.full_name, email="a@b.pl"))
    final = a.users.get(ADMIN, u.id)
    assert (final.full_name, final.email) == ("Anna Nowak-Kowalska", "a@b.pl")  # both edits kept


def _credential_setup(ctx):
    c = ctx.companies.create(ADMIN, CompanyInput(name="Alfa", nip=NIP, ksef_enabled=True))
    u = ctx.users.create(ADMIN, UserInput(login="anna", full_name="Anna Nowak", may_configure_ksef=True), [c.id])
    return c, u


def test_credential_saved_by_two_administrators(two):
    a, b = two
    c, u = _credential_setup(a)
    v0 = a.credentials.save_token(ADMIN, u.id, c.id, Environment.DEMO, TOKEN)
    seen_by_b = b.credentials.get(ADMIN, u.id, c.id, Environment.DEMO)
    a.credentials.save_token(ADMIN, u.id, c.id, Environment.DEMO, TOKEN2, expected_version=v0.version)
    with pytest.raises(ConflictError, match="Someone else changed this KSeF setting"):
        b.credentials.save_token(ADMIN, u.id, c.id, Environment.DEMO, TOKEN, expected_version=seen_by_b.version)
    from ksef_tui.domain.auth import AuthMethod

    with pytest.raises(ConflictError):
        b.credentials.set_method(ADMIN, u.id, c.id, Environment.DEMO, AuthMethod.TOKEN,
                                 expected_version=seen_by_b.version)
    assert b.credentials.get(ADMIN, u.id, c.id, Environment.DEMO).token_last4 == TOKEN2[-4:]


def test_stale_credential_row_never_overwrites_a_newer_one(two):
    """The race behind every read-then-write: a row read before another process saved is
    refused at write time (the version is part of the UPDATE), not silently overwritten."""
    from ksef_tui.store.models import KsefCredential

    a, b = two
    c, u = _credential_setup(a)
    a.credentials.save_token(ADMIN, u.id, c.id, Environment.DEMO, TOKEN)
    with pytest.raises(ConflictError, match="Someone else changed this record"), b.db.session() as s:
        row = s.query(KsefCredential).one()  # B reads ...
        a.credentials.save_token(ADMIN, u.id, c.id, Environment.DEMO, TOKEN2)  # ... A saves ...
        row.token_status = "stale"  # ... B writes what it read
        row.version += 1
    view = a.credentials.get(ADMIN, u.id, c.id, Environment.DEMO)
    assert view.token_last4 == TOKEN2[-4:] and view.version == 2


def _companies(ctx, n: int) -> list[int]:
    from ksef_tui.domain.nip import make_nip

    ids, k = [], 0
    while len(ids) < n:
        k += 1
        nip = make_nip(f"{123000000 + k:09d}")
        if nip:
            ids.append(ctx.companies.create(ADMIN, CompanyInput(name=f"Firma {len(ids):03d}", nip=nip)).id)
    return ids


def test_serial_operation_skips_rows_another_administrator_changed(two):
    a, b = two
    ids = _companies(a, 6)
    seen = {r.id: r.version for r in a.companies.page(ADMIN, CompanyFilter(), 0, 100)}
    # meanwhile B renames one company and switches KSeF on and off again for another
    detail = b.companies.get(ADMIN, ids[1])
    b.companies.update(ADMIN, ids[1], detail.version, CompanyInput(name="Renamed by B", nip=detail.nip))
    b.companies.set_ksef(ADMIN, ids[2], True)
    b.companies.set_ksef(ADMIN, ids[2], False)
    b.companies.set_ksef(ADMIN, ids[3], True)  # changed, but already as requested
    result = a.companies.serial_set_ksef(ADMIN, ids, True, expected_versions=seen)
    assert result.skipped == sorted([ids[1], ids[2]])
    assert result.changed == sorted([ids[0], ids[4], ids[5]])
    assert result.unchanged == [ids[3]] and result.missing == [] and result.total == 6
    assert b.companies.get(ADMIN, ids[1]).name == "Renamed by B"
    assert b.companies.get(ADMIN, ids[1]).ksef_enabled is False  # left as B saved it
    assert a.audit.count(ADMIN, action="company.ksef_enable") == 3 + 2  # 3 serial + B's two


def test_serial_result_keeps_its_old_shape():
    from ksef_tui.services.companies import SerialResult

    r = SerialResult(changed=[1], unchanged=[2], missing=[3])
    assert r.skipped == [] and r.total == 3


def test_edit_during_a_serial_operation_waits_and_meets_a_conflict(two, monkeypatch):
    """B saves a company while A's serial operation holds it: B waits for A, then is told
    to reload (its version is gone); A's change and, after the reload, B's are both kept."""
    import ksef_tui.services.companies as companies

    a, b = two
    ids = _companies(a, 6)
    monkeypatch.setattr(companies, "CHUNK", 2)
    seen_by_b = b.companies.get(ADMIN, ids[0])
    mid, go = threading.Event(), threading.Event()
    outcome: dict = {}

    def progress(done, total):
        if done == 2:
            mid.set()
            go.wait(30)

    def serial():
        outcome["serial"] = a.companies.serial_set_ksef(ADMIN, ids, True, progress=progress)

    def edit():
        try:
            b.companies.update(ADMIN, ids[0], seen_by_b.version, CompanyInput(name="Edited by B", nip=seen_by_b.nip))
            outcome["edit"] = "saved"
        except ConflictError as exc:
            outcome["edit"] = exc

    from sqlalchemy import event

    writing = threading.Event()  # B has sent its write: from here on it can only wait for A

    def sent(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "BEGIN IMMEDIATE")):
            writing.set()

    event.listen(b.db.engine, "before_cursor_execute", sent)
    t1 = threading.Thread(target=serial)
    t1.start()
    assert mid.wait(30)
    t2 = threading.Thread(target=edit)
    t2.start()
    assert writing.wait(30)
    assert "edit" not in outcome  # B waits for A's row lock (PostgreSQL) or writer lock (SQLite)
    go.set()
    t1.join(30)
    t2.join(30)
    assert outcome["serial"].changed == sorted(ids)
    assert isinstance(outcome["edit"], ConflictError)
    fresh = b.companies.get(ADMIN, ids[0])
    assert fresh.ksef_enabled is True and fresh.name == "Firma 000"
    b.companies.update(ADMIN, ids[0], fresh.version, CompanyInput(name="Edited by B", nip=fresh.nip, ksef_enabled=True))
    final = a.companies.get(ADMIN, ids[0])
    assert final.name == "Edited by B" and final.ksef_enabled is True
