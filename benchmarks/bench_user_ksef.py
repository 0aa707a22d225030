"""The user's KSeF screen and one whole certificate authorization.

    python -m benchmarks.bench_user_ksef [--companies 50] [--runs 20]

- open: pushing the KSeF screen of a user who belongs to N companies (N × DEMO/PRODUCTION
  rows, half of them configured) until its first frame (with the table) goes to the
  terminal driver, and until the selected row's form (mounted right after) is complete,
  headless at 120x40 (medians);
- certificate authorization: `CredentialService.authorize_certificate` end to end
  (challenge, AuthTokenRequest, XAdES signature, send, status, redeem, sealed save)
  against a loopback simulator in strict mode, wall time per run (median and max).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from ksef_tui.services.ksef.views import CertificateFiles


def _setup(tmp: Path, companies: int):
    from ksef_tui.demo.seed import demo_nips
    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.companies import CompanyInput
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.users import UserInput
    from ksef_tui.store.engine import open_database
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key

    os.environ.setdefault(MASTER_KEY_ENV, encode_key(MasterKey.generate().raw()))
    ctx = AppContext(open_database(f"sqlite:///{tmp / 'bench.sqlite3'}"), Actor.local_admin("bench"))
    ids = []
    for i, nip in enumerate(demo_nips(companies, seed=3)):
        ids.append(ctx.companies.create(ctx.actor, CompanyInput(name=f"Firma {i:03d} Sp. z o.o.", nip=nip,
                                                                ksef_enabled=True)).id)
    user = ctx.users.create(ctx.actor, UserInput(login="anna", full_name="Anna Nowak"), ids)
    return ctx, user.id, ids, Environment


async def _open_times(ctx, user_id: int, runs: int) -> tuple[list[float], list[float]]:
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    painted, complete = [], []
    app = KsefApp(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # A frame is painted when the app hands it to the terminal driver (App._display; the
        # headless driver then drops it). The first frame of the screen has the table in it.
        frames: list[float] = []
        display = app._display

        def timed_display(screen, renderable) -> None:
            if isinstance(screen, UserKsefScreen) and renderable is not None and not app._batch_count:
                frames.append(time.perf_counter())
            display(screen, renderable)

        app._display = timed_display  # type: ignore[method-assign]
        for _ in range(runs):
            frames.clear()
            t = time.perf_counter()
            screen = UserKsefScreen(ctx, user_id)
            await app.push_screen(screen)
            while not frames:
                await pilot.pause()
            painted.append(frames[0] - t)
            assert screen.table.row_count == len(screen.views) > 0
            while screen.panel_widget() is None or not screen.panel_widget().ready:  # every part of the form
                await pilot.pause()
            await pilot.pause()
            complete.append(time.perf_counter() - t)
            app.pop_screen()
            await pilot.pause()
    return painted, complete


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--companies", type=int, default=50)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        ctx, uid, cids, Environment = _setup(Path(tmp), args.companies)
        server = start_in_thread(create_app(SimulatorConfig(mode="strict", status_delay_s=0.0)))
        try:
            ctx.credentials.connections.set_endpoint(ctx.actor, Environment.PRODUCTION, server.base_url)
            cert, key = server.sim.issue_ksef_certificate(nip=ctx.companies.get(ctx.actor, cids[0]).nip,
                                                          given_name="Anna", surname="Nowak")
            cred = CertificateFiles(cert_data=cert.encode(), key_data=key.encode())
            for cid in cids[: len(cids) // 2]:  # half the rows configured, as in real life
                ctx.credentials.save_certificate(ctx.actor, uid, cid, Environment.DEMO, cred)
            t = time.perf_counter()
            asyncio.run(ctx.credentials.authorize_certificate(ctx.actor, uid, cids[0], Environment.PRODUCTION, cred))
            cold = time.perf_counter() - t  # the first one also imports the XML and signing libraries
            auth = []
            for _ in range(args.runs):
                t = time.perf_counter()
                asyncio.run(ctx.credentials.authorize_certificate(ctx.actor, uid, cids[0], Environment.PRODUCTION, cred))
                auth.append(time.perf_counter() - t)
            painted, complete = asyncio.run(_open_times(ctx, uid, args.runs))
        finally:
            server.stop()
    rows = args.companies * 2
    print(f"user's KSeF screen, {args.companies} companies ({rows} rows), 120x40, {args.runs} runs: "
          f"table painted median {statistics.median(painted) * 1000:.1f} ms (max {max(painted) * 1000:.1f}; goal 100 ms); "
          f"with the row's form mounted median {statistics.median(complete) * 1000:.1f} ms")
    print(f"certificate authorization (EC P-256, loopback simulator, strict): median "
          f"{statistics.median(auth) * 1000:.1f} ms, max {max(auth) * 1000:.1f} ms ({args.runs} runs; goal 300 ms); "
          f"first in the process (imports lxml/xmlsec) {cold * 1000:.0f} ms")


if __name__ == "__main__":
    main()
