"""Shared fixtures: every test runs in English on temporary data and config dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: environment variables that steer the test suite itself (where the reference material is, which
#: database server, what CI skips), not the application under test
_SUITE_SWITCHES = {
    "KSEF_TUI_SHARED", "KSEF_TUI_TEST_DATABASE", "KSEF_TUI_CI_SKIP_POSTGRES", "KSEF_TUI_PORTAL_SCREENSHOT",
    "KSEF_TUI_CHROMIUM", "KSEF_TUI_TEST_DAY", "KSEF_TUI_TEST_SHIFT_S",
}


def _shift_the_clock() -> None:
    """``KSEF_TUI_TEST_DAY=YYYY-MM-DD``: the whole suite on that day (noon UTC when the run starts). The
    app's one clock (:data:`ksef_tui.domain.clock.shift`) and the simulators' system clock are moved
    alike (KSeF and the office share the day), here and in every Python process a test starts
    (tests/day/sitecustomize.py, through ``PYTHONPATH``)."""
    day = os.environ.get("KSEF_TUI_TEST_DAY")
    if not day:
        return
    import datetime as dt

    from ksef_tui.domain.clock import as_moment

    shift = as_moment(dt.date.fromisoformat(day)) - dt.datetime.now(dt.UTC)
    os.environ["KSEF_TUI_TEST_SHIFT_S"] = str(shift.total_seconds())
    folder = str(Path(__file__).resolve().parent / "day")
    os.environ["PYTHONPATH"] = os.pathsep.join([folder, *filter(None, [os.environ.get("PYTHONPATH")])])
    from tests.day.sitecustomize import apply

    apply(shift.total_seconds())


_shift_the_clock()

SHARED = Path(os.environ.get("KSEF_TUI_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


# ---- no network beyond this machine --------------------------------------------------------
# KSeF is out of reach here and on CI, but how fast "out of reach" is differs by machine (a name lookup
# that fails at once here may wait for a resolver's timeout elsewhere). A test that would leave the
# loopback gets the same refusal at once everywhere, and the run names it at the end.
_NETWORK_TRIES: list[tuple[str, str]] = []


def _is_loopback(host) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name in ("", "localhost", "::1") or name.startswith("127.") or name.endswith(".localhost")


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    import socket

    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            _NETWORK_TRIES.append((test, str(host)))
            raise socket.gaierror(socket.EAI_NONAME, f"no network in the test suite: {host}")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    yield
    socket.getaddrinfo = original


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.setenv("HOME", str(home))
    # nothing of the machine's or of an earlier test's ksef-tui settings reaches a test (the master key
    # comes from the temporary config folder); the suite's own switches stay
    for var in [v for v in os.environ if v.startswith("KSEF_TUI_") and v not in _SUITE_SWITCHES]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    from ksef_tui import i18n
    from ksef_tui.settings import reset_settings

    reset_settings()  # read again from this test's folders and variables
    i18n.set_language("en")
    yield
    i18n.set_language("en")
    reset_settings()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the checkout")
    return SHARED


# ---- the engine under test ------------------------------------------------------------------
# KSEF_TUI_TEST_DATABASE=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres runs every test
# that uses `db_url` on PostgreSQL: each test gets a fresh database, dropped afterwards.
TEST_DATABASE_ENV = "KSEF_TUI_TEST_DATABASE"


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on (AUTOCOMMIT)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, make_url

        self.url = make_url(url)
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        import secrets

        name = f"ksef_t_{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy import make_url

        name = make_url(url).database
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_PG_SERVER: PostgresServer | None = None


def postgres_server() -> PostgresServer | None:
    """The server named by KSEF_TUI_TEST_DATABASE, or None when the tests run on SQLite."""
    global _PG_SERVER
    url = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not url:
        return None
    if not url.startswith("postgresql"):
        raise pytest.UsageError(f"{TEST_DATABASE_ENV} must be a postgresql+psycopg:// URL, not {url!r}")
    if _PG_SERVER is None:
        _PG_SERVER = PostgresServer(url)
    return _PG_SERVER


def read_database_bytes(url: str) -> bytes:
    """Everything a database holds, as raw bytes: the SQLite file (with its WAL), or on
    PostgreSQL every table in binary COPY form (bytea and text values appear as they are)."""
    from sqlalchemy import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    import psycopg

    out = bytearray()
    conninfo = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for t in tables:
            with conn.cursor().copy(f'COPY "{t}" TO STDOUT (FORMAT binary)') as copy:
                for chunk in copy:
                    out += chunk
    return bytes(out)


@pytest.fixture
def database_bytes():
    """``database_bytes(url)``: the raw contents of a database on either engine."""
    return read_database_bytes


@pytest.fixture
def db_url(tmp_path) -> str:
    server = postgres_server()
    if server is None:
        yield f"sqlite:///{tmp_path / 'ksef-tui.sqlite3'}"
        return
    url = server.create()
    yield url
    try:  # left where the suite-wide secret scan searches (it reads **/*.db under the temp dir)
        (tmp_path / "postgresql-contents.db").write_bytes(read_database_bytes(url))
    except Exception:
        pass
    server.drop(url)


@pytest.fixture
def db(db_url):
    from ksef_tui.store.engine import open_database

    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def admin():
    from ksef_tui.services.actor import Actor

    return Actor.local_admin("tester")


@pytest.fixture
def ctx(db, admin):
    from ksef_tui.services.context import AppContext

    return AppContext(db, admin)


@pytest.fixture
def seeded_ctx(ctx):
    """300 companies and 90 users, deterministic."""
    from ksef_tui.demo.seed import seed_demo

    seed_demo(ctx.db, ctx.actor, companies=300, users=90, seed=7)
    return ctx


@pytest.fixture(scope="session")
def ksef_servers():
    """Loopback simulators for DEMO and PRODUCTION (strict, like the real ones) and TEST, per test session."""
    from ksef_tui.domain.environments import Environment
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    servers = {}
    for env, mode in ((Environment.TEST, "test"), (Environment.DEMO, "strict"), (Environment.PRODUCTION, "strict")):
        servers[env] = start_in_thread(create_app(SimulatorConfig(
            mode=mode, status_delay_s=0.0, token_activation_delay_s=0.0, enrollment_delay_s=0.0)))
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture
def ksef_ctx(ctx, ksef_servers):
    """A context whose environments point at the loopback simulators."""
    for env, server in ksef_servers.items():
        ctx.credentials.connections.set_endpoint(ctx.actor, env, server.base_url)
    return ctx


# ---- secrets never at rest in clear -------------------------------------------------------
# Every secret the code handles passes through ksef_tui.domain.secret.Secret. During the
# run each such value is remembered; when the whole suite has finished, the database
# files, logs and snapshots it left are searched byte for byte for any of them.
_SECRETS: set[bytes] = set()


def _remember(value) -> None:
    data = value.encode() if isinstance(value, str) else bytes(value)
    if b"PRIVATE KEY" in data:  # a PEM key: remember its body lines, not the armour
        for line in data.splitlines():
            if len(line) >= 40 and b"-----" not in line:
                _SECRETS.add(line)
    elif len(data) >= 12:
        _SECRETS.add(data)


def pytest_configure(config):
    from ksef_tui.domain.secret import Secret

    original = Secret.__init__

    def recording_init(self, value):
        original(self, value)
        try:
            _remember(value)
        except Exception:
            pass

    Secret.__init__ = recording_init


def pytest_sessionfinish(session, exitstatus):
    import glob

    base = session.config._tmp_path_factory.getbasetemp() if hasattr(session.config, "_tmp_path_factory") else None
    files: list[str] = []
    if base is not None:
        for pattern in ("**/*.sqlite3*", "**/*.db", "**/*.log"):
            files += glob.glob(str(Path(base) / pattern), recursive=True)
    root = Path(__file__).parent
    files += glob.glob(str(root / "**/__snapshots__/**/*.svg"), recursive=True)
    files += glob.glob(str(root.parent / "screenshots" / "*.svg"))
    leaks = []
    for f in files:
        try:
            data = Path(f).read_bytes()
        except OSError:
            continue
        for secret in _SECRETS:
            if secret in data:
                leaks.append(f"{f}: a secret ({len(secret)} bytes) in clear")
                break
    tries = sorted(set(_NETWORK_TRIES))
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: its controller reports and fails the run
        workeroutput["ksef_secret_scan"] = [len(_SECRETS), len(files), leaks]
        workeroutput["ksef_network_tries"] = [list(t) for t in tries]
        return
    _record_scan(session.config, len(_SECRETS), len(files), leaks, tries)
    if leaks or getattr(session.config, "_ksef_leaks_found", False):
        session.exitstatus = 1


def _record_scan(config, n_secrets: int, n_files: int, leaks: list[str], tries) -> None:
    old = getattr(config, "_ksef_secret_scan", None)
    if old is not None:
        n_secrets, n_files = n_secrets + old[0], n_files + old[1]
        leaks, tries = old[2] + leaks, sorted({*map(tuple, old[3]), *map(tuple, tries)})
    config._ksef_secret_scan = (n_secrets, n_files, leaks, tries)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist controller: gather each worker's secret scan; a leak anywhere fails the run."""
    out = getattr(node, "workeroutput", {}) or {}
    scan = out.get("ksef_secret_scan")
    if scan is None:
        return
    _record_scan(node.config, scan[0], scan[1], scan[2], out.get("ksef_network_tries", []))
    if scan[2]:
        node.config._ksef_leaks_found = True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    scan = getattr(config, "_ksef_secret_scan", None)
    if scan is None:
        return
    n_secrets, n_files, leaks, tries = scan
    if tries:
        terminalreporter.write_line(f"network: {len(tries)} lookups beyond the loopback were refused at once:")
        for test, host in tries[:40]:
            terminalreporter.write_line(f"  {test}: {host}")
    terminalreporter.write_line(
        f"secret scan: {n_secrets} secrets searched in {n_files} database, log and snapshot files: "
        + ("LEAKS FOUND" if leaks else "none found in clear"))
    for leak in leaks:
        terminalreporter.write_line("  " + leak, red=True)


