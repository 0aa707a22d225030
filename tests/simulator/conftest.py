from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # make ``tests.contract`` importable whatever the import mode
    sys.path.insert(0, str(ROOT))

from ksef_tui.simulator import ManualClock, SimulatorConfig, create_app, serve_in_thread
from tests.contract.openapi import match_template, validate_httpx_response

NIP = "5265877635"
OTHER_NIP = "7762811692"
PESEL = "90010112345"


def contract_hook(response: httpx.Response) -> None:
    """Every response the simulator gives must match the spec (when the status is documented)."""
    response.read()
    path = response.request.url.path
    path = path[path.index("/v2") + 3 :]
    template = match_template(response.request.method, path)
    assert template is not None, f"{response.request.method} {path} is not in the spec"
    from tests.contract.openapi import spec

    if str(response.status_code) in spec()["paths"][template][response.request.method.lower()]["responses"]:
        validate_httpx_response(response.request.method, template, response)


def fast_config(**overrides: object) -> SimulatorConfig:
    values: dict[str, object] = {"status_delay_s": 0.0, "token_activation_delay_s": 0.0, "enrollment_delay_s": 0.0}
    values.update(overrides)
    return SimulatorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_client(clock: ManualClock) -> Iterator:
    """In-process client (Starlette TestClient, an httpx.Client over the ASGI app)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    clients = []

    def make(**overrides: object) -> TestClient:
        overrides.setdefault("clock", clock)
        app = create_app(fast_config(**overrides))
        client = TestClient(app, base_url="http://ksef.local/v2", raise_server_exceptions=True)
        client.event_hooks = {"request": [], "response": [contract_hook]}
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def sim(client):
    return client.app.state.sim


@pytest.fixture(scope="module")
def loopback() -> Iterator:
    """One real uvicorn server per module (loopback socket)."""
    app = create_app(fast_config())
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def net_client(loopback) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopback.base_url, event_hooks={"response": [contract_hook]}) as http:
        yield http


@contextmanager
def simulator_process(*args: str) -> Iterator[str]:
    """``ksef-tui simulator ARGS`` as a real process on a free loopback port; yields its base URL."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ksef_tui", "simulator", "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        base_url = (proc.stdout.readline() if proc.stdout else "").strip()
        if not base_url.startswith("http://127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"simulator did not start: {base_url!r} {proc.stderr.read() if proc.stderr else ''}")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
