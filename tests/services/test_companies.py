import pytest
from sqlalchemy import text

from ksef_tui.errors import ConflictError, OperationCancelled, PermissionDenied, ValidationFailed
from ksef_tui.services.actor import Actor
from ksef_tui.services.companies import CompanyFilter, CompanyInput, CompanyService


def test_create_validates_and_normalizes(ctx):
    c = ctx.companies.create(ctx.actor, CompanyInput(name="  ACME  [/]  ", nip="PL 526-587-76-35"))
    assert c.nip == "5265877635" and c.name == "ACME [/]" and c.version == 1
    with pytest.raises(ValidationFailed) as e:
        ctx.companies.create(ctx.actor, CompanyInput(name="Other", nip="5265877635"))
    assert "already exists" in e.value.errors["nip"]
    for bad, word in (("1234567890", "check digit"), ("52658776AB", "only digits"), ("526587763", "10 digits")):
        with pytest.raises(ValidationFailed) as e:
            ctx.companies.create(ctx.actor, CompanyInput(name="X", nip=bad))
        assert bad in e.value.errors["nip"] and word in e.value.errors["nip"]


def test_filter_in_sql_by_name_nip_and_state(seeded_ctx):
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    total = svc.count(a)
    assert total == 300
    first = svc.page(a, CompanyFilter(), 0, 300)
    assert len(first) == 300 and len({r.id for r in first}) == 300
    nip = first[10].nip
    assert [r.nip for r in svc.page(a, CompanyFilter(text=f"{nip[:3]}-{nip[3:6]}"), 0, 300)].count(nip) == 1
    word = first[0].name.split()[0]
    named = svc.page(a, CompanyFilter(text=word.upper()), 0, 1000)
    assert named and all(word.lower() in r.name.lower() for r in named)
    on = svc.count(a, CompanyFilter(ksef=True))
    off = svc.count(a, CompanyFilter(ksef=False))
    assert on + off == total and on > 0
    assert svc.ids(a, CompanyFilter(ksef=True)) == [r.id for r in first if r.ksef_enabled]
    # LIKE wildcards are literal
    assert svc.count(a, CompanyFilter(text="%")) == 0


def test_serial_enable_is_one_transaction_with_one_audit_entry_per_change(seeded_ctx):
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    rows = svc.page(a, CompanyFilter(ksef=False), 0, 3) + svc.page(a, CompanyFilter(ksef=True), 0, 2)
    ids = [r.id for r in rows]
    before = seeded_ctx.audit.count(a, action="company.ksef_enable")
    result = svc.serial_set_ksef(a, [*ids, 999_999], True)
    assert result.changed == sorted(ids[:3])
    assert result.unchanged == sorted(ids[3:])
    assert result.missing == [999_999]
    assert seeded_ctx.audit.count(a, action="company.ksef_enable") == before + 3
    assert all(svc.get(a, i).ksef_enabled for i in ids)
    assert svc.get(a, ids[0]).version == 2 and svc.get(a, ids[3]).version == 1


def test_serial_failure_midway_changes_nothing(seeded_ctx, monkeypatch):
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 50)
    ids = svc.ids(a, CompanyFilter(ksef=False))
    calls = {"n": 0}
    real = CompanyService._apply_chunk

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(CompanyService, "_apply_chunk", staticmethod(failing))
    audit_before = seeded_ctx.audit.count(a)
    with pytest.raises(RuntimeError):
        svc.serial_set_ksef(a, ids, True)
    assert svc.count(a, CompanyFilter(ksef=False)) == len(ids)
    assert seeded_ctx.audit.count(a) == audit_before


def test_serial_cancel_changes_nothing(seeded_ctx, monkeypatch):
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 20)
    ids = svc.ids(a, CompanyFilter(ksef=False))
    seen = []
    with pytest.raises(OperationCancelled):
        svc.serial_set_ksef(a, ids, True, progress=lambda d, t: seen.append(d), should_cancel=lambda: len(seen) >= 3)
    assert len(seen) == 3 and svc.count(a, CompanyFilter(ksef=False)) == len(ids)


def _indexes(ctx) -> set[str]:
    with ctx.db.engine.connect() as conn:
        if ctx.db.dialect == "sqlite":
            return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
        return set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'company'")).scalars())


