"""Companies screen benchmark: ksef-tui's SQL-backed virtual table against Textual's DataTable.

    python -m benchmarks.bench_companies                 # 1,000 / 10,000 / 100,000 companies
    python -m benchmarks.bench_companies --sizes 1000,10000 --runs 7
    python -m benchmarks.bench_companies --database postgresql+psycopg://user@127.0.0.1/db

For every size it builds one database, then measures each implementation in its own
process (so peak RSS is that implementation's), headless at 120x40:

- open: from starting the app to the Companies screen painted with its first rows;
- filter: median of one keystroke in the filter to the repainted, filtered screen
  (ksef-tui: type into the filter, wait until the filtered rows are on screen;
  DataTable: the usual rebuild, clear() + add_rows() of the rows matching the filter);
- select-all + enable: select every row and switch KSeF on for all of them, until committed
  (DataTable: a check-mark column updated with update_cell on every row, then the same service call);
- toggle: median of one selection toggle (space) to repainted;
- peak RSS of the process.
It also times `ksef-tui --help` (median of 10 runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILTERS = ["a", "ap", "apt", "k", "ko", "ł", "łą", "z", "5", "52"]
SIZE = (120, 40)


# ------------------------------------------------------------------ data


def build_database(url: str, n: int) -> None:
    from sqlalchemy import insert

    from ksef_tui.services.actor import Actor
    from ksef_tui.services.demo import company_rows
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.models import Company

    db = open_database(url)
    rows = company_rows(n, seed=11, ksef_share=0.0)
    with db.session() as s:
        for i in range(0, n, 20_000):
            s.execute(insert(Company), rows[i : i + 20_000])
    db.dispose()
    _ = Actor


def _ctx(url: str):
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    return AppContext(open_database(url), Actor.local_admin("bench"))


async def _settle(pilot, screen, cls: str = "-loading") -> None:
    await pilot.pause()
    while screen.has_class(cls) or screen.has_class("-busy"):
        await asyncio.sleep(0.001)
        await pilot.pause()


# ------------------------------------------------------------------ ksef-tui


async def run_ksef_tui(url: str, runs: int) -> dict:
    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.app import KsefApp

    ctx = _ctx(url)
    n = ctx.companies.count(ctx.actor)
    t0 = time.perf_counter()
    app = KsefApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await _settle(pilot, screen)
        opened = time.perf_counter() - t0
        assert screen.table.row_count == n, (screen.table.row_count, n)

        filter_times = []
        await pilot.press("slash")
        for text in FILTERS[:runs]:
            screen.filter_input.value = ""
            screen.apply_filter()
            await _settle(pilot, screen)
            expected = ctx.companies.count(ctx.actor, CompanyFilter(text=text))
            t = time.perf_counter()
            await pilot.press(*text) if len(text) == 1 else None
            if len(text) > 1:
                screen.filter_input.value = text[:-1]
                screen.apply_filter()
                await _settle(pilot, screen)
                t = time.perf_counter()
                await pilot.press(text[-1])
            # wait for the debounced filter to land and the screen to settle
            while screen.table.row_count != expected or screen.has_class("-loading"):
                await asyncio.sleep(0.001)
                await pilot.pause()
            await pilot.pause()
            filter_times.append(time.perf_counter() - t)
        screen.filter_input.value = ""
        screen.apply_filter()
        await _settle(pilot, screen)
        await pilot.press("escape")  # back to the table

        toggle_times = []
        for _ in range(runs):
            t = time.perf_counter()
            await pilot.press("space")
            await pilot.pause()
            toggle_times.append(time.perf_counter() - t)
        await pilot.press("escape")  # clear the selection
        await pilot.pause()

        t = time.perf_counter()
        await pilot.press("a")
        await _settle(pilot, screen)
        screen.run_serial_operation(True)  # the menu's "Enable KSeF" (confirmation answered below)
        await pilot.pause()
        await pilot.press("enter")  # confirm
        while ctx.companies.count(ctx.actor, CompanyFilter(ksef=True)) != n:
            await asyncio.sleep(0.002)
            await pilot.pause()
        enabled = time.perf_counter() - t
    return {"open": opened, "filter": statistics.median(filter_times), "toggle": statistics.median(toggle_times),
            "select_all_enable": enabled}


# ------------------------------------------------------------------ DataTable baseline


async def run_datatable(url: str, runs: int) -> dict:
    from sqlalchemy import select
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from ksef_tui.domain.nip import format_nip
    from ksef_tui.services.companies import CompanyFilter, filter_clause
    from ksef_tui.store.models import Company

    ctx = _ctx(url)
    n = ctx.companies.count(ctx.actor)

    def fetch(text: str = ""):
        q = (select(Company.id, Company.name, Company.nip, Company.ksef_enabled)
             .where(filter_clause(CompanyFilter(text=text))).order_by(Company.sort_key, Company.id))
        with ctx.db.engine.connect() as conn:
            return conn.execute(q).all()

    class Baseline(App):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_column(" ", key="check")
            table.add_column("Name", key="name")
            table.add_column("NIP", key="nip")
            table.add_column("KSeF", key="ksef")
            self.load("")

        def load(self, text: str) -> None:
            table = self.query_one(DataTable)
            table.clear()
            table.add_rows(
                (("[ ]", name, format_nip(nip), "on" if on else "off") for _id, name, nip, on in fetch(text)),
            )

    t0 = time.perf_counter()
    app = Baseline()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(DataTable)
        opened = time.perf_counter() - t0
        assert table.row_count == n
        filter_times = []
        for text in FILTERS[:runs]:
            t = time.perf_counter()
            app.load(text)
            await pilot.pause()
            filter_times.append(time.perf_counter() - t)
        app.load("")
        await pilot.pause()
        table.focus()
        toggle_times = []
        for _ in range(runs):
            t = time.perf_counter()
            row = table.cursor_row
            key = table.coordinate_to_cell_key((row, 0)).row_key
            table.update_cell(key, "check", "[x]")
            table.action_cursor_down()
            await pilot.pause()
            toggle_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        for key in list(table.rows):
            table.update_cell(key, "check", "[x]")
        ids = [r[0] for r in fetch("")]
        ctx.companies.serial_set_ksef(ctx.actor, ids, True)
        for key in list(table.rows):
            table.update_cell(key, "ksef", "on")
        await pilot.pause()
        enabled = time.perf_counter() - t
    return {"open": opened, "filter": statistics.median(filter_times), "toggle": statistics.median(toggle_times),
            "select_all_enable": enabled}


# ------------------------------------------------------------------ driver


def child(impl: str, url: str, runs: int) -> None:
    runner = run_ksef_tui if impl == "ksef-tui" else run_datatable
    result = asyncio.run(runner(url, runs))
    result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _copy_database(src_url: str, workdir: Path, tag: str) -> str:
    """Each measured run gets a fresh copy, since select-all + enable changes the data."""
    if src_url.startswith("sqlite:///"):
        import shutil

        src = Path(src_url.removeprefix("sqlite:///"))
        dst = workdir / f"{tag}.sqlite3"
        shutil.copyfile(src, dst)
        return f"sqlite:///{dst}"
    return src_url


def measure(impl: str, url: str, runs: int) -> dict:
    env = dict(os.environ, KSEF_TUI_MASTER_KEY=os.environ.get("KSEF_TUI_MASTER_KEY", "A" * 43))
    r = subprocess.run([sys.executable, "-m", "benchmarks.bench_companies", "--child", impl, "--url", url,
                        "--runs", str(runs)], capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"{impl} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def help_time() -> float:
    times = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ksef_tui", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _ms(v: float) -> str:
    return f"{v * 1000:8.1f} ms" if v < 10 else f"{v:8.2f} s "


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--runs", type=int, default=7, help="keystrokes and toggles measured per size (median)")
    p.add_argument("--database", help="a PostgreSQL URL to use instead of SQLite files (emptied per size)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.url, args.runs)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Companies screen, headless {SIZE[0]}x{SIZE[1]}, medians of {args.runs}; each cell: ksef-tui | DataTable")
    header = f"{'companies':>10} | {'open':>23} | {'filter keystroke':>23} | {'toggle':>23} | {'select-all+enable':>23} | {'peak RSS':>19}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="ksef-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            if args.database:
                raise SystemExit("PostgreSQL runs: see benchmarks/bench_engines.py")
            base = f"sqlite:///{work / f'base-{n}.sqlite3'}"
            build_database(base, n)
            ours = measure("ksef-tui", _copy_database(base, work, f"ours-{n}"), args.runs)
            theirs = measure("datatable", _copy_database(base, work, f"dt-{n}"), args.runs)
            cells = [f"{_ms(ours[k])} | {_ms(theirs[k])}" for k in ("open", "filter", "toggle", "select_all_enable")]
            rss = f"{ours['rss_mib']:6.0f} | {theirs['rss_mib']:6.0f} MiB"
            print(f"{n:>10,} | " + " | ".join(cells) + f" | {rss}", flush=True)
    print(f"ksef-tui --help: {_ms(help_time())} (median of 10)")


if __name__ == "__main__":
    main()
