"""Service-level figures of the Companies screen on SQLite and PostgreSQL, side by side.

    python -m benchmarks.bench_engines --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m benchmarks.bench_engines --throwaway          # starts a cluster with .ci/pg-throwaway
    python -m benchmarks.bench_engines --sizes 1000,10000 --runs 9

For every size the same companies go into a SQLite file and into a fresh PostgreSQL database
(created on the server given, dropped afterwards). Medians of --runs of what the screen asks:
count of all rows; one page of 40 rows at the middle offset; a filter keystroke ("ko": count
+ first page); select-all (every filtered id, in order); and the serial operation "enable
KSeF" over all companies (one transaction, one audit entry per company; run once, timed).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/bench_engines.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGE = 40
FIGURES = ("count", "page@middle", "filter 'ko'", "select-all ids", "enable all")


def build(url: str, n: int) -> None:
    from sqlalchemy import insert

    from ksef_tui.demo.seed import company_rows
    from ksef_tui.store.engine import open_database
    from ksef_tui.store.models import Company

    db = open_database(url)
    rows = company_rows(n, seed=11, ksef_share=0.0)
    with db.session() as s:
        for i in range(0, n, 20_000):
            s.execute(insert(Company), rows[i : i + 20_000])
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE company")
    db.dispose()


def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(url: str, runs: int) -> dict[str, float]:
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.companies import CompanyFilter, CompanyService
    from ksef_tui.store.engine import open_database

    db = open_database(url)
    try:
        svc, me = CompanyService(db), Actor.local_admin("bench")
        n = svc.count(me)
        flt = CompanyFilter(text="ko")
        out = {
            "count": _median(lambda: svc.count(me), runs),
            "page@middle": _median(lambda: svc.page(me, CompanyFilter(), n // 2, PAGE), runs),
            "filter 'ko'": _median(lambda: (svc.count(me, flt), svc.page(me, flt, 0, PAGE)), runs),
            "select-all ids": _median(lambda: svc.ids(me), runs),
        }
        ids = svc.ids(me)
        t = time.perf_counter()
        result = svc.serial_set_ksef(me, ids, True)
        out["enable all"] = time.perf_counter() - t
        assert len(result.changed) == n
        return out
    finally:
        db.dispose()


def _fmt(v: float) -> str:
    return f"{v * 1000:9.1f} ms" if v < 10 else f"{v:9.2f} s "


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--runs", type=int, default=7)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--database", help="a PostgreSQL server URL on which the benchmark may CREATE/DROP DATABASE")
    g.add_argument("--throwaway", action="store_true", help="start a throwaway local cluster (.ci/pg-throwaway)")
    args = p.parse_args()
    from sqlalchemy import create_engine, make_url

    root = Path(__file__).resolve().parents[1]
    pgdir = None
    try:
        if args.throwaway:
            pgdir = Path(tempfile.mkdtemp(prefix="ksef-bench-pg-"))
            server_url = subprocess.run([str(root / ".ci" / "pg-throwaway"), "start", str(pgdir / "cluster")],
                                        check=True, capture_output=True, text=True).stdout.strip()
        else:
            server_url = args.database
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        print(f"Companies, service level; medians of {args.runs} (enable all: once). "
              f"Each cell: SQLite | PostgreSQL {version}")
        header = f"{'companies':>10} | " + " | ".join(f"{f:^25}" for f in FIGURES)
        print(header)
        print("-" * len(header))
        with tempfile.TemporaryDirectory(prefix="ksef-bench-") as tmp:
            for n in (int(s) for s in args.sizes.split(",")):
                lite = f"sqlite:///{Path(tmp) / f'bench-{n}.sqlite3'}"
                name = f"ksef_bench_{n}_{secrets.token_hex(3)}"
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                pg = make_url(server_url).set(database=name).render_as_string(hide_password=False)
                try:
                    build(lite, n)
                    build(pg, n)
                    a, b = measure(lite, args.runs), measure(pg, args.runs)
                finally:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                print(f"{n:>10,} | " + " | ".join(f"{_fmt(a[f])}|{_fmt(b[f])}" for f in FIGURES), flush=True)
        admin.dispose()
    finally:
        if pgdir is not None:
            subprocess.run([str(root / ".ci" / "pg-throwaway"), "stop", str(pgdir / "cluster")], capture_output=True)
            subprocess.run(["rm", "-rf", str(pgdir)])


if __name__ == "__main__":
    os.environ.setdefault("KSEF_TUI_MASTER_KEY", "A" * 43)
    main()