def _autocheckpoint(ctx) -> int | None:
    """SQLite's automatic checkpoint on the pooled connection (a large operation turns it off until it commits)."""
    if ctx.db.dialect != "sqlite":
        return None
    with ctx.db.engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def test_serial_over_most_companies_keeps_the_ksef_index_and_the_versions_seen(seeded_ctx, monkeypatch):
    """A large serial operation (SQLite builds the KSeF index again instead of moving its entries):
    cancelled, the index and the data are as before; done, the index is there, the KSeF filter
    lists the right companies in order, a company changed since it was seen is skipped."""
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    monkeypatch.setattr("ksef_tui.services.companies.REBUILD_INDEX_AT", 10)
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 40)
    every = svc.ids(a)
    off = svc.ids(a, CompanyFilter(ksef=False))
    with pytest.raises(OperationCancelled):
        svc.serial_set_ksef(a, every, True, should_cancel=lambda: True)
    assert "ix_company_ksef" in _indexes(seeded_ctx) and svc.ids(a, CompanyFilter(ksef=False)) == off
    assert _autocheckpoint(seeded_ctx) in (None, 1000)  # SQLite checkpoints after commits again
    stale = svc.get(a, off[0])
    svc.update(a, stale.id, stale.version, CompanyInput(name=stale.name + " bis", nip=stale.nip))
    result = svc.serial_set_ksef(a, [*every, 999_999], True, expected_versions={stale.id: stale.version})
    assert result.skipped == [stale.id] and result.missing == [999_999]
    assert result.changed == sorted(set(off) - {stale.id})
    assert result.unchanged == sorted(set(every) - set(off))
    assert "ix_company_ksef" in _indexes(seeded_ctx) and _autocheckpoint(seeded_ctx) in (None, 1000)
    assert svc.ids(a, CompanyFilter(ksef=False)) == [stale.id]
    assert svc.ids(a, CompanyFilter(ksef=True)) == [i for i in every if i != stale.id]
    assert seeded_ctx.audit.count(a, action="company.ksef_enable") >= len(result.changed)


def test_serial_over_runs_of_ids_with_gaps_and_ids_that_do_not_exist(seeded_ctx, monkeypatch):
    """The chosen ids are told to the database as runs of consecutive ids cut into chunks: a run that
    begins and ends with ids no company has, gaps between runs, runs cut by chunks; every company
    chosen ends switched, each with its audit entry, the ids no company has come back as missing."""
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 7)
    every = sorted(svc.ids(a))
    left_out = set(every[5:9]) | set(every[40:41]) | set(every[100:150])
    chosen = [-2, -1, 0] + [i for i in every if i not in left_out] + [every[-1] + 1, every[-1] + 2]
    on_before = set(svc.ids(a, CompanyFilter(ksef=True)))
    audit_before = seeded_ctx.audit.count(a, action="company.ksef_enable")
    steps: list[tuple[int, int]] = []
    result = svc.serial_set_ksef(a, reversed(chosen), True, progress=lambda d, t: steps.append((d, t)),
                                 expected_versions={every[0]: 1, every[5]: 1})
    assert steps == [(d, len(chosen)) for d in [*range(7, len(chosen), 7), len(chosen)]]  # chunk by chunk
    expected_changed = sorted(set(every) - left_out - on_before)
    assert result.changed == expected_changed
    assert result.unchanged == sorted((set(every) - left_out) & on_before)
    assert result.missing == [-2, -1, 0, every[-1] + 1, every[-1] + 2] and result.skipped == []
    assert seeded_ctx.audit.count(a, action="company.ksef_enable") == audit_before + len(expected_changed)
    assert set(svc.ids(a, CompanyFilter(ksef=False))) == left_out - on_before
    entry = seeded_ctx.audit.entries(a, action="company.ksef_enable", limit=1)[0]
    assert entry.object_type == "company" and entry.actor_login == a.login
    assert entry.before == {"ksef_enabled": False} and entry.after == {"ksef_enabled": True}
    assert entry.object_label == svc.get(a, entry.object_id).name
    # again: nothing to change, every company chosen is already on
    again = svc.serial_set_ksef(a, chosen, True)
    assert again.changed == [] and again.unchanged == sorted(set(every) - left_out)
    assert again.missing == result.missing


