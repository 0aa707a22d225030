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

# after the path above
from ksef_tui.simulator import ManualClock, SimulatorConfig, create_app, serve_in_thread  # noqa: E402
from tests.contract.openapi import (  # noqa: E402
    documented_codes,
    exception_codes,
    match_template,
    spec,
    validate_httpx_response,
)

NIP = "5265877635"
OTHER_NIP = "7762811692"
PESEL = "90010112345"


def check_contract(response: httpx.Response, *, codes: bool = True) -> None:
    """A (read) response of the simulator matches openapi-v2.9.0.json: the path is in the spec, the
    body of a documented status validates, and a 400 carries only exception codes the operation
    lists (where the spec lists any)."""
    path = response.request.url.path
    path = path[path.index("/v2") + 3 :]
    method = response.request.method
    template = match_template(method, path)
    assert template is not None, f"{method} {path} is not in the spec"
    if str(response.status_code) not in spec()["paths"][template][method.lower()]["responses"]:
        return
    body = validate_httpx_response(method, template, response)
    listed = documented_codes(method, template)
    if codes and response.status_code == 400 and listed is not None:
        unlisted = [c for c in exception_codes(body) if c not in listed]
        assert not unlisted, f"{method} {template}: codes {unlisted} not listed by 2.9 ({sorted(listed)})"


def contract_hook(response: httpx.Response) -> None:
    """httpx response hook: every response the simulator gives must match the spec."""
    response.read()
    check_contract(response)


async def async_contract_hook(response: httpx.Response) -> None:
    await response.aread()
    check_contract(response)


def fast_config(**overrides: object) -> SimulatorConfig:
    values: dict[str, object] = {"status_delay_s": 0.0, "token_activation_delay_s": 0.0, "enrollment_delay_s": 0.0,
                                 "permission_operation_delay_s": 0.0}
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
