"""UserService.set_memberships: replace a user's companies, audited, with optimistic locking."""

from __future__ import annotations

import threading

import pytest

from ksef_tui.errors import ConflictError
from ksef_tui.services.companies import CompanyFilter
from ksef_tui.services.users import UserInput


def _user_and_companies(ctx):
    ids = ctx.companies.ids(ctx.actor, CompanyFilter())[:6]
    user = ctx.users.create(ctx.actor, UserInput(login="ola", full_name="Ola Lis"), ids[:2])
    return user, ids


def _mine(ctx, user_id):
    return sorted(cid for cid, *_ in ctx.users.companies_of(ctx.actor, user_id))


def test_set_memberships_replaces_and_audits_once(seeded_ctx):
    ctx = seeded_ctx
    user, ids = _user_and_companies(ctx)
    after = ctx.users.set_memberships(ctx.actor, user.id, ids[2:5], expected_version=user.version)
    assert _mine(ctx, user.id) == sorted(ids[2:5])
    assert after.version == user.version + 1
    entries = ctx.audit.entries(ctx.actor, action="user.memberships")
    assert len(entries) == 1 and entries[0].after == {"company_ids": sorted(ids[2:5])}
    # the same set again: nothing written, no new version, no audit entry
    again = ctx.users.set_memberships(ctx.actor, user.id, ids[2:5])
    assert again.version == after.version and ctx.audit.count(ctx.actor, action="user.memberships") == 1


def test_set_memberships_with_a_stale_version_is_a_conflict(seeded_ctx):
    ctx = seeded_ctx
    user, ids = _user_and_companies(ctx)
    ctx.users.set_memberships(ctx.actor, user.id, ids[:3], expected_version=user.version)
    with pytest.raises(ConflictError, match="Someone else changed"):
        ctx.users.set_memberships(ctx.actor, user.id, ids[4:], expected_version=user.version)
    assert _mine(ctx, user.id) == sorted(ids[:3])


def test_concurrent_membership_saves_both_land_cleanly(seeded_ctx):
    """Two administrators saving the same user's companies at once: no duplicate-key error; the
    later save wins and each save is audited."""
    ctx = seeded_ctx
    user, ids = _user_and_companies(ctx)
    rounds = 10  # the race needs both inside their transactions at once: try it a few times
    errors: list[BaseException] = []
    for n in range(rounds):
        sets = [ids[:4], ids[2:6]] if n % 2 else [ids[1:5], ids[:3]]
        start = threading.Barrier(2)

        def save(cids, start=start):
            try:
                start.wait(5)
                ctx.users.set_memberships(ctx.actor, user.id, cids)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(c,)) for c in sets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert _mine(ctx, user.id) in (sorted(sets[0]), sorted(sets[1]))
    assert ctx.audit.count(ctx.actor, action="user.memberships") == 2 * rounds
