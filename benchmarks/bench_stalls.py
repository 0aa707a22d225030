"""The longest event-loop stall of the panel while real work runs, at 100,000 and 1,000,000 rows.

    python -m benchmarks.bench_stalls                      # 100,000 and 1,000,000
    python -m benchmarks.bench_stalls --sizes 100000 --runs 3

For every size one database is built with that many companies and that many audit entries,
plus 20 users with KSeF tokens and one with certificate files, and a loopback KSeF simulator
plays DEMO. The real panel (KsefApp, headless, 120x40) then does, one after the other:

- open: the Companies list with its rows;
- idle at start: the full garbage collection the panel runs once nobody has typed for a while
  (``ui/common/gc_policy.py``), here while the user reads the list they opened;
- end key: the last row of the list (a page fetched at OFFSET size-100);
- select all: every row of the list selected;
- open audit log: the audit log screen until it shows its count and first rows;
- audit filter: F7, then "ewa" typed into the user filter at the key-repeat rate, until the
  filtered count is shown;
- audit export: Ctrl+E, until the file is written (every entry);
- open company: a company's screen until its details are shown;
- save: its notes changed and saved (Ctrl+S);
- open user's KSeF: a user's KSeF screen until its form is mounted (a token row);
- certificate forms: the login method switched to Certificate, until both certificate forms
  (DEMO and PRODUCTION) are mounted;
- certificate files: on the user's KSeF screen, certificate and key files chosen, until their
  facts are shown;
- certificate authorization: "Perform certificate authorization" until the result is shown;
- bulk test: the KSeF dashboard's "Test authorization" of 20 token rows, until the report;
- idle after work: that collection again, with the heap as the steps above left it (no pause
  between them: all their garbage at once, and the KSeF libraries imported on the way);
- idle again: a company and the user's KSeF screen opened and closed again, a token tested, then
  the collection once more.

Every step starts as the user's key does: the collector's policy is told someone works. The
three "idle" steps are not work and are reported apart: no key waits on them unless pressed
during one.

Every screen is opened inside a step (composing, styling, mounting and drawing it run on the
loop). Meanwhile a task on the event loop sleeps 5 ms at a time and records how late it wakes: the
longest lateness in each step is that step's longest stall (the goal: under 50 ms). Each step
runs ``--runs`` times (fresh processes); the table gives the median and min–max of the step's
longest stall, the most CPU time the event loop's thread itself used in one tick ("loop CPU":
the work on the loop; a stall much longer than it is time the loop waited for a CPU or for the
interpreter lock, which other processes and our own worker threads hold), and how long the
step took. ``BENCH_EXPLAIN=1`` also prints, per step, the
event loop's stacks seen most often while it was held over half the goal (where a stall is), and
what ran in the tick with the most loop CPU; ``BENCH_PROFILE="open company"`` profiles every
tick of that step and prints the profile of its longest (cProfile: about twice as slow).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SIZE = (120, 40)
TICK = 0.005
GOAL_MS = 50.0
STEPS = ("open", "end key", "select all", "open audit log", "audit filter", "audit export", "open company",
         "save", "open user's KSeF", "certificate forms", "certificate files", "certificate authorization",
         "bulk test")
#: the garbage collector's full pass when nobody types (not work: reported apart, see the docstring)
IDLE_STEPS = ("idle at start", "idle after work", "idle again")


# ------------------------------------------------------------------ data


def build(url: str, n: int) -> None:
    """Companies and audit entries (n each), token users for the bulk test, a certificate user."""
    import datetime as dt

    from sqlalchemy import insert

    from ksef_tui.demo.seed import company_rows
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.models import AuditEntry, Company

    db = open_database(url)
    rows = company_rows(n, seed=11, ksef_share=0.0)
    with db.session() as s:
        for i in range(0, n, 20_000):
            s.execute(insert(Company), rows[i : i + 20_000])
    at = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    who = ("ewa", "jan", "ola", "piotr")
    with db.session() as s:
        for i in range(0, n, 50_000):
            s.execute(insert(AuditEntry), [
                {"at": at + dt.timedelta(seconds=j), "actor_id": None, "actor_login": who[j % 4],
                 "action": "company.update", "object_type": "company", "object_id": j % 1000 + 1,
                 "object_label": f"Firma {j % 1000}", "before": '{"notes": null}', "after": '{"notes": "x"}'}
                for j in range(i, min(n, i + 50_000))])
    db.dispose()


def seed_ksef(ctx, sim, folder: Path) -> dict:
    """20 token users (bulk test) and one user with certificate files (the form), against ``sim``."""
    from benchmarks.bench_bulk import seed_token_users
    from ksef_tui.domain.environments import Environment
    from ksef_tui.ksef.testcert import make_test_certificate

    targets = seed_token_users(ctx, sim, 20, Environment.DEMO, seed=23)
    nip = ctx.companies.get(ctx.actor, targets[0].company_id).nip
    cert, key = make_test_certificate(nip=nip, kind="seal", key="ec")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key.reveal())
    return {"cert_user": targets[0].user_id, "cert_company": targets[0].company_id}


# ------------------------------------------------------------------ measuring


class Stalls:
    """Sleeps ``TICK`` at a time on the event loop; the lateness of each wake-up is a stall.

    With ``explain``, a thread looks at the event loop's stack whenever it has not woken for
    ``GOAL_MS / 2``: the stacks seen most often in each step say where its stalls are."""

    def __init__(self, explain: bool = False) -> None:
        self.step = ""
        self.worst: dict[str, float] = {}
        self.worst_cpu: dict[str, float] = {}  # the most CPU time the loop's thread used in one tick
        self.task: asyncio.Task | None = None
        self.explain = explain
        self.beat = time.perf_counter()
        self.seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.gcs: dict[str, dict[str, tuple[int, float, float, int]]] = collections.defaultdict(dict)
        #: with ``explain``: what ran on the loop in the tick since the last wake-up, and in each
        #: step's tick with the most loop CPU (callbacks over a millisecond, with their CPU time)
        self.ran: list[tuple[float, str]] = []
        self.worst_ran: dict[str, list[tuple[float, str]]] = {}

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._watch())
        if os.environ.get("BENCH_PROFILE"):
            self._profile_ticks(os.environ["BENCH_PROFILE"])
        if self.explain:
            threading.Thread(target=self._look, args=(threading.get_ident(),), daemon=True).start()
            self._time_callbacks()
            import gc

            gc.callbacks.append(self._gc)

    def _profile_ticks(self, step: str) -> None:
        """Each turn of the loop in ``step`` under cProfile; the longest turn's profile is kept."""
        import cProfile
        from asyncio import base_events

        run_once = base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]
        self.profiled: tuple[float, cProfile.Profile | None] = (0.0, None)

        def profiled(loop) -> None:
            if self.step != step:
                return run_once(loop)
            profile, cpu = cProfile.Profile(), time.thread_time()
            profile.enable()
            try:
                return run_once(loop)
            finally:
                profile.disable()
                took = time.thread_time() - cpu
                if took > self.profiled[0]:
                    self.profiled = (took, profile)

        base_events.BaseEventLoop._run_once = profiled  # type: ignore[attr-defined]

    def profile_report(self) -> str:
        import io
        import pstats

        took, profile = getattr(self, "profiled", (0.0, None))
        if profile is None:
            return ""
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        return f"the longest turn of {os.environ['BENCH_PROFILE']}: {took * 1000:.1f} ms (profiled)\n{out.getvalue()}"

    def _time_callbacks(self) -> None:
        """Every callback the loop runs is timed (thread CPU); a Textual message pump's or timer's
        task is named after its widget or timer."""
        import asyncio.events

        run = asyncio.events.Handle._run
        ran = self.ran

        def timed(handle: asyncio.events.Handle) -> None:
            cpu = time.thread_time()
            try:
                run(handle)
            finally:
                took = (time.thread_time() - cpu) * 1000
                if took > 1 and self.step:
                    task = getattr(getattr(handle, "_callback", None), "__self__", None)
                    name = (f"{task.get_name()}: {task.get_coro().__qualname__}"
                            if isinstance(task, asyncio.Task) else repr(handle))
                    ran.append((round(took, 1), name[:100]))

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]

    def _gc(self, phase: str, info: dict) -> None:
        """Every garbage collection (it holds every thread) in each step: per generation and thread,
        how many, the longest, and the objects it freed."""
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self.step:
            key = f"gc gen{info['generation']} ({threading.current_thread().name})"
            took = (time.perf_counter() - self._gc_start) * 1000
            count, longest, total, freed = self.gcs[self.step].get(key, (0, 0.0, 0.0, 0))
            self.gcs[self.step][key] = (count + 1, max(longest, took), total + took, freed + info["collected"])

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t, cpu = loop.time(), time.thread_time()
            self.beat = time.perf_counter()
            await asyncio.sleep(TICK)
            late = loop.time() - t - TICK
            busy = time.thread_time() - cpu  # what the loop itself ran meanwhile (its callbacks)
            if self.step:
                self.worst[self.step] = max(self.worst.get(self.step, 0.0), late)
                if busy > self.worst_cpu.get(self.step, 0.0):
                    self.worst_ran[self.step] = sorted(self.ran, reverse=True)[:6]
                self.worst_cpu[self.step] = max(self.worst_cpu.get(self.step, 0.0), busy)
            self.ran.clear()

    def _look(self, loop_thread: int) -> None:
        import traceback

        while True:
            time.sleep(0.002)
            if not self.step or time.perf_counter() - self.beat < GOAL_MS / 2000:
                continue
            frames = sys._current_frames()
            frame = frames.get(loop_thread)
            if frame is None:
                continue
            # lookup_lines=False: no source lines read (linecache would fill the heap the GC walks)
            here = traceback.StackSummary.extract(traceback.walk_stack(frame), limit=6, lookup_lines=False)[::-1]
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(here))
            others = [traceback.StackSummary.extract(traceback.walk_stack(f), limit=1, lookup_lines=False)[0]
                      for ident, f in frames.items()
                      if ident not in (loop_thread, threading.get_ident())]
            busy = "; ".join(sorted({f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in others}))[:300]
            self.seen[self.step][f"{where}\n      other threads: {busy}"] += 1

    def report(self) -> str:
        out = []
        for step in (*STEPS, *IDLE_STEPS):
            if step not in self.seen and step not in self.gcs and step not in self.worst_ran:
                continue
            out.append(f"{step}:")
            if step in self.worst_ran:
                out.append(f"  the tick with the most loop CPU ({self.worst_cpu[step] * 1000:.1f} ms) ran: "
                           + "; ".join(f"{name} {ms} ms" for ms, name in self.worst_ran[step]))
            out.extend(f"  {n:4d}x {stack}" for stack, n in self.seen[step].most_common(4))
            out.extend(f"  {key}: {count}x, longest {longest:.1f} ms, total {total:.0f} ms, {freed:,} freed"
                       for key, (count, longest, total, freed) in sorted(self.gcs[step].items()))
        return "\n".join(out)


