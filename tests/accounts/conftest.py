"""Accounts fixtures: fast scrypt, a fake clock and sleep, a small panel with two clients."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from ksef_tui.services.accounts import AccountService, ScryptParams
from ksef_tui.services.actor import Actor
from ksef_tui.services.companies import CompanyInput
from ksef_tui.services.context import AppContext
from ksef_tui.services.users import UserInput

NIP_ALFA = "5265877635"   # anna and bob, KSeF on
NIP_BETA = "7762811692"   # nobody of them, KSeF on
NIP_GAMMA = "1234563218"  # anna, KSeF off
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
FAST = ScryptParams(n=2**10, r=8, p=1)


@dataclass
class FakeTime:
    now: dt.datetime = T0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def accounts(ctx: AppContext, fake_time: FakeTime) -> AccountService:
    return AccountService(ctx.db, clock=fake_time.clock, sleep=fake_time.sleep, params=FAST)


@dataclass
class Office:
    ctx: AppContext
    alfa: int
    beta: int
    gamma: int
    anna: int
    bob: int
    ewa: int  # an administrator with a password

    def actor(self, user_id: int) -> Actor:
        d = self.ctx.users.get(self.ctx.actor, user_id)
        return Actor(id=d.id, login=d.login, role=d.role)


@pytest.fixture
def office(ctx: AppContext) -> Office:
    a = ctx.actor
    alfa = ctx.companies.create(a, CompanyInput(name="Alfa Sp. z o.o.", nip=NIP_ALFA, ksef_enabled=True))
    beta = ctx.companies.create(a, CompanyInput(name="Beta S.A.", nip=NIP_BETA, ksef_enabled=True))
    gamma = ctx.companies.create(a, CompanyInput(name="Gamma sp.j.", nip=NIP_GAMMA, ksef_enabled=False))
    anna = ctx.users.create(a, UserInput(login="anna", full_name="Anna Nowak", email="anna@example.pl",
                                         may_configure_ksef=True), [alfa.id, gamma.id])
    bob = ctx.users.create(a, UserInput(login="bob", full_name="Bob Kowalski", may_configure_ksef=True), [alfa.id])
    ewa = ctx.users.create(a, UserInput(login="ewa", full_name="Ewa Admin", email="ewa@biuro.example.pl",
                                        role="admin"))
    return Office(ctx, alfa.id, beta.id, gamma.id, anna.id, bob.id, ewa.id)
