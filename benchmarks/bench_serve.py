"""The portal under 20 browser sessions at once: time to the login screen, peak memory.

    python -m benchmarks.bench_serve [--sessions 20] [--database URL]

Starts ``ksef-tui serve`` (loopback, a free port) on a temporary SQLite database with one account,
then opens ``--sessions`` sessions at once as the page does (GET / for the cookie, the terminal's
websocket), each rendering what arrives with a terminal emulator until the login screen shows.
Prints, for each session, the seconds from opening the websocket to the login screen (min, median,
max), and the peak resident memory of the server plus all its app processes (sampled every
50 ms from /proc), beside the same for a single session alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web.portal import Portal, TerminalClient


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


async def run_sessions(url: str, n: int, root: int) -> tuple[list[float], int]:
    peak = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kib(root))
            await asyncio.sleep(0.05)

    async def one() -> float:
        async with TerminalClient(url, size=(100, 30)) as client:
            start = time.monotonic()
            await client.connect()
            await client.wait_for("ksef-tui: log in", timeout=120)
            elapsed = time.monotonic() - start
            await asyncio.sleep(1.0)  # hold the session while the others start
            return elapsed

    sampler = asyncio.create_task(sample())
    times = await asyncio.gather(*(one() for _i in range(n)))
    peak = max(peak, tree_rss_kib(root))
    done.set()
    await sampler
    return list(times), peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)

    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.services.users import UserInput
    from ksef_tui.store.engine import open_database
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key

    with tempfile.TemporaryDirectory(prefix="ksef-bench-serve-") as tmp:
        os.environ[MASTER_KEY_ENV] = encode_key(MasterKey.generate().raw())
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        db = open_database(url)
        ctx = AppContext(db, Actor.local_admin("bench"))
        user = ctx.users.create(ctx.actor, UserInput(login="klient", full_name="Klient Testowy"))
        AccountService(db).set_password(ctx.actor, user.id, "Hasło-Klienta-2026")
        db.dispose()
        portal = Portal(url, "--max-sessions", str(max(args.sessions, 1)))
        try:
            idle = tree_rss_kib(portal.proc.pid)
            one_times, one_peak = asyncio.run(run_sessions(portal.url, 1, portal.proc.pid))
            time.sleep(2)
            times, peak = asyncio.run(run_sessions(portal.url, args.sessions, portal.proc.pid))
        finally:
            portal.stop()
    n = args.sessions
    print(f"ksef-tui serve, {os.cpu_count()} cores, SQLite; server alone: {idle / 1024:.0f} MiB RSS")
    print(f"  1 session:    to the login screen {one_times[0]:5.2f} s;"
          f"  peak RSS server + app {one_peak / 1024:6.0f} MiB")
    print(f"  {n} at once:  to the login screen min {min(times):5.2f} s  median {statistics.median(times):5.2f} s  "
          f"max {max(times):5.2f} s;  peak RSS server + {n} apps {peak / 1024:6.0f} MiB "
          f"({(peak - idle) / 1024 / n:.0f} MiB per session)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
