import pytest

from ksef_tui.errors import ConflictError
from ksef_tui.services.companies import CompanyInput
from ksef_tui.store.engine import open_database
from ksef_tui.store.errors import StoreError
from ksef_tui.store.migrate import HEAD, current_revision, known_revisions


def test_head_constant_matches_alembic():
    assert known_revisions()[0] == HEAD


def test_new_database_is_at_head_and_wal(db):
    assert current_revision(db) == HEAD
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_two_processes_saving_the_same_company(db_url):
    """Two independent engines stand for two processes: the second save is a conflict."""
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.companies import CompanyService

    a, b = open_database(db_url), open_database(db_url)
    admin = Actor.local_admin("t")
    c = CompanyService(a).create(admin, CompanyInput(name="Alfa", nip="5265877635"))
    first = CompanyService(a).get(admin, c.id)
    second = CompanyService(b).get(admin, c.id)
    CompanyService(a).update(admin, c.id, first.version, CompanyInput(name="Alfa (A)", nip="5265877635"))
    with pytest.raises(ConflictError):
        CompanyService(b).update(admin, c.id, second.version, CompanyInput(name="Alfa (B)", nip="5265877635"))
    assert CompanyService(b).get(admin, c.id).name == "Alfa (A)"


def test_newer_schema_is_refused(db):
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num='9999'")
    with pytest.raises(StoreError, match="newer ksef-tui"):
        open_database(db.url)


def test_bad_url():
    with pytest.raises(StoreError, match="Not a database URL"):
        open_database("not a url")
