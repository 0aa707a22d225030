"""What the Companies list shows: its filter and its rows, as plain frozen dataclasses.

Kept free of SQLAlchemy (the service that reads them is :class:`~ksef_tui.services.companies.CompanyService`),
so the Companies screen, the panel's first screen, imports without the database layer."""

from __future__ import annotations

from dataclasses import dataclass

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
