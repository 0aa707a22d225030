"""Shared fixtures: every test runs in English on temporary data and config dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("KSEF_TUI_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KSEF_TUI_DATABASE_URL", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    from ksef_tui import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the checkout")
    return SHARED


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ksef-tui.sqlite3'}"


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
    from ksef_tui.services.demo import seed_demo

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
        ctx.credentials.set_endpoint(ctx.actor, env, server.base_url)
    return ctx


# ---- secrets never at rest in clear -------------------------------------------------------
# Every secret the code handles passes through ksef_tui.ksef.secrets.Secret. During the
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
    from ksef_tui.ksef.secrets import Secret

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
    session.config._ksef_secret_scan = (len(_SECRETS), len(files), leaks)
    if leaks:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    scan = getattr(config, "_ksef_secret_scan", None)
    if scan is None:
        return
    n_secrets, n_files, leaks = scan
    terminalreporter.write_line(
        f"secret scan: {n_secrets} secrets searched in {n_files} database, log and snapshot files: "
        + ("LEAKS FOUND" if leaks else "none found in clear"))
    for leak in leaks:
        terminalreporter.write_line("  " + leak, red=True)
