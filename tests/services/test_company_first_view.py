"""The first view of the Companies list that start-up reads with the standard library's sqlite3 (before
SQLAlchemy is loaded) says what CompanyService says for the unfiltered list: the count, the first page in
the list's order, the same columns, offline-ready included. It vouches only for a SQLite database at the
newest schema where nobody must log in; everything else gets None (the normal opening)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, text, update

from ksef_tui.domain.clock import fixed_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.domain.secret import Secret
from ksef_tui.services.accounts import AccountService
from ksef_tui.services.companies import CompanyFilter, CompanyInput
from ksef_tui.services.company_list import first_view
from ksef_tui.services.users import UserFilter
from ksef_tui.store.first_look import first_look, sqlite_file
from ksef_tui.store.models import KsefCertificate, Membership

DEMO, PROD, TEST = Environment.DEMO, Environment.PRODUCTION, Environment.TEST
NOW = dt.datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=dt.UTC)
PAGE = 100


@pytest.fixture
def sqlite_only(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the first view reads SQLite only; on PostgreSQL: test_postgresql_takes_the_normal_path")


def _service_answer(ctx, limit=PAGE):
    flt = CompanyFilter()
    return ctx.companies.count(ctx.actor, flt), tuple(ctx.companies.page(ctx.actor, flt, 0, limit))


def _certificates(ctx) -> None:
    """Offline-ready and not, in every way the rule tells them apart, on the first page's companies."""
    ids = [r.id for r in ctx.companies.page(ctx.actor, CompanyFilter(), 0, 11)]
    with ctx.db.session() as s:
        members = {(u, c) for u, c in s.execute(select(Membership.user_id, Membership.company_id))}
        users = sorted({u for u, _ in members})
        member_of = {}
        for n, company_id in enumerate(ids):  # each of them with a member of its own
            member_of[company_id] = users[n]
            if (users[n], company_id) not in members:
                s.add(Membership(user_id=users[n], company_id=company_id))
                members.add((users[n], company_id))
        s.flush()

        def cert(company_id, env, kind="Offline", status="Active", valid_to=NOW + dt.timedelta(days=30), member=True):
            user = member_of[company_id] if member else next(u for u in users if (u, company_id) not in members)
            s.add(KsefCertificate(user_id=user, company_id=company_id, environment=env, certificate_type=kind,
                                  serial=f"S{company_id}{env}{kind}", status=status, valid_to=valid_to,
                                  cert_blob=b"c", key_blob=b"k"))

        cert(ids[0], "DEMO")  # ready in DEMO
        cert(ids[1], "PRODUCTION")
        cert(ids[1], "DEMO")  # ready in both: PRODUCTION first, as the list names them
        cert(ids[2], "DEMO", kind="Authentication")  # logs in, never offline
        cert(ids[3], "DEMO", status="Revoked")
        cert(ids[4], "DEMO", status="Blocked")
        cert(ids[5], "DEMO", status="Expired")
        cert(ids[6], "DEMO", status=None, valid_to=None)  # no status, no end: ready
        cert(ids[7], "DEMO", valid_to=NOW)  # ends right now: no longer
        cert(ids[8], "TEST", valid_to=NOW + dt.timedelta(microseconds=1))  # a microsecond left: ready
        cert(ids[9], "DEMO", member=False)  # held by someone who is not a member
        warsaw = dt.timezone(dt.timedelta(hours=1))
        cert(ids[10], "PRODUCTION", valid_to=(NOW + dt.timedelta(minutes=30)).astimezone(warsaw))  # stored in UTC


def test_the_first_view_is_what_the_service_says(seeded_ctx, db_url, sqlite_only) -> None:
    seeded_ctx.clock = fixed_clock(NOW)
    _certificates(seeded_ctx)
    count, page = _service_answer(seeded_ctx)
    # the data shows the rule at work: the first, second, seventh, ninth and eleventh company are ready
    assert [r.offline_ready for r in page[:11]] == [(DEMO,), (PROD, DEMO), (), (), (), (), (DEMO,), (), (TEST,), (),
                                                   (PROD,)]

    view = first_view(db_url, limit=PAGE, clock=fixed_clock(NOW))
    assert view is not None
    assert (view.count, view.rows) == (count, page) and count == 300 and len(page) == PAGE
    assert {type(r.ksef_enabled) for r in view.rows} == {bool}


