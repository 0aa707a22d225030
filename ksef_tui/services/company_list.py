"""What the Companies list shows: its filter and its rows (plain frozen dataclasses), and the first
view of it that start-up reads before the database is opened.

Kept free of SQLAlchemy (the service that reads the list is :class:`~ksef_tui.services.companies.CompanyService`),
so the Companies screen, the panel's first screen, imports without the database layer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.environments import Environment


@dataclass(frozen=True)
class CompanyFilter:
    text: str = ""
    ksef: bool | None = None  # None: all; True: KSeF on; False: KSeF off


@dataclass(frozen=True)
class CompanyRow:
    id: int
    name: str
    nip: str
    ksef_enabled: bool
    version: int
    #: the environments where the company is offline-ready (a member holds an active Offline certificate)
    offline_ready: tuple[Environment, ...] = ()


#: the order the list names the environments where a company is offline-ready
OFFLINE_ORDER = (Environment.PRODUCTION, Environment.DEMO, Environment.TEST)


def offline_by_company(pairs: Iterable[tuple[int, str]]) -> dict[int, tuple[Environment, ...]]:
    """(company id, environment) pairs, each company's environments in :data:`OFFLINE_ORDER`."""
    found: dict[int, set[str]] = {}
    for company_id, env in pairs:
        found.setdefault(company_id, set()).add(env)
    return {cid: tuple(e for e in OFFLINE_ORDER if e.value in envs) for cid, envs in found.items()}


@dataclass(frozen=True)
class FirstView:
    """The unfiltered Companies list as the panel's first frame shows it: how many, and the first page."""

    count: int
    rows: tuple[CompanyRow, ...]


def first_view(database_url: str | None, *, limit: int, clock: Clock = system_clock) -> FirstView | None:
    """What :meth:`CompanyService.count` and :meth:`CompanyService.page` (offset 0, ``limit``) say for the
    unfiltered list, read with the standard library from a SQLite database that is already at the newest
    schema and where nobody must log in first, before SQLAlchemy is loaded (start-up runs it in a thread
    while Python imports the UI).

    None: this read cannot vouch for it (PostgreSQL, no database yet, an old schema that must be migrated,
    someone must log in first: then nothing is read, any fault); the panel then opens as ever. The
    acting user is the local administrator, as the panel's is when nobody logs in."""
    try:
        from ksef_tui.settings import get_settings
        from ksef_tui.store.first_look import first_look

        # the database the panel opens (as store.engine.resolve_database_url)
        look = first_look(database_url or get_settings().database_url, limit=limit, now=clock())
    except Exception:  # a broken settings file, a fault: the normal opening says what is wrong
        return None
    if look is None or look.login_required:
        return None
    ready = offline_by_company(look.offline)
    return FirstView(look.count, tuple(CompanyRow(*raw, offline_ready=ready.get(raw[0], ())) for raw in look.rows))
