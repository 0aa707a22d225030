"""Realistic demo data: companies with valid NIPs, users with memberships (deterministic)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import insert

from ksef_tui.domain.nip import make_nip
from ksef_tui.domain.text import search_key, sort_key
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import Company, Membership, User, utcnow

_PREFIX = ["Biuro", "Piekarnia", "Hurtownia", "Zakład", "Pracownia", "Studio", "Przedsiębiorstwo",
           "Apteka", "Kancelaria", "Warsztat", "Drukarnia", "Tartak", "Ogrodnictwo", "Transport"]
_CORE = ["Łąka", "Zorza", "Wisła", "Sokół", "Dąbrowa", "Żuraw", "Mazur", "Kasztan", "Bursztyn", "Orzeł",
         "Jawor", "Świt", "Gościniec", "Kłos", "Pszczółka", "Rzemiosło", "Cis", "Wrzos", "Morena", "Bielik"]
_SUFFIX = ["Sp. z o.o.", "S.A.", "s.c.", "Sp.j.", "P.P.H.U.", "Sp. k."]
_CITIES = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Szczecin", "Lublin", "Białystok", "Rzeszów"]
_STREETS = ["Długa", "Krótka", "Polna", "Leśna", "Słoneczna", "Ogrodowa", "Lipowa", "Kościuszki", "Mickiewicza"]
_GIVEN = ["Anna", "Piotr", "Katarzyna", "Tomasz", "Małgorzata", "Paweł", "Agnieszka", "Michał", "Ewa", "Łukasz",
          "Joanna", "Krzysztof", "Magdalena", "Jakub", "Zofia", "Wojciech", "Barbara", "Grzegorz"]
_SURNAME = ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
            "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Krawczyk", "Piątek"]
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


@dataclass(frozen=True)
class DemoSummary:
    companies: int
    users: int


def demo_nips(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        nip = make_nip(str(rng.randint(100_000_000, 999_999_999)))
        if nip and nip not in seen:
            seen.add(nip)
            out.append(nip)
    return out


def company_rows(count: int, seed: int = 7, ksef_share: float = 0.3) -> list[dict]:
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for _i, nip in enumerate(demo_nips(count, seed)):
        name = f"{rng.choice(_PREFIX)} {rng.choice(_CORE)} {rng.choice(_SUFFIX)}"
        city = rng.choice(_CITIES)
        rows.append({
            "name": name, "nip": nip, "regon": None,
            "address": f"ul. {rng.choice(_STREETS)} {rng.randint(1, 120)}, {rng.randint(0, 99):02d}-{rng.randint(0, 999):03d} {city}",
            "ksef_enabled": rng.random() < ksef_share, "notes": None,
            "search_key": search_key(name), "sort_key": sort_key(name),
            "created_at": now, "updated_at": now, "version": 1,
        })
    return rows


def seed_demo(db: Database, actor: Actor, companies: int = 300, users: int = 900, seed: int = 7) -> DemoSummary:
    """Fill an empty database with demo companies and users (one transaction)."""
    require_admin(actor)
    rng = random.Random(seed + 1)
    now = utcnow()
    with db.session() as s:
        ids = [r[0] for r in s.execute(insert(Company).returning(Company.id), company_rows(companies, seed)).all()] if companies else []
        user_rows = []
        for i in range(users):
            given, surname = rng.choice(_GIVEN), rng.choice(_SURNAME)
            if given.endswith("a") and surname.endswith("ski"):
                surname = surname[:-1] + "a"
            login = f"{given[0]}{surname}{i + 1}".lower().translate(_ASCII)
            full = f"{given} {surname}"
            role = "admin" if i < 3 else "client"
            user_rows.append({
                "login": login, "full_name": full, "email": f"{login}@example.pl", "role": role,
                "active": rng.random() > 0.05, "may_configure_ksef": rng.random() < 0.5,
                "search_key": search_key(f"{login} {full} {login}@example.pl"), "sort_key": sort_key(full),
                "created_at": now, "updated_at": now, "version": 1,
            })
        uids = [r[0] for r in s.execute(insert(User).returning(User.id), user_rows).all()] if user_rows else []
        members = []
        for _n, uid in enumerate(uids):
            if not ids:
                break
            k = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
            for cid in rng.sample(ids, min(k, len(ids))):
                members.append({"user_id": uid, "company_id": cid})
        if members:
            s.execute(insert(Membership), members)
        audit.record(s, [audit.audit_values(actor, "demo.seed", "database", None, "demo",
                                            None, {"companies": companies, "users": users}, at=now)])
    return DemoSummary(companies=companies, users=users)
