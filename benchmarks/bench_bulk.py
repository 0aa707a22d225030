"""Bulk "Test authorization" against the simulator with the production request limits on.

    python -m benchmarks.bench_bulk [--users 1000] [--status-delay 0]

Prints the least time the limits allow (PROTOCOL.md §8) for the requests that are needed, the
measured time, their ratio (the acceptance bar is 1.2), and the 429s met.

The bound: a token authorization needs /auth/challenge and /auth/ksef-token (public: counted per
IP), then GET /auth/{ref} (at least once) and /auth/token/redeem (protected: counted per context
and IP); plus one /security/public-key-certificates. The auth group allows 60 requests per sliding
second, so ``R`` requests on one key need at least ``floor((R - 1) / 60)`` seconds; the busiest
key (the IP, for the public requests) sets the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections import Counter
from pathlib import Path

#: the day the seeded tokens were issued: the office's tokens from before 2027, which the token policy's
#: last day applies to (fixed, so nothing seeded depends on the day the tests or benchmarks run)
TOKENS_ISSUED_AT = dt.datetime(2026, 10, 15, 9, 0, tzinfo=dt.UTC)


def seed_token_users(ctx, sim, count: int, env, *, users_per_company: int = 1, seed: int = 11,
                     issued_at: dt.datetime | None = TOKENS_ISSUED_AT) -> list:
    """``count`` users, each in a KSeF-enabled company (``users_per_company`` share one), each with a
    working KSeF token issued by ``sim`` (at ``issued_at``; None: now) saved for ``env``. Returns the
    bulk targets."""
    from sqlalchemy import insert

    from ksef_tui.demo.seed import demo_nips
    from ksef_tui.services.ksef.bulk import Target
    from ksef_tui.store.models import Company, Membership, User, utcnow

    companies = max(1, -(-count // users_per_company))
    nips = demo_nips(companies, seed=seed)
    now = utcnow()
    with ctx.db.session() as s:
        cids = [r[0] for r in s.execute(insert(Company).returning(Company.id), [
            {"name": f"Firma {i:04d} sp. z o.o.", "nip": nip, "ksef_enabled": True, "search_key": nip,
             "sort_key": f"firma {i:04d}", "created_at": now, "updated_at": now, "version": 1}
            for i, nip in enumerate(nips)]).all()]
        uids = [r[0] for r in s.execute(insert(User).returning(User.id), [
            {"login": f"user{i:04d}", "full_name": f"User {i:04d}", "email": None, "role": "client",
             "active": True, "may_configure_ksef": False, "search_key": f"user{i:04d}",
             "sort_key": f"user {i:04d}", "created_at": now, "updated_at": now, "version": 1}
            for i in range(count)]).all()]
        s.execute(insert(Membership), [{"user_id": uid, "company_id": cids[i // users_per_company]}
                                       for i, uid in enumerate(uids)])
    targets = []
    for i, uid in enumerate(uids):
        cid, nip = cids[i // users_per_company], nips[i // users_per_company]
        token = sim.issue_ksef_token(nip, description=f"bench token user{i:04d}", issued_at=issued_at)
        ctx.credentials.save_token(ctx.actor, uid, cid, env, token, status="Active")
        targets.append(Target(uid, cid, env, f"user{i:04d} ({nip})"))
    return targets


def limits_bound_s(users: int, requests_per_key: dict[str, int] | None = None) -> tuple[float, int]:
    """The least seconds the production limits allow, and the busiest key's request count."""
    from ksef_tui.ksef.limits import AUTH, RateLimiter

    limiter = RateLimiter()
    public = 2 * users + 1
    busiest = max([public, *(requests_per_key or {}).values()])
    return limiter.minimum_seconds(AUTH, busiest), busiest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--status-delay", type=float, default=0.0,
                   help="seconds an authorization stays at status 100 in the simulator (default 0)")
    p.add_argument("--concurrency", type=int, default=None)
    args = p.parse_args(argv)

    from ksef_tui.domain.environments import Environment
    from ksef_tui.ksef.http import SentRequest
    from ksef_tui.ksef.limits import RateLimiter
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.ksef.bulk import DEFAULT_CONCURRENCY, KsefBulk, run_bulk
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread
    from ksef_tui.store.engine import open_database

    tmp = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    import os

    os.environ.setdefault("XDG_CONFIG_HOME", str(tmp / "config"))
    os.environ.setdefault("XDG_DATA_HOME", str(tmp / "data"))
    db = open_database(f"sqlite:///{tmp / 'bench.sqlite3'}")
    ctx = AppContext(db, Actor.local_admin("bench"))
    server = start_in_thread(create_app(SimulatorConfig(
        mode="strict", rate_limits=True, status_delay_s=args.status_delay)))
    env = Environment.DEMO
    try:
        ctx.credentials.connections.set_endpoint(ctx.actor, env, server.base_url)
        t0 = time.perf_counter()
        targets = seed_token_users(ctx, server.sim, args.users, env)
        seed_s = time.perf_counter() - t0

        statuses: Counter[int | None] = Counter()
        paths: Counter[str] = Counter()

        def observe(sent: SentRequest) -> None:
            statuses[sent.status] += 1
            paths[sent.path.split("/")[1] + "/" + (sent.path.split("/")[2] if sent.path.count("/") > 1 else "")] += 1

        from ksef_tui.ksef.gateway import KsefGateway

        limiter = RateLimiter()
        endpoint = ctx.credentials.connections.endpoint(env)

        async def run():
            async with KsefBulk(ctx.credentials, ctx.actor, limiter=limiter,
                                gateway_factory=lambda e: KsefGateway(endpoint, limiter=limiter,
                                                                      observer=observe)) as bulk:
                return await run_bulk("test", targets, bulk.test_authorization,
                                      concurrency=args.concurrency or DEFAULT_CONCURRENCY)

        t0 = time.perf_counter()
        report = asyncio.run(run())
        measured = time.perf_counter() - t0
    finally:
        server.stop()
        db.dispose()
    bound, busiest = limits_bound_s(args.users)
    counts = report.counts
    print(f"users: {args.users}   seeding: {seed_s:.1f} s   simulator status delay: {args.status_delay:g} s")
    print(f"requests: {sum(statuses.values())}  by status: {dict(statuses)}  limiter waits: {limiter.stats.waits}")
    print(f"rows: {counts}")
    print(f"bound from the limits: {bound:.1f} s ({busiest} auth-group requests from one IP at 60/s)   "
          f"1.2x bound: {1.2 * bound:.1f} s")
    print(f"measured: {measured:.1f} s   ratio: {measured / bound if bound else float('nan'):.2f}   "
          f"429 received: {statuses.get(429, 0)} (each waited out and repeated)")
    ok = counts["ok"] == args.users and measured <= 1.2 * bound
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
