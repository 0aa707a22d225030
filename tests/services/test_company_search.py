"""The Companies filter through the trigram index (SQLite, migrations 0009 and 0010) finds exactly what
the scan finds, page by page, stays in step with every change of a name or NIP (also when the list's
stretches split), and stops when its answer is stale."""

from __future__ import annotations

import bisect

import pytest

from ksef_tui.demo.seed import demo_nips
from ksef_tui.errors import OperationCancelled
from ksef_tui.services.companies import CompanyFilter, CompanyInput, CompanyService

NAMES = ["Łódź Transport Sp. z o.o.", 'Biuro "Rachunkowe" 100%', "Apteka_Wrzos s.c.", "Żuraw S.A.",
         "ZAKŁAD KANALIZACJI", "Kancelaria Ćma"]


def _scan(svc: CompanyService) -> CompanyService:
    """The same service answering without the index (what it does on PostgreSQL)."""
    plain = CompanyService(svc.db, clock=svc.clock)
    plain._trigram = False
    return plain


@pytest.fixture
def companies(ctx):
    nips = demo_nips(len(NAMES) + 1)[:len(NAMES)]
    for name, nip in zip(NAMES, nips, strict=True):
        ctx.companies.create(ctx.actor, CompanyInput(name=name, nip=nip))
    return ctx, nips


def test_the_index_finds_what_the_scan_finds(companies):
    ctx, nips = companies
    svc, a = ctx.companies, ctx.actor
    if ctx.db.dialect == "sqlite":
        assert svc.has_trigram_index()
    plain = _scan(svc)
    texts = ["lodz", "ŁÓDŹ", "odz tr", '"rach', "100%", "o_w", "pteka_", "zur", "żuraw s.a", "kan", "KANALIZ",
             "ćma", "cma", nips[2][:5], nips[3][2:9], f"PL {nips[1][:3]}-{nips[1][3:6]}", "zz", "a", "q\"q", "%%%"]
    for text in texts:
        flt = CompanyFilter(text=text)
        expected = plain.ids(a, flt)
        assert svc.ids(a, flt) == expected, text
        assert svc.count(a, flt) == len(expected), text
        assert [r.id for r in svc.page(a, flt, 0, 100)] == expected, text
        for ksef in (True, False):
            both = CompanyFilter(text=text, ksef=ksef)
            assert svc.count(a, both) == plain.count(a, both), (text, ksef)


def test_the_index_follows_every_change(companies):
    ctx, nips = companies
    svc, a = ctx.companies, ctx.actor
    row = svc.find_by_nip(a, nips[0])
    svc.update(a, row.id, row.version, CompanyInput(name="Gdańsk Logistyka", nip=nips[0]))
    assert svc.ids(a, CompanyFilter(text="lodz")) == []
    assert svc.ids(a, CompanyFilter(text="gdansk")) == [row.id]
    svc.set_ksef(a, row.id, True)  # a change of neither name nor NIP
    assert svc.ids(a, CompanyFilter(text="gdansk", ksef=True)) == [row.id]
    added = svc.create(a, CompanyInput(name="Łódzka Piekarnia", nip=demo_nips(len(NAMES) + 1)[-1]))
    assert svc.ids(a, CompanyFilter(text="lodz")) == [added.id]
    from sqlalchemy import delete

    from ksef_tui.store.models import Company

    with ctx.db.session() as s:
        s.execute(delete(Company).where(Company.id == added.id))
    assert svc.ids(a, CompanyFilter(text="lodz")) == [] and svc.count(a, CompanyFilter(text="lodz")) == 0


def test_a_stale_filter_query_stops(companies, monkeypatch):
    ctx, _nips = companies
    svc, a = ctx.companies, ctx.actor
    with pytest.raises(OperationCancelled):  # stale before it starts
        svc.count(a, CompanyFilter(text="a"), should_cancel=lambda: True)
    if ctx.db.dialect != "sqlite":
        return  # a running query is stopped through SQLite's progress handler
    monkeypatch.setattr("ksef_tui.store.engine.CANCEL_STEPS", 1)
    for query in (lambda stop: svc.count(a, CompanyFilter(text="a"), should_cancel=stop),
                  lambda stop: svc.page(a, CompanyFilter(text="kan"), 0, 100, should_cancel=stop)):
        looks: list[int] = []

        def stop(looks=looks) -> bool:  # not yet when it starts; stale while it runs
            looks.append(1)
            return len(looks) > 1

        with pytest.raises(OperationCancelled):
            query(stop)
        assert len(looks) > 1
    assert svc.count(a, CompanyFilter(text="a")) == _scan(svc).count(a, CompanyFilter(text="a"))