def test_ties_in_names_and_a_short_list(ctx, db_url, sqlite_only) -> None:
    for nip in ("5260250274", "5252248481", "7740001454"):  # the same name: ordered by id, as the service does
        ctx.companies.create(ctx.actor, CompanyInput(name="Żabka sp. z o.o.", nip=nip, ksef_enabled=nip < "6"))
    ctx.companies.create(ctx.actor, CompanyInput(name="Ącki", nip="1132853869"))
    view = first_view(db_url, limit=PAGE)
    assert view is not None and (view.count, view.rows) == _service_answer(ctx)
    assert first_view(db_url, limit=2).rows == _service_answer(ctx, 2)[1]


def test_an_empty_database_at_the_newest_schema(db, db_url, sqlite_only) -> None:
    view = first_view(db_url, limit=PAGE)
    assert view is not None and (view.count, view.rows) == (0, ())


def test_when_someone_must_log_in_nothing_is_read(seeded_ctx, db_url, sqlite_only) -> None:
    user = seeded_ctx.users.page(seeded_ctx.actor, UserFilter(), 0, 1)[0]
    AccountService(seeded_ctx.db).set_password(seeded_ctx.actor, user.id, Secret("a long enough password 1"))
    assert first_view(db_url, limit=PAGE) is None
    look = first_look(db_url, limit=PAGE, now=NOW)
    assert look is not None and look.login_required and (look.count, look.rows, look.offline) == (0, (), ())


def test_an_older_or_newer_schema_takes_the_normal_path(tmp_path) -> None:
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.migrate import upgrade_to

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db = open_database(url, migrate=False)
    upgrade_to(db, "0008")
    assert first_view(url, limit=PAGE) is None  # to be migrated first
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    assert first_view(url, limit=PAGE) is None  # made by a newer ksef-tui: the opening says so
    db.dispose()


def test_what_the_first_view_cannot_vouch_for(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "none.sqlite3"
    assert first_view(f"sqlite:///{missing}", limit=PAGE) is None and not missing.exists()  # never created here
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    assert first_view(f"sqlite:///{empty}", limit=PAGE) is None
    other = tmp_path / "other.sqlite3"
    other.write_bytes(b"not a database at all, just text" * 10)
    assert first_view(f"sqlite:///{other}", limit=PAGE) is None
    assert first_view("postgresql+psycopg://u:p@127.0.0.1:1/x", limit=PAGE) is None
    # the settings' database when none is named; a broken settings file is the opening's to report
    monkeypatch.setenv("KSEF_TUI_DATABASE_URL", f"sqlite:///{missing}")
    assert first_view(None, limit=PAGE) is None


def test_a_database_only_readable_is_left_to_the_opening(db, db_url, sqlite_only) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root may write any file")
    path = sqlite_file(db_url)
    assert path is not None
    db.dispose()
    path.chmod(0o400)
    try:
        assert first_view(db_url, limit=PAGE) is None  # the opening refuses it, in its words
    finally:
        path.chmod(0o600)


def test_a_folder_where_the_database_should_be(tmp_path) -> None:
    (tmp_path / "ksef.sqlite3").mkdir()
    assert first_view(f"sqlite:///{tmp_path / 'ksef.sqlite3'}", limit=PAGE) is None


def test_the_urls_it_reads() -> None:
    assert str(sqlite_file("sqlite:////tmp/a b/ksef.sqlite3")) == "/tmp/a b/ksef.sqlite3"
    assert str(sqlite_file("sqlite+pysqlite:///rel/ksef.db")) == "rel/ksef.db"
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "sqlite:///x%20y.db",
                "postgresql+psycopg://u@h/db", "sqlite+aiosqlite:///x.db", "sqlite:///"):
        assert sqlite_file(url) is None, url


def test_postgresql_takes_the_normal_path(ctx, db_url) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("with KSEF_TUI_TEST_DATABASE")
    assert first_view(db_url, limit=PAGE) is None


def test_a_company_gone_and_memberships_changed_are_seen(seeded_ctx, db_url, sqlite_only) -> None:
    seeded_ctx.clock = fixed_clock(NOW)
    _certificates(seeded_ctx)
    first = seeded_ctx.companies.page(seeded_ctx.actor, CompanyFilter(), 0, 1)[0]
    with seeded_ctx.db.session() as s:
        s.execute(delete(Membership).where(Membership.company_id.in_(
            select(KsefCertificate.company_id).where(KsefCertificate.environment == "PRODUCTION"))))
        s.execute(update(KsefCertificate).where(KsefCertificate.environment == "TEST").values(status="Active"))
    seeded_ctx.companies.serial_set_ksef(seeded_ctx.actor, [first.id], not first.ksef_enabled)
    view = first_view(db_url, limit=PAGE, clock=fixed_clock(NOW))
    assert view is not None and (view.count, view.rows) == _service_answer(seeded_ctx)
