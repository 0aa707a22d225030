"""UI fixtures on top of the shared ``ctx`` / ``seeded_ctx`` (tests/conftest.py)."""

from __future__ import annotations

import pytest

from ksef_tui.services.companies import CompanyFilter, CompanyRow
from ksef_tui.services.context import AppContext
from ksef_tui.ui.app import KsefApp
from tests.pilot import no_blink, settle, wait_until  # noqa: F401  (the tests import them from here)


@pytest.fixture
def app(seeded_ctx: AppContext) -> KsefApp:
    return KsefApp(seeded_ctx)


def rows(ctx: AppContext, flt: CompanyFilter | None = None, limit: int = 1000) -> list[CompanyRow]:
    return ctx.companies.page(ctx.actor, flt or CompanyFilter(), 0, limit)