def _stretches_agree(ctx) -> None:
    """Every stretch counts the companies in its range, and the index keys each company under its
    stretch (what the triggers keep; SQLite only)."""
    with ctx.db.engine.connect() as conn:
        run = conn.exec_driver_sql
        stretches = run("SELECT lower, number, size FROM company_search_stretch ORDER BY lower").all()
        assert [n for _l, n, _s in stretches] == sorted(n for _l, n, _s in stretches)  # numbers in list order
        bounds = [lower for lower, _n, _s in stretches[1:]] + [None]
        for (lower, _number, size), upper in zip(stretches, bounds, strict=True):
            counted = run("SELECT count(*) FROM company WHERE sort_key >= ? AND (? IS NULL OR sort_key < ?)",
                          (lower, upper, upper)).scalar_one()
            assert size == counted, lower
        total = run("SELECT count(*) FROM company").scalar_one()
        assert sum(size for _l, _n, size in stretches) == total
        # each company once in the index, under its stretch's number
        keyed = sorted(run("SELECT rowid FROM company_search").scalars())
        numbers = {lower: number for lower, number, _s in stretches}
        lowers = [lower for lower, _n, _s in stretches]
        expected = []
        for company_id, key in run("SELECT id, sort_key FROM company"):
            lower = lowers[bisect.bisect_right(lowers, key) - 1]
            expected.append((numbers[lower] << 32) + company_id)
        assert keyed == sorted(expected)


def test_pages_in_order_across_stretches_that_split(db, admin):
    """Thousands of companies (the list is cut into stretches of at most 4,096, which split as it
    grows): every page of a filter, at any offset, is the page the scan gives; after renames across
    the list, removals and more companies, too."""
    if db.dialect != "sqlite":
        pytest.skip("the stretches are SQLite's (migration 0010)")
    from sqlalchemy import delete, insert, select, update

    from ksef_tui.demo.seed import company_rows
    from ksef_tui.domain.text import search_key, sort_key
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.models import Company

    ctx = AppContext(db, admin)
    rows = company_rows(9000, seed=5, ksef_share=0.1)
    with db.session() as s:
        s.execute(insert(Company), rows[:6000])
    svc, a = ctx.companies, ctx.actor
    assert svc.has_trigram_index()
    plain = _scan(svc)

    def same_pages() -> None:
        for text in ("apt", "kan", "war", "biu", "pie", "bielik", "sp. z", "123", "zzq"):
            flt = CompanyFilter(text=text)
            expected = plain.ids(a, flt)
            assert svc.count(a, flt) == len(expected), text
            for offset, limit in ((0, 100), (0, 1), (99, 2), (700, 100), (len(expected) - 5, 100)):
                offset = max(0, offset)
                got = [r.id for r in svc.page(a, flt, offset, limit)]
                assert got == expected[offset:offset + limit], (text, offset, limit)
            assert svc.ids(a, flt) == expected, text

    same_pages()
    _stretches_agree(ctx)
    with db.session() as s:
        s.execute(insert(Company), rows[6000:])  # stretches grow past 4,096 and split
        ids = list(s.execute(select(Company.id).order_by(Company.id)).scalars())
        for n, company_id in enumerate(ids[::37]):  # renamed to the other end of the list and back
            name = ("Aaa Apteka " if n % 2 else "Żabka Kancelaria ") + str(n)
            s.execute(update(Company).where(Company.id == company_id).values(
                name=name, search_key=search_key(name), sort_key=sort_key(name)))
        s.execute(delete(Company).where(Company.id.in_(ids[::11])))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM company_search_stretch").scalar_one() > 3
    same_pages()
    _stretches_agree(ctx)
