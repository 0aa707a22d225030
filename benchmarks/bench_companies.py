"""Companies screen benchmark: ksef-tui's SQL-backed virtual table against Textual's DataTable.

    python -m benchmarks.bench_companies                 # 1,000 / 10,000 / 100,000 companies
    python -m benchmarks.bench_companies --sizes 1000,10000 --runs 7
    python -m benchmarks.bench_companies --throwaway-postgres     # ksef-tui on PostgreSQL too
    python -m benchmarks.bench_companies --database postgresql+psycopg://user@127.0.0.1/postgres

For every size it builds one database, then measures each implementation in its own
process (so peak RSS is that implementation's), headless at 120x40. Keys are delivered as the
terminal driver delivers them and every time ends when the first frame showing the result is
handed to the terminal driver (``App._display``), without the test harness's idle waits:

- open: from pushing a fresh Companies screen to the first frame with its rows;
- filter: median of one keystroke in the filter to the first frame of the filtered rows
  (ksef-tui: type into the filter, wait until the filtered rows are on screen;
  DataTable: the usual rebuild, clear() + add_rows() of the rows matching the filter);
- select-all + enable: select every row and switch KSeF on for all of them, until the result
  summary (shown after the commit) is painted
  (DataTable: a check-mark column updated with update_cell on every row, then the same service call);
- toggle: median of one selection toggle (space, pressed at the key-repeat rate of a held key,
  30 a second) until handled, and until the frame showing it is painted (Textual paints at most
  60 frames a second: a key pressed less than 1/60 s after the last frame waits for the next);
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

# space held down: a terminal repeats a key about 30 times a second. (Textual paints at most 60
# frames a second; a key pressed sooner than 1/60 s after the last frame waits for the next one.)
KEY_REPEAT = 1 / 30
FILTERS = ["a", "ap", "apt", "k", "ko", "z", "52", "5", "w", "wi"]
SIZE = (120, 40)


# ------------------------------------------------------------------ data


def build_database(url: str, n: int) -> None:
    from sqlalchemy import insert

    from ksef_tui.demo.seed import company_rows
    from ksef_tui.services.actor import Actor
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


async def painted(app) -> None:
    """Return once every pending message is handled and the screen has been repainted."""
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    app.screen.refresh()  # merges with a repaint already due; makes sure one happens
    await asyncio.wait_for(done.wait(), 30)


def key(app, name: str, char: str | None = None) -> None:
    """Deliver one key press as the terminal driver would (no test-harness waits)."""
    from textual import events

    app.post_message(events.Key(name, char if char is not None else (name if len(name) == 1 else None)))


def trace(what: str) -> None:
    if os.environ.get("BENCH_DEBUG"):
        print(what, file=sys.stderr, flush=True)


class Frames:
    """When frames reach the terminal: wraps ``App._display``, where Textual hands each composed
    frame to the driver (the headless driver then drops it). :meth:`until` returns the time of
    the first frame, from now on, painted while ``condition`` held, i.e. a frame showing it."""

    def __init__(self, app) -> None:
        self.app = app
        self.waiters: list[list] = []
        display = app._display

        def timed(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is None or app._batch_count or not self.waiters:
                return
            now = time.perf_counter()
            for waiter in list(self.waiters):
                if waiter[0]():
                    waiter[1] = now
                    waiter[2].set()
                    self.waiters.remove(waiter)

        app._display = timed

    def expect(self, condition, what: str = "") -> list:
        """Start watching the frames for ``condition`` (before the action that should cause it)."""
        waiter = [condition, None, asyncio.Event(), what]
        self.waiters.append(waiter)
        return waiter

    async def until(self, condition, what: str = "") -> float:
        return await self.wait(self.expect(condition, what))

    async def wait(self, waiter: list, timeout: float = 15) -> float:
        condition, what = waiter[0], waiter[3]
        trace(f"frame with {what or condition.__code__.co_firstlineno}")
        deadline = time.monotonic() + timeout
        while not waiter[2].is_set():
            try:
                await asyncio.wait_for(waiter[2].wait(), 0.25)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no frame ever showed {what or condition}") from None
                self.app.screen.refresh()  # nothing painted for a while: make sure a frame comes
        return waiter[1]


async def until(app, condition, what: str = "") -> None:
    trace(f"waiting {what or condition.__code__.co_firstlineno}")
    deadline = time.monotonic() + 15
    while True:
        await painted(app)
        if condition():
            return
        if time.monotonic() > deadline:
            screen = app.screen
            state = {"screen": type(screen).__name__, "classes": sorted(screen.classes)}
            table = getattr(screen, "table", None)
            if table is not None:
                state |= {"rows": table.row_count, "filter": screen.filter_input.value}
            raise RuntimeError(f"never happened: {what or condition}: {state}")
        await asyncio.sleep(0.0005)


# ------------------------------------------------------------------ ksef-tui


async def run_ksef_tui(url: str, runs: int) -> dict:
    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.companies.companies import CompaniesScreen

    ctx = _ctx(url)
    n = ctx.companies.count(ctx.actor)
    app = KsefApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        frames = Frames(app)
        opens = []
        for _ in range(runs):  # a fresh Companies screen each time, over the same data
            t = time.perf_counter()
            screen = CompaniesScreen()
            trace("push")
            shown = frames.expect(
                lambda screen=screen: app.screen is screen and screen.table.row_count == n and not screen.has_class("-loading"),
                "the rows")
            await app.push_screen(screen)
            opens.append(await frames.wait(shown) - t)
            trace("pop")
            app.pop_screen()
            await pilot.pause()
        trace("push 2")
        await app.push_screen(screen := CompaniesScreen())
        await until(app, lambda: screen.table.row_count == n)
        screen.filter_input.focus()
        await painted(app)

        filter_times = []
        for text in FILTERS[:runs]:
            screen.filter_input.value = text[:-1]
            screen.filter_input.cursor_position = len(text) - 1
            screen.apply_filter()
            before = ctx.companies.count(ctx.actor, CompanyFilter(text=text[:-1]))
            await until(app, lambda before=before: screen.table.row_count == before and not screen.has_class("-loading")
                        and not screen.filter_pending)
            expected = ctx.companies.count(ctx.actor, CompanyFilter(text=text))
            t = time.perf_counter()
            key(app, text[-1])
            filter_times.append(await frames.until(
                lambda text=text, expected=expected: screen.filter_input.value == text and screen.table.row_count == expected
                and not screen.has_class("-loading"), "the filtered rows") - t)
        screen.filter_input.value = ""
        screen.apply_filter()
        # the programmatic value change also schedules the debounced filter: let it land first
        await until(app, lambda: screen.table.row_count == n and not screen.has_class("-loading")
                    and not screen.filter_pending)
        screen.table.focus()
        await until(app, lambda: app.focused is screen.table, "the table focused")

        toggle_times, handled = [], []
        while len(handled) < runs:
            before = len(screen.selection)
            await asyncio.sleep(KEY_REPEAT)
            t = time.perf_counter()
            key(app, "space", " ")
            deadline = time.monotonic() + 2
            while len(screen.selection) == before and time.monotonic() < deadline:
                await asyncio.sleep(0.0002)
            if len(screen.selection) == before:  # the key was lost on its way (seen rarely): not a sample
                print("  (a space key press was not delivered; measured again)", file=sys.stderr)
                await painted(app)
                continue
            handled.append(time.perf_counter() - t)
            toggle_times.append(await frames.until(lambda: True, "the toggled row") - t)
        screen.action_clear_selection()
        await painted(app)

        t = time.perf_counter()
        key(app, "a")
        await until(app, lambda: len(screen.selection) == n)
        screen.run_serial_operation(True)  # the menu's "Enable KSeF" (a worker)
        await until(app, lambda: type(app.screen).__name__ == "PlanDialog")  # what it will do, told first
        # done: the result summary (shown only after the commit) is on screen
        summary = frames.expect(lambda: type(app.screen).__name__ == "SerialResultDialog", "the result summary")
        key(app, "y")  # confirm
        enabled = await frames.wait(summary, timeout=120) - t
        if ctx.companies.count(ctx.actor, CompanyFilter(ksef=True)) != n:
            raise RuntimeError("the summary came, but not every company has KSeF on")
    return {"open": statistics.median(opens), "filter": statistics.median(filter_times),
            "toggle": statistics.median(toggle_times), "toggle_handled": statistics.median(handled),
            "select_all_enable": enabled}


# ------------------------------------------------------------------ DataTable baseline


async def run_datatable(url: str, runs: int) -> dict:
    from sqlalchemy import select
    from textual.app import App, ComposeResult
    from textual.screen import Screen
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

    class TableScreen(Screen):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_column(" ", key="check")
            table.add_column("Name", key="name")
            table.add_column("NIP", key="nip")
            table.add_column("KSeF", key="ksef")
            self.load("")
            table.focus()

        def load(self, text: str) -> None:
            table = self.query_one(DataTable)
            table.clear()
            table.add_rows(
                (("[ ]", name, format_nip(nip), "on" if on else "off") for _id, name, nip, on in fetch(text)),
            )

    app = App()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        frames = Frames(app)
        opens = []
        for _ in range(runs):
            t = time.perf_counter()
            screen = TableScreen()
            shown = frames.expect(lambda screen=screen: app.screen is screen and screen.query_one(DataTable).row_count == n,
                                  "the rows")
            await app.push_screen(screen)
            opens.append(await frames.wait(shown) - t)
            app.pop_screen()
            await pilot.pause()
        await app.push_screen(screen := TableScreen())
        table = screen.query_one(DataTable)
        await until(app, lambda: table.row_count == n)
        filter_times = []
        for text in FILTERS[:runs]:
            expected = len(fetch(text))
            t = time.perf_counter()
            screen.load(text)  # what a keystroke in a filter box does to a DataTable
            filter_times.append(await frames.until(lambda expected=expected: table.row_count == expected, "the filtered rows") - t)
        screen.load("")
        await until(app, lambda: table.row_count == n)
        toggle_times, handled = [], []
        for _ in range(runs):
            await asyncio.sleep(KEY_REPEAT)
            t = time.perf_counter()
            row_key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key
            table.update_cell(row_key, "check", "[x]")
            table.action_cursor_down()
            handled.append(time.perf_counter() - t)
            toggle_times.append(await frames.until(lambda: True, "the toggled row") - t)
        t = time.perf_counter()
        for row_key in list(table.rows):
            table.update_cell(row_key, "check", "[x]")
        ids = [r[0] for r in fetch("")]
        ctx.companies.serial_set_ksef(ctx.actor, ids, True)
        for row_key in list(table.rows):
            table.update_cell(row_key, "ksef", "on")
        await painted(app)
        enabled = time.perf_counter() - t
    return {"open": statistics.median(opens), "filter": statistics.median(filter_times),
            "toggle": statistics.median(toggle_times), "toggle_handled": statistics.median(handled),
            "select_all_enable": enabled}


# ------------------------------------------------------------------ driver


def child(impl: str, url: str, runs: int) -> None:
    import faulthandler

    faulthandler.dump_traceback_later(int(os.environ.get("BENCH_STACK_AFTER", "3600")), exit=True)
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
        for stale in (dst, dst.with_name(dst.name + "-wal"), dst.with_name(dst.name + "-shm")):
            stale.unlink(missing_ok=True)  # a WAL left by the previous size's copy would corrupt this one
        shutil.copyfile(src, dst)
        return f"sqlite:///{dst}"
    return src_url


class Postgres:
    """Fresh PostgreSQL databases for the PostgreSQL column (a given server, or a throwaway cluster)."""

    def __init__(self, url: str | None, throwaway: bool) -> None:
        from sqlalchemy import create_engine

        self.root = Path(__file__).resolve().parents[1]
        self.dir = None
        if throwaway:
            self.dir = Path(tempfile.mkdtemp(prefix="ksef-bench-pg-"))
            url = subprocess.run([str(self.root / ".ci" / "pg-throwaway"), "start", str(self.dir / "cluster")],
                                 check=True, capture_output=True, text=True).stdout.strip()
        self.server_url = url
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def database(self, n: int) -> str:
        import secrets

        from sqlalchemy import make_url

        name = f"ksef_bench_{n}_{secrets.token_hex(3)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(self.server_url).set(database=name).render_as_string(hide_password=False)
        build_database(url, n)
        return url

    def drop(self, url: str) -> None:
        from sqlalchemy import make_url

        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        self.admin.dispose()
        if self.dir is not None:
            subprocess.run([str(self.root / ".ci" / "pg-throwaway"), "stop", str(self.dir / "cluster")],
                           capture_output=True)
            subprocess.run(["rm", "-rf", str(self.dir)])


def measure_pg(pg: Postgres, n: int, runs: int) -> dict:
    for attempt in (1, 2):
        url = pg.database(n)
        try:
            r = subprocess.run([sys.executable, "-m", "benchmarks.bench_companies", "--child", "ksef-tui",
                                "--url", url, "--runs", str(runs)], capture_output=True, text=True,
                               env=dict(os.environ, KSEF_TUI_MASTER_KEY="A" * 43), timeout=900,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            continue
        finally:
            pg.drop(url)
        if r.returncode == 0:
            return json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  (PostgreSQL run {attempt} failed: {r.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
    raise SystemExit("the PostgreSQL run failed twice")


def measure(impl: str, base: str, work: Path, runs: int) -> dict:
    env = dict(os.environ, KSEF_TUI_MASTER_KEY=os.environ.get("KSEF_TUI_MASTER_KEY", "A" * 43))
    for attempt in (1, 2):
        url = _copy_database(base, work, f"{impl}-{attempt}")
        try:
            r = subprocess.run([sys.executable, "-m", "benchmarks.bench_companies", "--child", impl, "--url", url,
                                "--runs", str(runs)], capture_output=True, text=True, env=env, timeout=900,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print(f"  ({impl}: run {attempt} timed out; again)", file=sys.stderr)
            continue
        if r.returncode == 0:
            return json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  ({impl}: run {attempt} failed: {r.stderr.strip().splitlines()[-4:]})", file=sys.stderr)
    raise SystemExit(f"{impl} failed twice")


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
    p.add_argument("--database", help="also run ksef-tui on PostgreSQL: a server URL where it may CREATE/DROP DATABASE")
    p.add_argument("--throwaway-postgres", action="store_true",
                   help="also run ksef-tui on a throwaway local PostgreSQL cluster (.ci/pg-throwaway)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.url, args.runs)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Companies screen, headless {SIZE[0]}x{SIZE[1]}, medians of {args.runs}; each cell: ksef-tui | DataTable")
    header = (f"{'companies':>10} | {'open':>23} | {'filter keystroke':>23} | {'toggle (repainted)':>23} | "
              f"{'toggle (handled)':>23} | {'select-all+enable':>23} | {'peak RSS':>19}")
    print(header)
    print("-" * len(header))
    pg = Postgres(args.database, args.throwaway_postgres) if (args.database or args.throwaway_postgres) else None
    if pg is not None:
        print("rows marked (pg): ksef-tui on PostgreSQL, same sizes and steps (the DataTable column is SQLite only)")
    try:
        run_sizes(sizes, args, pg)
    finally:
        if pg is not None:
            pg.close()
    print(f"ksef-tui --help: {_ms(help_time())} (median of 10)")


def run_sizes(sizes: list[int], args, pg) -> None:
    with tempfile.TemporaryDirectory(prefix="ksef-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            base = f"sqlite:///{work / f'base-{n}.sqlite3'}"
            build_database(base, n)
            ours = measure("ksef-tui", base, work, args.runs)
            theirs = measure("datatable", base, work, args.runs)
            cells = [f"{_ms(ours[k])} | {_ms(theirs[k])}" for k in ("open", "filter", "toggle", "toggle_handled", "select_all_enable")]
            rss = f"{ours['rss_mib']:6.0f} | {theirs['rss_mib']:6.0f} MiB"
            print(f"{n:>10,} | " + " | ".join(cells) + f" | {rss}", flush=True)
            if pg is not None:
                on_pg = measure_pg(pg, n, args.runs)
                cells = [f"{_ms(on_pg[k])} | {'':>11}" for k in ("open", "filter", "toggle", "toggle_handled",
                                                                  "select_all_enable")]
                print(f"{'(pg)':>10} | " + " | ".join(cells) + f" | {on_pg['rss_mib']:6.0f} |", flush=True)


if __name__ == "__main__":
    main()
