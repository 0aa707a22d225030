"""Peak memory of the two bulk paths that read a file of any size (issue 12 item 7).

    python -m benchmarks.bench_memory                      # 1,000,000 companies
    python -m benchmarks.bench_memory --rows 100000
    python -m benchmarks.bench_memory --database postgresql+psycopg://user@127.0.0.1/postgres

Builds a CSV of ``--rows`` companies (name, NIP, address, notes; ~80 bytes a row), then measures
each step in its own process, so the peak RSS printed is that step's alone (``ru_maxrss`` of the
child, with the interpreter and ksef-tui's imports, shown as "at rest"):

- import, streamed: ``CsvService.import_companies`` over the open file (what ``ksef-tui import
  companies FILE`` does), beside the alternative of reading the file whole first (the same import
  over its bytes) and of reading its rows whole (``list(csv.DictReader(...))``, parse only, no
  database: what it costs before any row is stored);
- restore, streamed: ``restore`` of a portable backup (gzip, one JSON line per row) of that database
  into an empty one, beside the alternative of reading the backup whole (decompressed and split into
  lines, parse only).
The bar of the issue: the import of 1,000,000 companies under 300 MiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_csv(path: Path, rows: int) -> None:
    from ksef_tui.domain.nip import make_nip

    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("name,nip,address,notes,ksef_enabled\n")
        n, prefix = 0, 100_000_000
        while n < rows:
            prefix += 1
            nip = make_nip(str(prefix))
            if nip is None:
                continue
            n += 1
            f.write(f"Spółka {n} Sp. z o.o.,{nip},ul. Długa {n % 500 + 1} 00-950 Warszawa,klient od {n % 28 + 1}.01,"
                    f"{'true' if n % 3 else 'false'}\n")


def _actor():
    from ksef_tui.services.actor import Actor

    return Actor(id=None, login="local:bench", role="admin")


def child(step: str, database: str, path: str) -> dict:
    """One step in this process; returns its figures."""
    from ksef_tui.store.engine import open_database

    db = open_database(database)
    at_rest = _peak_mib()
    start = time.perf_counter()
    extra: dict = {}
    if step == "import-streamed":
        from ksef_tui.services.csv_io import CsvService

        with open(path, "rb") as f:
            extra["created"] = CsvService(db).import_companies(_actor(), f).created
    elif step == "import-whole-file":
        from ksef_tui.services.csv_io import CsvService

        extra["created"] = CsvService(db).import_companies(_actor(), Path(path).read_bytes()).created
    elif step == "csv-rows-whole":
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
        extra["rows"] = len(rows)
    elif step == "backup":
        from ksef_tui.services.backup import backup

        extra["rows"] = backup(db, _actor(), path, portable=True).total
    elif step == "restore-streamed":
        from ksef_tui.services.backup import restore

        extra["rows"] = restore(db, _actor(), path, force=True).total
    elif step == "backup-lines-whole":
        import gzip

        with gzip.open(path, "rb") as f:
            lines = f.read().splitlines()
        extra["rows"] = len(lines)
    else:
        raise SystemExit(f"unknown step {step}")
    db.dispose()
    return {"step": step, "seconds": round(time.perf_counter() - start, 1), "at_rest_mib": round(at_rest),
            "peak_mib": round(_peak_mib())} | extra


def run_child(step: str, database: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_memory", "--child", step, "--database", database,
                          "--path", str(path)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fresh_sqlite(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", help="an EMPTY database URL for the import (default: temporary SQLite files); "
                        "the restore goes into another temporary SQLite file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.database, args.path)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("XDG_CONFIG_HOME", str(folder / "config"))
        os.environ.setdefault("XDG_STATE_HOME", str(folder / "state"))
        csv_path = folder / "companies.csv"
        write_csv(csv_path, args.rows)
        print(f"CSV: {args.rows:,} companies, {csv_path.stat().st_size / MIB:.0f} MiB")
        streamed_db = args.database or _fresh_sqlite(folder, "streamed.sqlite3")
        results = [run_child("import-streamed", streamed_db, csv_path),
                   run_child("import-whole-file", _fresh_sqlite(folder, "whole.sqlite3"), csv_path),
                   run_child("csv-rows-whole", _fresh_sqlite(folder, "parse.sqlite3"), csv_path)]
        backup_path = folder / "companies.backup"
        results.append(run_child("backup", streamed_db, backup_path))
        print(f"backup: {backup_path.stat().st_size / MIB:.0f} MiB (portable, gzip)")
        results += [run_child("restore-streamed", _fresh_sqlite(folder, "restored.sqlite3"), backup_path),
                    run_child("backup-lines-whole", _fresh_sqlite(folder, "lines.sqlite3"), backup_path)]
        labels = {
            "import-streamed": "CSV import, streamed (ksef-tui)",
            "import-whole-file": "CSV import, file read whole first",
            "csv-rows-whole": "CSV rows read whole (parse only)",
            "backup": "backup (portable, streamed)",
            "restore-streamed": "restore, streamed (ksef-tui)",
            "backup-lines-whole": "backup read whole (parse only)",
        }
        print(f"{'step':38} {'rows':>10} {'time s':>8} {'at rest MiB':>12} {'peak RSS MiB':>13}")
        for r in results:
            rows = r.get("created", r.get("rows", 0))
            print(f"{labels[r['step']]:38} {rows:>10,} {r['seconds']:>8} {r['at_rest_mib']:>12} {r['peak_mib']:>13}")
        streamed = results[0]["peak_mib"]
        print(f"bar: the import of {args.rows:,} companies under 300 MiB peak RSS: {streamed} MiB "
              f"({'met' if streamed < 300 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