async def until(pilot, condition, what: str, timeout: float = float(os.environ.get("BENCH_TIMEOUT", 600))) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"never happened: {what}")
        await asyncio.sleep(0.01)
    await pilot.pause()


async def run(url: str, folder: str, seed: dict, sim_url: str) -> dict:
    from textual.widgets import Input

    from ksef_tui.domain.environments import Environment
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.store.engine import open_database
    from ksef_tui.ui.app import KsefApp
    from ksef_tui.ui.audit.audit_log import AuditLogScreen
    from ksef_tui.ui.companies.company_detail import CompanyDetailScreen
    from ksef_tui.ui.ksef.bulk_run import TEST, BulkRunScreen
    from ksef_tui.ui.ksef.user_ksef import UserKsefScreen

    ctx = AppContext(open_database(url, migrate=False), Actor.local_admin("bench"))
    ctx.credentials.connections.set_endpoint(ctx.actor, Environment.DEMO, sim_url)
    n = ctx.companies.count(ctx.actor)
    stalls = Stalls(explain=bool(os.environ.get("BENCH_EXPLAIN")))
    took: dict[str, float] = {}
    app = KsefApp(ctx)

    class Step:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            if os.environ.get("BENCH_DEBUG"):
                print(f"step: {self.name}", file=sys.stderr, flush=True)
            # a step is the user's action: it starts with a key, which tells the collector's policy
            # that someone works in the panel (a screen pushed by code alone looked idle to it, and a
            # full collection for an idle panel ran inside the step)
            app.gc_policy.input()
            stalls.step = self.name
            self.t = time.perf_counter()

        def __exit__(self, *exc) -> None:
            took[self.name] = time.perf_counter() - self.t
            stalls.step = ""

    async def idle_step(pilot, name: str) -> None:
        """The step ``name``: the full collection the policy runs once nobody has typed for a while
        and no worker runs (no step's work meets it: a step starts with a key), as if it were due."""
        from ksef_tui.ui.common import gc_policy

        await until(pilot, lambda: not any(worker.is_running for worker in app.workers), "no worker running")
        with Step(name):
            app.gc_policy.last_input -= gc_policy.IDLE_S
            app.gc_policy._at_full -= gc_policy.FULL_AFTER
            assert app.gc_policy.when_idle(app), "the idle collection did not run"
            await pilot.pause()
            if name == "idle at start":  # the user reads the list: the KSeF libraries are loaded meanwhile
                await until(pilot, lambda: not any(worker.is_running for worker in app.workers), "the preload")
                app.gc_policy.when_idle(app)  # the policy's next look sets them aside
                assert app.gc_policy.preloaded, "the KSeF libraries were not loaded"

    async with app.run_test(size=SIZE) as pilot:
        stalls.start()
        screen = app.screen
        with Step("open"):
            await until(pilot, lambda: screen.table.row_count == n and screen.table.cursor_row is not None, "rows")
        await idle_step(pilot, "idle at start")
        with Step("end key"):
            await pilot.press("end")
            await until(pilot, lambda: screen.table.cursor_row is not None and screen.table.cursor == n - 1, "last")
        with Step("select all"):
            await pilot.press("a")
            await until(pilot, lambda: len(screen.selection) == n and not screen._busy, "all selected")
        screen.action_clear_selection()
        from ksef_tui.services.audit import AuditFilter

        # the bench's own queries run in a thread: on the loop, the tick they held (a second at
        # 1,000,000 entries) was counted in the step that follows
        total = await asyncio.to_thread(ctx.audit.count, ctx.actor)
        expected = await asyncio.to_thread(ctx.audit.count, ctx.actor, flt=AuditFilter(user="ewa"))
        await pilot.pause()
        with Step("open audit log"):
            await app.push_screen(audit := AuditLogScreen(export_dir=Path(folder)))
            await until(pilot, lambda: audit.table.row_count == total and not audit.filter_pending, "the log")
        audit.query_one("#audit-user", Input).focus()
        await pilot.pause()
        with Step("audit filter"):
            for ch in "ewa":
                await pilot.press(ch)
                await asyncio.sleep(1 / 30)  # a held key repeats about 30 times a second
            await until(pilot, lambda: audit.table.row_count == expected and not audit.filter_pending,
                        "the filtered log")
        with Step("audit export"):
            audit.table.focus()
            await pilot.press("ctrl+e")
            await until(pilot, lambda: "Exported" in str(audit.query_one("#audit-status").render()), "the export")
        audit.dismiss(None)
        audit = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        with Step("open company"):
            await app.push_screen(detail := CompanyDetailScreen(1))
            await until(pilot, lambda: detail.detail is not None, "the company")
        notes = detail.query_one("#in-notes", Input)
        notes.value = "bench"
        await pilot.pause()
        version = detail.detail.version
        with Step("save"):
            await pilot.press("ctrl+s")
            await until(pilot, lambda: detail.detail.version > version, "saved")
        detail.dismiss(None)
        detail = notes = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        from textual.widgets import Select

        from ksef_tui.domain.auth import AuthMethod

        with Step("open user's KSeF"):
            await app.push_screen(user := UserKsefScreen(ctx, seed["cert_user"]))
            await until(pilot, lambda: user.panel_widget() is not None and user.panel_widget().ready, "form")
        panel = user.panel_widget()
        with Step("certificate forms"):
            # the certificate forms are built when the method is first switched to them
            panel.query_one("#panel-method", Select).value = AuthMethod.CERTIFICATE.value
            await until(pilot, lambda: panel.ready and len(panel.query("KsefCertForm")) == 2, "the certificate forms")
        form = panel.query_one("#cert-demo")
        with Step("certificate files"):
            form.query_one("#cert-file", Input).value = str(Path(folder) / "cert.pem")
            form.query_one("#key-file", Input).value = str(Path(folder) / "key.pem")
            await until(pilot, lambda: form.facts is not None, "the certificate's facts")
        with Step("certificate authorization"):
            form.authorize()
            await until(pilot, lambda: form.running is None and "saved" in str(
                form.query_one("#cert-result").render()).lower(), "the authorization")
        user.dismiss(None)
        user = panel = form = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        from ksef_tui.services.ksef.bulk import configured_targets

        targets = await asyncio.to_thread(configured_targets, ctx.credentials, ctx.actor, Environment.DEMO)
        await pilot.pause()
        with Step("bulk test"):
            await app.push_screen(bulk := BulkRunScreen(TEST, targets))
            await until(pilot, lambda: bulk.report is not None and not bulk.running, "the bulk report")
        bulk.dismiss(None)
        bulk = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        await idle_step(pilot, "idle after work")
        # the same work once more (the KSeF libraries are imported and frozen by now), then idle
        await app.push_screen(detail := CompanyDetailScreen(1))
        await until(pilot, lambda: detail.detail is not None, "the company")
        detail.dismiss(None)
        detail = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        await app.push_screen(user := UserKsefScreen(ctx, seed["cert_user"]))
        await until(pilot, lambda: user.panel_widget() is not None and user.panel_widget().ready, "form")
        user.action_test()
        await until(pilot, lambda: not user.panel_widget().busy, "the test")
        user.dismiss(None)
        user = None  # the panel lets a closed screen go: so must the benchmark
        await pilot.pause()
        await idle_step(pilot, "idle again")
    if stalls.explain:
        print(stalls.report(), file=sys.stderr, flush=True)
    if os.environ.get("BENCH_PROFILE"):
        print(stalls.profile_report(), file=sys.stderr, flush=True)
    return {"stall": stalls.worst, "cpu": stalls.worst_cpu, "took": took, "rows": n}


