"""The bulk permission check (issue 15) against the simulator with the production request limits on.

    python -m benchmarks.bench_permissions [--companies 300] [--users 5] [--certificates 2]

Seeds ``companies`` client companies with ``users`` users each: the first ``certificates`` users of
a company log in with a KSeF certificate (XAdES), the others with a KSeF token. Two thirds of the
clients granted the office InvoiceRead/InvoiceWrite with the right to delegate and the office passed
InvoiceRead to each company's first user (model B); the second user holds a direct grant (model C);
every tenth company's second user holds nothing. Then runs the panel's bulk permission check over
every (user, company) row: the office's view once, then each user's login in the client's context and,
for a certificate, the list of its permissions.

Prints the least time the limits allow (PROTOCOL.md §8) for the requests that are needed, the measured
time, their ratio (the goal is 1.2 at most) and the 429s met. The bound: every login needs
``/auth/challenge`` and ``/auth/ksef-token`` or ``/auth/xades-signature``, public requests counted per IP
in the authorization group (60 per sliding second); ``R`` such requests need at least
``floor((R - 1) / 60)`` seconds. Every other request counts per context (a client's, or the office's)
and no context comes near its own limits here, so the IP's authorization group sets the bound.

The simulator runs in its own process (``--in-process`` to share this one), as KSeF runs on another
machine: the XAdES signatures the client makes and the ones KSeF checks do not compete for one
interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

OFFICE_NIP = "7762811692"


def pesel_for(index: int) -> str:
    """A valid PESEL per test person (born 1944-05-14 and later days, serial = index)."""
    day, serial = divmod(index, 10000)
    base = f"4405{14 + day % 15:02d}{serial:04d}"
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 10) % 10
    return base + str(check)


def seed(ctx, sim, companies: int, users: int, certificates: int, env) -> list:
    """Companies, users, memberships and credentials in the panel; grants in the simulator."""
    from sqlalchemy import insert

    from ksef_tui.demo.seed import demo_nips
    from ksef_tui.services.ksef.bulk import Target
    from ksef_tui.services.ksef.views import CertificateFiles
    from ksef_tui.store.models import Company, Membership, User, utcnow

    nips = [n for n in demo_nips(companies + 1, seed=15) if n != OFFICE_NIP][:companies]
    now = utcnow()
    with ctx.db.session() as s:
        cids = [r[0] for r in s.execute(insert(Company).returning(Company.id), [
            {"name": f"Klient {i:04d} sp. z o.o.", "nip": nip, "ksef_enabled": True, "search_key": nip,
             "sort_key": f"klient {i:04d}", "ksef_model": "B" if i % 3 else "C", "created_at": now,
             "updated_at": now, "version": 1} for i, nip in enumerate(nips)]).all()]
        uids = [r[0] for r in s.execute(insert(User).returning(User.id), [
            {"login": f"user{i:05d}", "full_name": f"Jan Pracownik{i:05d}", "email": None, "role": "client",
             "active": True, "may_configure_ksef": False, "search_key": f"user{i:05d}", "sort_key": f"user {i:05d}",
             "created_at": now, "updated_at": now, "version": 1} for i in range(companies * users)]).all()]
        s.execute(insert(Membership), [{"user_id": uid, "company_id": cids[i // users]} for i, uid in enumerate(uids)])
    targets = []
    for c, (cid, nip) in enumerate(zip(cids, nips, strict=True)):
        delegates = c % 3 != 0
        if delegates:
            sim.grant_permissions(nip, ("Nip", OFFICE_NIP), ["InvoiceRead", "InvoiceWrite"], kind="entity",
                                  can_delegate=True)
        for u in range(users):
            index = c * users + u
            uid = uids[index]
            if u < certificates:
                pesel = pesel_for(index)
                if u == 0:
                    sim.grant_permissions(OFFICE_NIP, ("Pesel", pesel), ["InvoiceRead"], kind="indirect",
                                          client_nip=nip)
                elif u == 1 and c % 10:
                    sim.grant_permissions(nip, ("Pesel", pesel), ["InvoiceRead", "InvoiceWrite"])
                cert, key = sim.issue_ksef_certificate(pesel=pesel, given_name="Jan", surname=f"Pracownik{index:05d}")
                ctx.credentials.save_certificate(ctx.actor, uid, cid, env, CertificateFiles(
                    cert_data=cert.encode(), key_data=key.encode()))
            else:
                token = sim.issue_ksef_token(nip, ["InvoiceRead", "InvoiceWrite"], f"token user{index:05d}")
                ctx.credentials.save_token(ctx.actor, uid, cid, env, token, status="Active",
                                           permissions=("InvoiceRead", "InvoiceWrite"))
            targets.append(Target(uid, cid, env, f"user{index:05d} ({nip})"))
    ctx.office.set_identity(ctx.actor, OFFICE_NIP, "Biuro Rachunkowe Bilans sp. z o.o.")
    cert, key = sim.issue_ksef_certificate(nip=OFFICE_NIP, common_name="Biuro Bilans")
    ctx.office.save_certificate(ctx.actor, env, CertificateFiles(cert_data=cert.encode(), key_data=key.encode()))
    return targets


def start_simulator(state_file: Path, status_delay: float) -> tuple[subprocess.Popen, str]:
    """The simulator in its own process, from the seeded state, with the production limits on."""
    code = (
        "import sys, signal, threading\n"
        "from ksef_tui.simulator import SimulatorConfig, create_app\n"
        "from ksef_tui.simulator.server import start_in_thread\n"
        f"app = create_app(SimulatorConfig(mode='strict', rate_limits=True, status_delay_s={status_delay!r},"
        f" state_file={str(state_file)!r}))\n"
        # loaded; from now on keep the state in memory only (a save per request would measure the disk)
        "app.state.sim._state_file = None\n"
        "server = start_in_thread(app)\n"
        "print(server.base_url, flush=True)\n"
        "stop = threading.Event()\n"
        "signal.signal(signal.SIGTERM, lambda *a: stop.set())\n"
        "stop.wait()\n"
        "server.stop()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise RuntimeError("the simulator process did not start")
    return proc, base_url


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_connections() -> list[int]:
    """Count the TCP connections the panel's HTTP clients open (one cell, incremented per connect):
    a wrapper around httpcore's connect in this process only, for the figures."""
    from httpcore._backends.anyio import AnyIOBackend

    opened = [0]
    connect = AnyIOBackend.connect_tcp

    async def counted(self, *args, **kwargs):
        opened[0] += 1
        return await connect(self, *args, **kwargs)

    AnyIOBackend.connect_tcp = counted  # type: ignore[method-assign]
    return opened


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def bound_s(public_requests: int) -> float:
    from ksef_tui.ksef.limits import AUTH, RateLimiter

    return RateLimiter().minimum_seconds(AUTH, public_requests)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--companies", type=int, default=300)
    p.add_argument("--users", type=int, default=5, help="users per company (default 5)")
    p.add_argument("--certificates", type=int, default=2, help="of them, how many log in with a certificate")
    p.add_argument("--status-delay", type=float, default=0.0,
                   help="seconds an authorization stays at status 100 in the simulator (default 0)")
    p.add_argument("--concurrency", type=int, default=None)
    p.add_argument("--in-process", action="store_true", help="run the simulator in this process")
    p.add_argument("--profile", metavar="FILE", help="write a cProfile of the run (this process) to FILE")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-permissions-"))
    os.environ.setdefault("XDG_CONFIG_HOME", str(tmp / "config"))
    os.environ.setdefault("XDG_DATA_HOME", str(tmp / "data"))
    from ksef_tui.domain.environments import Environment
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.http import SentRequest
    from ksef_tui.ksef.limits import RateLimiter
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.ksef.bulk import DEFAULT_CONCURRENCY, run_bulk
    from ksef_tui.services.ksef.permission_check import PermissionCheck
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread
    from ksef_tui.store.engine import open_database

    env = Environment.DEMO
    db = open_database(f"sqlite:///{tmp / 'bench.sqlite3'}")
    ctx = AppContext(db, Actor.local_admin("bench"))
    seeding = create_app(SimulatorConfig(mode="strict", rate_limits=True, status_delay_s=args.status_delay))
    t0 = time.perf_counter()
    targets = seed(ctx, seeding.state.sim, args.companies, args.users, args.certificates, env)
    seed_s = time.perf_counter() - t0
    proc = None
    if args.in_process:
        server = start_in_thread(seeding)
        base_url = server.base_url
    else:
        state = tmp / "simulator-state.json"
        seeding.state.sim.state.save(state)
        proc, base_url = start_simulator(state, args.status_delay)
    statuses: Counter[int | None] = Counter()
    public = 0

    def observe(sent: SentRequest) -> None:
        nonlocal public
        statuses[sent.status] += 1
        if sent.path in ("/auth/challenge", "/auth/ksef-token", "/auth/xades-signature",
                         "/security/public-key-certificates"):
            public += 1

    try:
        ctx.credentials.connections.set_endpoint(ctx.actor, env, base_url)
        limiter = RateLimiter()
        endpoint = ctx.credentials.connections.endpoint(env)

        async def run():
            async with PermissionCheck(ctx.permissions, ctx.actor, limiter=limiter,
                                       gateway_factory=lambda e: KsefGateway(endpoint, limiter=limiter,
                                                                             observer=observe)) as check:
                return await run_bulk("permissions", targets, check.check_row,
                                      concurrency=args.concurrency or DEFAULT_CONCURRENCY)

        opened = count_connections()
        load_before = loadavg()
        cpu0 = time.process_time()
        sim_cpu0 = _cpu_of(proc.pid) if proc is not None else 0.0
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0 = time.perf_counter()
        report = asyncio.run(run())
        measured = time.perf_counter() - t0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        client_cpu = time.process_time() - cpu0
        sim_cpu = _cpu_of(proc.pid) - sim_cpu0 if proc is not None else float("nan")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        else:
            server.stop()
        db.dispose()
    rows = len(targets)
    least = bound_s(public)
    causes = Counter(r.code for r in report.results)
    print(f"companies: {args.companies} × users: {args.users} = {rows} rows "
          f"({args.certificates} certificates and {args.users - args.certificates} tokens per company)   "
          f"seeding: {seed_s:.1f} s   simulator: {'this process' if args.in_process else 'own process'}")
    print(f"requests: {sum(statuses.values())}  by status: {dict(statuses)}  limiter waits: {limiter.stats.waits}")
    print(f"rows: {report.counts}   causes: {dict(causes)}")
    print(f"CPU during the run: this process {client_cpu:.1f} s, the simulator's {sim_cpu:.1f} s   "
          f"connections opened: {opened[0]}   concurrency: {args.concurrency or DEFAULT_CONCURRENCY}   "
          f"load average before/after: {load_before} / {loadavg()}")
    print(f"bound from the limits: {least:.1f} s ({public} public authorization-group requests at 60/s)   "
          f"1.2x bound: {1.2 * least:.1f} s")
    print(f"measured: {measured:.1f} s   ratio: {measured / least if least else float('nan'):.2f}   "
          f"429 received: {statuses.get(429, 0)} (each waited out and repeated)")
    unhandled = report.counts["error"]
    ok = unhandled == 0 and measured <= 1.2 * least and report.counts["ok"] + report.counts["failed"] == rows
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