def test_serial_over_a_scattered_selection(seeded_ctx, monkeypatch):
    """Every other company and ids no company has between them (told to the database id by id, not
    as runs): the same outcome, chunk by chunk."""
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 7)
    every = sorted(svc.ids(a))
    chosen = every[::2] + [every[-1] + 2 * k for k in range(1, 6)]
    on_before = set(svc.ids(a, CompanyFilter(ksef=True)))
    steps: list[int] = []
    result = svc.serial_set_ksef(a, chosen, True, progress=lambda d, t: steps.append(d))
    assert result.changed == sorted(set(every[::2]) - on_before)
    assert result.unchanged == sorted(set(every[::2]) & on_before)
    assert result.missing == [every[-1] + 2 * k for k in range(1, 6)]
    assert steps == [*range(7, len(chosen), 7), len(chosen)]
    assert set(svc.ids(a, CompanyFilter(ksef=False))) == set(every[1::2]) - on_before


def test_serial_preview_counts_what_the_operation_then_does(seeded_ctx, monkeypatch):
    """The preview's counts, for every company chosen (one run holding them all, ids no company has
    around it), a selection with gaps and a scattered one, are what the operation then reports."""
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    every = sorted(svc.ids(a))
    top = every[-1]
    hidden = every[:3]
    names = {r.id: r.name for r in svc.page(a, CompanyFilter(), 0, 1000)}
    in_order = svc.ids(a)
    monkeypatch.setattr("ksef_tui.services.companies.CHUNK", 11)
    selections = [list(range(-3, top + 4)), every, every[:40] + every[60:], every[::3]]
    for flag in (True, False):
        for chosen in selections:
            preview = svc.serial_preview(a, chosen, flag, hidden=hidden)
            hidden_chosen = set(hidden) & set(chosen)  # hidden rows count only when chosen
            assert preview.total == len(chosen) and preview.hidden == len(hidden_chosen)
            assert [n.split(" (NIP")[0] for n in preview.hidden_names] == [
                names[i] for i in in_order if i in hidden_chosen]
            done = svc.serial_set_ksef(a, chosen, flag)  # the operation itself, then undone
            assert (preview.to_change, preview.already, preview.missing) == (
                len(done.changed), len(done.unchanged), len(done.missing))
            svc.serial_set_ksef(a, done.changed, not flag)  # as it was, for the next selection


def test_optimistic_locking(seeded_ctx):
    svc, a = seeded_ctx.companies, seeded_ctx.actor
    c = svc.page(a, CompanyFilter(), 0, 1)[0]
    d = svc.get(a, c.id)
    data = CompanyInput(name=d.name + " bis", nip=d.nip)
    svc.update(a, d.id, d.version, data)
    with pytest.raises(ConflictError, match="Someone else changed"):
        svc.update(a, d.id, d.version, CompanyInput(name="Lost write", nip=d.nip))
    assert svc.get(a, d.id).name == d.name + " bis"
    with pytest.raises(ConflictError):
        svc.set_ksef(a, d.id, not d.ksef_enabled, expected_version=d.version)


def test_update_audits_only_changed_fields(ctx):
    c = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa", nip="7762811692"))
    ctx.companies.update(ctx.actor, c.id, c.version, CompanyInput(name="Alfa", nip="7762811692", regon="123456785"))
    e = ctx.audit.entries(ctx.actor, action="company.update")[0]
    assert e.before == {"regon": None} and e.after == {"regon": "123456785"}


def test_audit_log_is_append_only(ctx):
    ctx.companies.create(ctx.actor, CompanyInput(name="Alfa", nip="7762811692"))
    for stmt in ("UPDATE audit_entry SET action='x'", "DELETE FROM audit_entry"):
        with pytest.raises(Exception, match="append-only"), ctx.db.engine.begin() as conn:
            conn.execute(text(stmt))
    assert ctx.audit.count(ctx.actor) == 1


def test_clients_cannot_manage_companies(seeded_ctx):
    client = Actor(id=5, login="c", role="client")
    with pytest.raises(PermissionDenied):
        seeded_ctx.companies.serial_set_ksef(client, [1], True)
    with pytest.raises(PermissionDenied):
        seeded_ctx.companies.count(client)
