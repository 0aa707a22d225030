"""Names whose search or sort key grows past its column (250 letters ż sort as 750 characters; U+FDFA
decomposes into 18 letters): on PostgreSQL the insert failed with the driver's "value too long" and a
NUL in a name with its own raw error. Now such names are saved and found on either database, and a NUL
is refused with a sentence. (Runs on PostgreSQL with KSEF_TUI_TEST_DATABASE.)"""

from __future__ import annotations

import pytest

from ksef_tui.demo.seed import demo_nips
from ksef_tui.errors import ValidationFailed
from ksef_tui.services.companies import CompanyFilter, CompanyInput
from ksef_tui.services.users import UserFilter, UserInput

LONG = ["ż" * 250, "\ufdfa" * 250, "\u0390" * 250]


def test_names_whose_keys_outgrow_their_columns_are_saved_and_found(ctx):
    a = ctx.actor
    for name, nip in zip(LONG, demo_nips(len(LONG), seed=99), strict=True):
        ctx.companies.create(a, CompanyInput(name=name, nip=nip))
        assert [r.name for r in ctx.companies.page(a, CompanyFilter(text=name[:20]), 0, 10)] == [name]
    for i, full_name in enumerate(n[:200] for n in LONG):
        ctx.users.create(a, UserInput(login=f"long{i}", full_name=full_name))
        assert [r.full_name for r in ctx.users.page(a, UserFilter(text=full_name[:20]), 0, 10)] == [full_name]


def test_a_nul_in_a_name_is_refused_in_words(ctx):
    with pytest.raises(ValidationFailed, match=r"control character \(U\+0000\) at character 5"):
        ctx.companies.create(ctx.actor, CompanyInput(name="Alfa\x00Beta", nip=demo_nips(1, seed=98)[0]))