def child(args: argparse.Namespace) -> None:
    if os.environ.get("BENCH_GC") == "off":  # experiment: the collector off (the app's policy: ui/common/gc_policy.py)
        import gc

        gc.disable()
    result = asyncio.run(run(args.url, args.folder, json.loads(args.seed), args.sim))
    print(json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--url", "--folder", "--seed", "--sim"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.context import AppContext
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread
    from ksef_tui.store.engine import open_database

    print(f"Longest event-loop stall per step (median, min–max of {args.runs} runs; goal < {GOAL_MS:g} ms); "
          f"headless {SIZE[0]}x{SIZE[1]}, SQLite")
    env = dict(os.environ, KSEF_TUI_MASTER_KEY=os.environ.get("KSEF_TUI_MASTER_KEY", "A" * 43))
    os.environ.setdefault("KSEF_TUI_MASTER_KEY", env["KSEF_TUI_MASTER_KEY"])
    worst_all = worst_cpu = worst_idle = 0.0
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="ksef-stalls-") as tmp:
            folder = Path(tmp)
            server = start_in_thread(create_app(SimulatorConfig(mode="test", status_delay_s=0.0,
                                                                token_activation_delay_s=0.0)))
            try:
                url = f"sqlite:///{folder / 'bench.sqlite3'}"
                build(url, n)
                ctx = AppContext(open_database(url), Actor.local_admin("bench"))
                seed = seed_ksef(ctx, server.sim, folder)
                ctx.db.dispose()
                results = []
                for _ in range(args.runs):
                    r = subprocess.run([sys.executable, "-m", "benchmarks.bench_stalls", "--child", "--url", url,
                                        "--folder", str(folder), "--seed", json.dumps(seed), "--sim",
                                        server.base_url], capture_output=True, text=True, env=env, timeout=1800,
                                       stdin=subprocess.DEVNULL)
                    if r.returncode != 0:
                        raise SystemExit(f"run failed: {r.stderr.strip().splitlines()[-5:]}")
                    results.append(json.loads(r.stdout.strip().splitlines()[-1]))
                    if env.get("BENCH_EXPLAIN") or env.get("BENCH_PROFILE"):
                        print(r.stderr, file=sys.stderr, flush=True)
            finally:
                server.stop()
        print(f"\n{n:,} companies and audit entries (load average {os.getloadavg()[0]:.1f})")
        print(f"{'step':<28} {'longest stall':>24} {'loop CPU in it':>24} {'step took (median)':>20}")
        for step in (*STEPS, *IDLE_STEPS):
            if step == IDLE_STEPS[0]:
                print("the collector's full pass when nobody types (not work):")
            ms = [r["stall"].get(step, 0.0) * 1000 for r in results]
            cpu = [r["cpu"].get(step, 0.0) * 1000 for r in results]
            took = statistics.median(r["took"][step] for r in results)
            if step in IDLE_STEPS:
                worst_idle = max(worst_idle, max(ms))
            else:
                worst_all = max(worst_all, max(ms))
                worst_cpu = max(worst_cpu, max(cpu))
            flag = "" if max(ms) < GOAL_MS else "  OVER" if max(cpu) >= GOAL_MS else "  over (waiting, not running)"
            print(f"{step:<28} {statistics.median(ms):8.1f} ms ({min(ms):5.1f}–{max(ms):5.1f}) "
                  f"{statistics.median(cpu):8.1f} ms ({min(cpu):5.1f}–{max(cpu):5.1f}) {took:17.2f} s{flag}",
                  flush=True)
    print(f"\nlongest stall while working: {worst_all:.1f} ms ({'under' if worst_all < GOAL_MS else 'OVER'} the "
          f"{GOAL_MS:g} ms goal); the longest the loop itself ran in one tick: {worst_cpu:.1f} ms; the longest "
          f"full collection when nobody types: {worst_idle:.1f} ms")


if __name__ == "__main__":
    main()
