"""The Companies list against the alternatives, from launch: ksef-tui's virtual table (rows from
SQL pages) beside Textual's DataTable and textual-fastdatatable showing the same companies.

    python -m benchmarks.bench_tables                      # 1,000 / 100,000 / 1,000,000 companies
    python -m benchmarks.bench_tables --sizes 1000,100000 --runs 5

For every size one SQLite database is built; every run is a fresh process on a fresh copy of it,
headless at 120x40. Each time ends at the first frame handed to the terminal driver
(``App._display``) that shows the result, never at a timer inside the app:

- launch to first frame: from starting the process to the first frame of all (ksef-tui: the
  panel's opening screen, drawn before the database is open; the alternatives: their list);
- launch to rows: from starting the process (``python -m ...``, before any import) to the first
  frame with the list's rows. ksef-tui: the real ``ksef-tui --database URL`` (its CLI, its
  settings, its start-up); the alternatives: a small app that reads the same rows with the same
  query and hands them to its table, as such an app would;
- open: in the running process, a fresh list screen pushed to the first frame with its rows;
- typing filter: a word typed into the filter box at the key-repeat rate of a held key (30 a
  second), from the last key to the first frame showing that word's rows (DataTable: clear() +
  add_rows() of the matching rows on every change; fastdatatable: a new table with them, since its
  tables cannot be cleared); then the filter is emptied again and the whole list comes back;
- select all + enable KSeF: every row marked, KSeF switched on for all of them (one service call),
  until the frame showing the result (ksef-tui: select all, its menu's "Enable KSeF", the plan
  of what it will do answered "Yes", the summary; the alternatives:
  a check mark written into every row, the same service call, the KSeF column rewritten).

Each figure is the median with min–max of its samples (``--runs`` processes; the warm figures take
one sample per word in each process); the table ends with how each figure grows 1k -> 1M. A
run of an alternative that would take over ``--budget`` seconds stops after its first sample
(the figure says how many samples it has). fastdatatable: ``pip install textual-fastdatatable``
(``.[bench]``); without it its column says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = (120, 40)
KEY_REPEAT = 1 / 30
WORDS = ["apt", "kan", "war", "biu", "pie"]  # each matches some companies (about 5-9%)
IMPLS = ("ksef-tui", "DataTable", "fastdatatable")
GOALS = {"launch": 0.400, "open": 0.050, "filter": 0.050, "select_all": 10.0}  # issue 13, at 1,000,000


# ------------------------------------------------------------------ the measuring process


def child(impl: str, url: str, n: int, t0: float, words: list[str], budget: float) -> None:
    """One fresh process: launch to rows, then open and typing samples, then select all + enable."""
    import asyncio

    import textual.app

    out: dict = {"open": [], "filter": []}
    started = time.monotonic()
    state: dict = {}

    def shown(app) -> bool:
        return state["rows_shown"](app, n)

    def hook(app) -> None:
        display = app._display
        waiters: list = []
        app.bench_waiters = waiters

        def timed(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is None or app._batch_count:
                return
            now = time.time()
            out.setdefault("shell", now - t0)  # the first frame of all, with or without rows
            if "launch" not in out and shown(app):
                out["launch"] = now - t0
                state["task"] = asyncio.get_running_loop().create_task(measure(app))
            for w in list(waiters):
                if w[0]():
                    w[1] = now
                    w[2].set()
                    waiters.remove(w)

        app._display = timed

    async def frame(app, condition, timeout: float = 600.0) -> float:
        w = [condition, None, asyncio.Event()]
        app.bench_waiters.append(w)
        deadline = time.monotonic() + timeout
        while not w[2].is_set():
            try:
                await asyncio.wait_for(w[2].wait(), 0.25)
            except TimeoutError:
                if time.monotonic() > deadline:
                    where = condition.__code__.co_firstlineno
                    raise RuntimeError(f"no frame showed the awaited result (line {where}) in {timeout:g} s") from None
                app.screen.refresh()
        return w[1]

    async def measure(app) -> None:
        try:
            await state["measure"](app, out, frame, words, lambda: time.monotonic() - started > budget, url)
        except Exception as exc:  # said in the output, the process still ends
            out["error"] = f"{type(exc).__name__}: {exc}"
        app.exit()

    original_run = textual.app.App.run

    def run_headless(self, *args, **kwargs):
        kwargs.update(headless=True, size=SIZE)
        hook(self)
        return original_run(self, *args, **kwargs)

    textual.app.App.run = run_headless  # type: ignore[method-assign]
    if impl == "ksef-tui":
        state.update(rows_shown=_ours_shown, measure=_ours_measure)
        from ksef_tui.cli import main

        main(["--database", url])
    else:
        state.update(rows_shown=_theirs_shown, measure=_theirs_measure)
        _theirs_app(impl, url).run()
    print("RESULT " + json.dumps(out), flush=True)


def key(app, name: str, char: str | None = None) -> None:
    """One key press as the terminal driver delivers it (no test-harness waits)."""
    from textual import events

    app.post_message(events.Key(name, char if char is not None else (name if len(name) == 1 else None)))


async def typed(word: str, app) -> float:
    """The word typed at the key-repeat rate; returns when the last key was sent."""
    import asyncio

    for i, ch in enumerate(word):
        if i:
            await asyncio.sleep(KEY_REPEAT)
        t = time.time()
        key(app, ch)
    return t


# ---- ksef-tui


def _ours_table(app):
    screen = app.screen
    return screen, getattr(screen, "table", None)


def _ours_shown(app, n: int) -> bool:
    screen, table = _ours_table(app)
    return type(screen).__name__ == "CompaniesScreen" and table is not None and table.row_count == n \
        and bool(table.loaded_rows())


async def _ours_measure(app, out: dict, frame, words: list[str], over_budget, url: str) -> None:
    import asyncio

    from ksef_tui.services.companies import CompanyFilter
    from ksef_tui.ui.companies.companies import CompaniesScreen

    while not app.is_open:  # the rows come before the database is opened (SQLite); the samples need it
        await asyncio.sleep(0.02)
    ctx = app.ctx
    n = app.screen.table.row_count

    def rows_of(screen, count: int, text: str) -> bool:
        return (app.screen is screen and screen.filter_input.value == text and screen.table.row_count == count
                and (count == 0 or bool(screen.table.loaded_rows())) and not screen.filter_pending)

    for _ in words:
        t = time.time()
        screen = CompaniesScreen()
        waiting = asyncio.ensure_future(frame(app, lambda s=screen: rows_of(s, n, "")))
        await app.push_screen(screen)
        out["open"].append(await waiting - t)
        app.pop_screen()
        await asyncio.sleep(0.05)
    screen = app.screen
    screen.filter_input.focus()
    await frame(app, lambda: app.focused is screen.filter_input)
    for word in words:
        expected = await asyncio.to_thread(ctx.companies.count, ctx.actor, CompanyFilter(text=word))
        last = await typed(word, app)
        out["filter"].append(await frame(app, lambda w=word, e=expected: rows_of(screen, e, w)) - last)
        screen.filter_input.value = ""
        await frame(app, lambda: rows_of(screen, n, ""))
    screen.table.focus()
    await frame(app, lambda: app.focused is screen.table)
    t = time.time()
    screen.action_select_all()  # the "a" key's action (All)
    await frame(app, lambda: len(screen.selection) == n)
    screen.run_serial_operation(True)  # the menu's "Enable KSeF"
    await frame(app, lambda: type(app.screen).__name__ == "PlanDialog")  # what it will do, told first
    await app.screen.run_action("answer('all')")  # its "y" (Yes)
    out["select_all"] = await frame(app, lambda: type(app.screen).__name__ == "SerialResultDialog") - t
    if ctx.companies.count(ctx.actor, CompanyFilter(ksef=True)) != n:
        raise RuntimeError("the summary came, but not every company has KSeF on")


# ---- the alternatives: the same rows, the same query, handed to their tables


_ENGINES: dict = {}


def _rows(url: str, text: str = ""):
    from sqlalchemy import create_engine, select

    from ksef_tui.domain.nip import format_nip
    from ksef_tui.services.companies import CompanyFilter, filter_clause
    from ksef_tui.store.models import Company

    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(url))
    q = (select(Company.id, Company.name, Company.nip, Company.ksef_enabled)
         .where(filter_clause(CompanyFilter(text=text), trigram=True)).order_by(Company.sort_key, Company.id))
    with engine.connect() as conn:
        return [(i, name, format_nip(nip), "on" if on else "off") for i, name, nip, on in conn.execute(q)]


def _theirs_app(impl: str, url: str):
    from textual.app import App, ComposeResult
    from textual.containers import Vertical
    from textual.screen import Screen
    from textual.widgets import Input

    fast = impl == "fastdatatable"
    if fast:
        from textual_fastdatatable import DataTable as Table
    else:
        from textual.widgets import DataTable as Table

    labels = ["", "Name", "NIP", "KSeF"]

    class ListScreen(Screen):
        def __init__(self) -> None:
            super().__init__()
            self.text = ""
            self.ids: list[int] = []
            self.marks = False

        def compose(self) -> ComposeResult:
            yield Input(placeholder="Filter", id="filter")
            yield Vertical(id="box")

        def on_mount(self) -> None:
            self.show(_rows(url))

        def show(self, rows) -> None:
            self.ids = [r[0] for r in rows]
            cells = [("[x]" if self.marks else "[ ]", name, nip, ksef) for _i, name, nip, ksef in rows]
            if fast:  # a fastdatatable cannot be cleared: a new one with the rows
                self.query_one("#box").remove_children()
                self.query_one("#box").mount(Table(data=cells, column_labels=labels, cursor_type="row"))
                return
            tables = self.query(Table)
            if not tables:
                table = Table(cursor_type="row")
                self.query_one("#box").mount(table)
                for label, k in zip(labels, ("check", "name", "nip", "ksef"), strict=True):
                    table.add_column(label, key=k)
            else:
                table = tables.first()
                table.clear()
            table.add_rows(cells)

        @property
        def table(self):
            tables = self.query(Table)
            return tables.first() if tables else None

        def on_input_changed(self, event: Input.Changed) -> None:
            self.text = event.value
            self.show(_rows(url, event.value))

        def mark_all(self) -> None:
            """Select all: a check mark in every row."""
            self.marks = True
            if fast:
                self.show(_rows(url, self.text))
                return
            table = self.table
            for row_key in list(table.rows):
                table.update_cell(row_key, "check", "[x]")

    class TableApp(App):
        def on_mount(self) -> None:
            self.push_screen(ListScreen())

    TableApp.ListScreen = ListScreen  # type: ignore[attr-defined]
    return TableApp()


def _theirs_shown(app, n: int) -> bool:
    table = getattr(app.screen, "table", None)
    return table is not None and table.row_count == n and n > 0


async def _theirs_measure(app, out: dict, frame, words: list[str], over_budget, url: str) -> None:
    import asyncio

    from textual.coordinate import Coordinate
    from textual.widgets import Input

    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database

    ListScreen = type(app).ListScreen
    n = app.screen.table.row_count

    def rows_of(screen, count: int, text: str) -> bool:
        table = screen.table
        return app.screen is screen and screen.text == text and table is not None and table.row_count == count

    for _ in words:
        if over_budget():
            break
        t = time.time()
        screen = ListScreen()
        waiting = asyncio.ensure_future(frame(app, lambda s=screen: rows_of(s, n, "")))
        await app.push_screen(screen)
        out["open"].append(await waiting - t)
        app.pop_screen()
        await asyncio.sleep(0.05)
    screen = app.screen
    box = screen.query_one("#filter", Input)
    box.focus()
    await frame(app, lambda: app.focused is box)
    for word in words:
        expected = len(_rows(url, word))
        last = await typed(word, app)
        out["filter"].append(await frame(app, lambda w=word, e=expected: rows_of(screen, e, w)) - last)
        box.value = ""
        await frame(app, lambda: rows_of(screen, n, ""))
        if over_budget():
            break
    ctx = AppContext(open_database(url, migrate=False), Actor.local_admin("bench"))
    t = time.time()
    screen.mark_all()
    ids = list(screen.ids)
    await asyncio.to_thread(ctx.companies.serial_set_ksef, ctx.actor, ids, True)  # the same service call
    screen.show(_rows(url, ""))  # the KSeF column rewritten
    out["select_all"] = await frame(app, lambda: rows_of(screen, n, "") and str(
        screen.table.get_cell_at(Coordinate(0, 3))) == "on") - t


# ------------------------------------------------------------------ the driver


def build_database(url: str, n: int) -> None:
    from benchmarks.bench_companies import build_database as build

    build(url, n)


def one_run(impl: str, base: Path, work: Path, n: int, words: list[str], budget: float, timeout: float) -> dict:
    import shutil

    db = work / f"{impl}.sqlite3"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(base, db)
    env = dict(os.environ, KSEF_TUI_MASTER_KEY=os.environ.get("KSEF_TUI_MASTER_KEY", "A" * 43),
               XDG_CONFIG_HOME=str(work / "config"), XDG_DATA_HOME=str(work / "data"))
    t0 = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "benchmarks.bench_tables", "--child", impl, "--url",
                            f"sqlite:///{db}", "--rows", str(n), "--t0", repr(t0), "--words", ",".join(words),
                            "--budget", str(budget)], capture_output=True, text=True, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    if r.returncode != 0 or not lines:
        return {"error": (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1][:200]}
    return json.loads(lines[-1].removeprefix("RESULT "))


def cell(samples: list[float]) -> str:
    if not samples:
        return "—"
    med = statistics.median(samples)
    unit, k = ("s", 1.0) if med >= 10 else ("ms", 1000.0)
    fmt = (lambda v: f"{v * k:.1f}") if unit == "s" or med * k < 100 else (lambda v: f"{v * k:.0f}")
    span = f" ({fmt(min(samples))}–{fmt(max(samples))})" if len(samples) > 1 else " (1 sample)"
    return f"{fmt(med)} {unit}{span}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,100000,1000000")
    p.add_argument("--runs", type=int, default=3, help="fresh processes per implementation and size")
    p.add_argument("--words", default=",".join(WORDS), help="words typed into the filter, one sample each")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds an alternative's process may spend on warm samples before it stops taking more")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--keep", metavar="DIR", help="build the databases in DIR and keep them there for the next run "
                   "(base-N.sqlite3, reused when present; remove them after a migration)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    for hidden in ("--url", "--rows", "--t0"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args()
    words = args.words.split(",")
    if args.child:
        child(args.child, args.url, int(args.rows), float(args.t0), words, args.budget)
        return
    impls = args.impls.split(",")
    try:
        import textual_fastdatatable  # noqa: F401
    except ImportError:
        impls = [i for i in impls if i != "fastdatatable"]
        print("textual-fastdatatable is not installed (pip install textual-fastdatatable): its column is left out")
    sizes = [int(s) for s in args.sizes.split(",")]
    import compileall

    import ksef_tui

    # as installed: pip compiles the package's bytecode (PYTHONDONTWRITEBYTECODE would otherwise make
    # every launch compile ksef_tui's modules again)
    compileall.compile_dir(str(Path(ksef_tui.__file__).parent), quiet=1)
    load = os.getloadavg()
    print(f"Companies list, headless {SIZE[0]}x{SIZE[1]}, SQLite; {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} at the start; median (min–max) of {args.runs} processes per cell "
          f"(warm figures: one sample per word typed: {', '.join(words)})")
    figures: dict[tuple[str, str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ksef-tables-") as tmp:
        work = Path(tmp)
        for n in sizes:
            base = (Path(args.keep) if args.keep else work) / f"base-{n}.sqlite3"
            if not base.exists():
                build_database(f"sqlite:///{base}", n)
            notes = []
            for impl in impls:
                runs = args.runs
                for i in range(runs):
                    r = one_run(impl, base, work, n, words, args.budget, timeout=max(900.0, args.budget * 6))
                    if "error" in r:
                        notes.append(f"{impl}: run {i + 1}: {r['error'].splitlines()[0][:160]}")
                        if r["error"].startswith("over "):  # another process would take as long
                            break
                        continue
                    for what in ("shell", "launch", "select_all"):
                        if what in r:
                            figures.setdefault((impl, what, n), []).append(r[what])
                    for what in ("open", "filter"):
                        figures.setdefault((impl, what, n), []).extend(r[what])
                    if impl != "ksef-tui" and i == 0 and r.get("launch", 0) > args.budget / 4:
                        notes.append(f"{impl}: one process only (its launch took {r['launch']:.0f} s)")
                        break
            print(f"\n{n:,} companies (load average {os.getloadavg()[0]:.1f})")
            print(f"{'':<26}" + "".join(f"{impl:>30}" for impl in impls))
            for what, label in (("shell", "launch to first frame"), ("launch", "launch to rows"), ("open", "open (warm)"),
                                ("filter", "typing filter, last key"), ("select_all", "select all + enable")):
                print(f"{label:<26}" + "".join(f"{cell(figures.get((impl, what, n), [])):>30}" for impl in impls),
                      flush=True)
            for note in notes:
                print(f"  note: {note}")
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(f"\nhow each median grows, {lo:,} -> {hi:,} companies")
        for what in ("shell", "launch", "open", "filter", "select_all"):
            parts = []
            for impl in impls:
                a, b = figures.get((impl, what, lo)), figures.get((impl, what, hi))
                parts.append(f"{impl} ×{statistics.median(b) / statistics.median(a):.1f}" if a and b else f"{impl} —")
            print(f"  {what:<11} " + ", ".join(parts))
        big = sizes[-1]
        goals = [f"{w} {cell(figures.get(('ksef-tui', w, big), []))} [{g * 1000:g} ms]" if g < 1 else
                 f"{w} {cell(figures.get(('ksef-tui', w, big), []))} [{g:g} s]" for w, g in GOALS.items()]
        print(f"ksef-tui at {big:,} against the issue's goals: " + "; ".join(goals))


if __name__ == "__main__":
    main()
