"""A process killed (SIGKILL) in the middle of a serial operation over 10,000 companies
leaves the database as it was before; the same operation then runs to the end. Both engines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ksef_tui.services.actor import Actor
from ksef_tui.services.audit import AuditService
from ksef_tui.services.companies import CompanyFilter, CompanyService
from ksef_tui.store.engine import open_database

N = 10_000
ADMIN = Actor.local_admin("t")

CHILD = textwrap.dedent("""
    import sys, time
    import ksef_tui.services.companies as companies
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.companies import CompanyFilter, CompanyService
    from ksef_tui.store.engine import open_database

    companies.CHUNK = 1000  # ten chunks: the kill lands with several written, several not
    db = open_database(sys.argv[1])
    svc = CompanyService(db)
    actor = Actor.local_admin("serial")
    ids = svc.ids(actor, CompanyFilter())

    def progress(done, total):
        if done == 5000:
            print("MID", flush=True)  # half written, uncommitted: the parent kills us now
            time.sleep(60)

    svc.serial_set_ksef(actor, ids, True, progress=progress)
    print("FINISHED", flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_serial_operation_is_all_or_nothing(db_url):
    from ksef_tui.demo.seed import seed_demo

    db = open_database(db_url)
    try:
        seed_demo(db, ADMIN, companies=N, users=0, seed=3)
        svc, audit = CompanyService(db), AuditService(db)
        svc.serial_set_ksef(ADMIN, svc.ids(ADMIN), False)
        assert svc.count(ADMIN, CompanyFilter(ksef=False)) == N
        before_rows = svc.page(ADMIN, CompanyFilter(), 0, N)
        before_audit = audit.count(ADMIN)
    finally:
        db.dispose()

    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=os.environ.copy())
    try:
        line = child.stdout.readline().strip()
        assert line == "MID", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    db = open_database(db_url)  # a fresh start, as after a crash
    try:
        if db.dialect == "sqlite":
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        svc, audit = CompanyService(db), AuditService(db)
        # exactly as before: not one company switched, no audit entry, versions untouched
        assert svc.count(ADMIN, CompanyFilter(ksef=True)) == 0
        assert svc.page(ADMIN, CompanyFilter(), 0, N) == before_rows
        assert audit.count(ADMIN) == before_audit
        # and the database is usable: the same operation now runs to its end, all of it
        result = svc.serial_set_ksef(ADMIN, svc.ids(ADMIN), True)
        assert len(result.changed) == N and result.skipped == []
        assert svc.count(ADMIN, CompanyFilter(ksef=True)) == N
        assert audit.count(ADMIN) == before_audit + N
    finally:
        db.dispose()
