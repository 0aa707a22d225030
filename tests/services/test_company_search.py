"""The Companies filter through the trigram index (SQLite, migration 0009) finds exactly what the
scan finds, stays in step with every change of a name or NIP, and stops when its answer is stale."""

from __future__ import annotations

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
