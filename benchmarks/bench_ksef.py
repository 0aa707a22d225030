"""Benchmark of the KSeF gateway against the loopback simulator.

Run: ``python -m benchmarks.bench_ksef`` (or ``python benchmarks/bench_ksef.py``).

Prints the median of one token and one certificate authorization (>= 20 runs each) and the
wall time of 200 users authorizing concurrently with the simulator's production rate limits
off and on, next to the lower bound those limits allow (PROTOCOL.md §8): the auth endpoints
allow 60 req/s per IP (public: challenge, ksef-token) and per (context, IP) (protected:
status, redeem), sliding 1 s window. A token authorization is 4 requests once the MF key list
is cached: 2 public + 2 protected (one status poll when the simulator answers at once).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/bench_ksef.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUTH_LIMIT_PER_S = 60
PUBLIC_PER_AUTH = 2  # POST /auth/challenge, POST /auth/ksef-token
PROTECTED_PER_AUTH = 2  # GET /auth/{ref}, POST /auth/token/redeem


def lower_bound_s(users: int, contexts: int) -> float:
    """Least wall time the 60 req/s sliding windows allow (first second's budget is free)."""
    public = users * PUBLIC_PER_AUTH
    protected_per_context = math.ceil(users / contexts) * PROTECTED_PER_AUTH
    busiest = max(public, protected_per_context)
    return max(0.0, math.ceil(busiest / AUTH_LIMIT_PER_S) - 1)


def _nips(n: int) -> list[str]:
    from ksef_tui.domain.nip import make_nip

    out: list[str] = []
    i = 100000000
    while len(out) < n:
        i += 7919
        nip = make_nip(str(i)[:9])
        if nip and nip not in out:
            out.append(nip)
    return out


async def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def run(runs: int, users: int) -> None:
    from ksef_tui.domain.secret import Secret
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.endpoints import Endpoint
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.models import Context
    from ksef_tui.ksef.testcert import make_test_certificate
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", rate_limits=False, status_delay_s=0.0,
                                     token_activation_delay_s=0.0, enrollment_delay_s=0.0))
    sim = app.state.sim
    nips = _nips(users)
    with serve_in_thread(app, host="127.0.0.1", port=0) as server:
        endpoint = Endpoint.custom(server.base_url)
        token = Secret(sim.issue_ksef_token(context_nip=nips[0], permissions=["InvoiceRead"],
                                            description="benchmark token"))
        cert, key = make_test_certificate(nip=nips[0], key="ec")
        cred = load_credential(cert_data=cert, key_data=key.reveal())
        async with KsefGateway(endpoint) as gw:
            await gw.authorize_with_token(Context.nip(nips[0]), token)  # warm up, caches the MF key
            tok = await _median(lambda: gw.authorize_with_token(Context.nip(nips[0]), token), runs)
            crt = await _median(lambda: gw.authorize_with_certificate(Context.nip(nips[0]), cred), runs)
        print(f"token authorization, median of {runs}:       {tok * 1000:8.1f} ms")
        print(f"certificate authorization (EC P-256, XAdES), median of {runs}: {crt * 1000:8.1f} ms")

        tokens = [Secret(sim.issue_ksef_token(context_nip=n, permissions=["InvoiceRead"], description="bench user"))
                  for n in nips]
        for limits in (False, True):
            sim.rate_limits_enabled = limits
            sim.limiter.reset()
            async with KsefGateway(endpoint) as gw:
                await gw.public_keys()
                t = time.perf_counter()
                results = await asyncio.gather(*(gw.authorize_with_token(Context.nip(n), tk)
                                                 for n, tk in zip(nips, tokens, strict=True)), return_exceptions=True)
                wall = time.perf_counter() - t
            failed = [r for r in results if isinstance(r, BaseException)]
            label = "on " if limits else "off"
            bound = lower_bound_s(users, len(nips)) if limits else 0.0
            extra = f", lower bound {bound:.0f} s" if limits else ""
            print(f"{users} users concurrently, production rate limits {label}: {wall:6.2f} s wall, "
                  f"{len(failed)} failed{extra}")
            if failed:
                print(f"  first failure: {failed[0]}")
    print(f"(bound: {users} users x {PUBLIC_PER_AUTH} public requests at {AUTH_LIMIT_PER_S} req/s per IP, "
          f"sliding 1 s window: ceil({users * PUBLIC_PER_AUTH}/{AUTH_LIMIT_PER_S}) - 1 s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--users", type=int, default=200)
    a = p.parse_args(argv)
    asyncio.run(run(max(20, a.runs), a.users))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