# --- the panel under test has finished its first loads before the test's first key ------------------
# Lists, screens and forms load in thread workers, so a key pressed in the first milliseconds can find
# an empty table (on a loaded CI machine the worker is still running). A person looks at the screen
# before typing; the tests do the same: the pilot is handed over, and ``run_before`` of a snapshot is
# called, once the workers started by the first screen have finished (bounded: a worker that never
# ends fails the test by name instead of hanging it).


async def _first_loads_done(pilot) -> None:
    import asyncio

    from tests.pilot import TIMEOUT_S, settle

    try:
        await asyncio.wait_for(settle(pilot), TIMEOUT_S)
    except TimeoutError:
        running = [w.name for w in pilot.app.workers if not w.is_finished]
        raise AssertionError(f"the panel's first loads did not finish within {TIMEOUT_S:g} s: {running}") from None


@pytest.fixture(autouse=True)
def _pilot_after_first_loads(monkeypatch):
    from contextlib import asynccontextmanager

    from textual.app import App

    original = App.run_test

    @asynccontextmanager
    async def run_test(self, *args, **kwargs):
        async with original(self, *args, **kwargs) as pilot:
            await _first_loads_done(pilot)
            yield pilot

    monkeypatch.setattr(App, "run_test", run_test)


@pytest.fixture
def snap_compare(snap_compare):
    """pytest-textual-snapshot's ``snap_compare``, with ``run_before`` called once the first loads
    are done (and the first loads awaited when a test has no ``run_before``)."""

    def compare(app, *args, run_before=None, **kwargs):
        async def after_first_loads(pilot) -> None:
            await _first_loads_done(pilot)
            if run_before is not None:
                result = run_before(pilot)
                if hasattr(result, "__await__"):
                    await result

        return snap_compare(app, *args, run_before=after_first_loads, **kwargs)

    return compare


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL (KSEF_TUI_TEST_DATABASE), run the tests that use a database (`db_url`, directly
    or through `db`, `ctx`, ...): the others do not touch the engine, ran in the SQLite run already
    and would give the same result again (CI runs both, within its time budget)."""
    if not os.environ.get(TEST_DATABASE_ENV, "").strip():
        return
    keep = [it for it in items if "db_url" in getattr(it, "fixturenames", ())]
    left = [it for it in items if "db_url" not in getattr(it, "fixturenames", ())]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = keep
