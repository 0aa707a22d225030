"""Rate limits, fault injection, persistence, the CLI server, XSD samples."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ksef_tui.simulator import create_app, serve_in_thread

from .conftest import NIP, contract_hook
from .kclient import Ksef, bearer


def test_rate_limit_429_with_retry_after(make_client, clock):
    client = make_client(rate_limits=True)
    for _ in range(60):
        assert client.post("/auth/challenge").status_code == 200
    blocked = client.post("/auth/challenge")
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "1"
    assert blocked.json()["status"]["code"] == 429
    clock.advance(1.01)
    assert client.post("/auth/challenge").status_code == 200


def test_rate_limit_minute_window_per_context(make_client, clock):
    client = make_client(rate_limits=True)
    sim = client.app.state.sim
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["CredentialsRead"], description="limits test")
    session = Ksef(client).login_token(token, NIP)
    for i in range(30):
        assert client.get("/tokens", headers=bearer(session)).status_code == 200
        clock.advance(0.2 if i % 9 else 1.0)  # stay under 10/s
    blocked = client.get("/tokens", headers={**bearer(session), "X-Error-Format": "problem-details"})
    assert blocked.status_code == 429
    assert blocked.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    effective = client.get("/rate-limits", headers=bearer(session))
    assert effective.status_code == 429  # same group, same window
    clock.advance(61)
    assert client.get("/rate-limits", headers=bearer(session)).json()["other"]["perMinute"] == 30


def test_faults_status_throttle_latency_probability(client, sim):
    sim.faults.fail("/auth/challenge", 502, times=2)
    assert [client.post("/auth/challenge").status_code for _ in range(3)] == [502, 502, 200]
    sim.faults.throttle("/security/*", retry_after=7)
    r = client.get("/security/public-key-certificates")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    sim.faults.delay("/auth/challenge", seconds=0.05, times=1)
    assert client.post("/auth/challenge").status_code == 200
    sim.faults.fail("/auth/challenge", 500, times=None, probability=0.5)
    codes = {client.post("/auth/challenge").status_code for _ in range(40)}
    assert codes == {200, 500}
    sim.faults.clear()


def test_dropped_connection_is_a_network_error(loopback):
    loopback.sim.faults.drop("/auth/challenge", times=1)
    with httpx.Client(base_url=loopback.base_url) as http:
        with pytest.raises(httpx.TransportError):
            http.post("/auth/challenge")
        assert http.post("/auth/challenge").status_code == 200


def test_state_persists_across_restarts(tmp_path):
    from .conftest import fast_config

    state = tmp_path / "state.json"
    app = create_app(fast_config(state_file=state))
    token = app.state.sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="persisted")
    ca = app.state.sim.ca_certificate_pem
    again = create_app(fast_config(state_file=state))
    assert again.state.sim.ca_certificate_pem == ca
    with serve_in_thread(again) as server, httpx.Client(base_url=server.base_url,
                                                       event_hooks={"response": [contract_hook]}) as http:
        assert Ksef(http).login_token(token, NIP)["accessToken"]["token"]


def test_cli_server_prints_base_url_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ksef_tui.simulator.server", "--port", "0", "--state", str(tmp_path / "s.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v2")
        assert httpx.post(base_url + "/auth/challenge").status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert (tmp_path / "s.json").exists()


def test_official_samples_validate_against_official_xsd(shared_dir):
    from lxml import etree

    from ksef_tui.simulator.xades import AUTH_NS, auth_schema

    files = sorted(glob.glob(str(shared_dir / "ksef" / "samples" / "AuthTokenRequest-*.xml")))
    assert len(files) == 6
    for name in files:
        root = etree.parse(name).getroot()
        for sig in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
            root.remove(sig)
        assert auth_schema(AUTH_NS[0]).validate(root), (name, auth_schema(AUTH_NS[0]).error_log)
    # the simulator's copies differ from the official files only in xsd:pattern lines (see their header)
    import re

    ours = Path(__file__).resolve().parents[2] / "ksef_tui" / "simulator" / "schemas"
    for name, expected in (("schemat_auth_v2-0.xsd", 5), ("schemat_auth_v2-1.xsd", 2)):
        official = (shared_dir / "ksef" / "samples" / name).read_text().splitlines()
        copy = re.sub(r"<!-- KSeF simulator copy.*?-->\n", "", (ours / name).read_text(), flags=re.DOTALL).splitlines()
        changed = [a for a, b in zip(official, copy, strict=True) if a != b]
        assert len(changed) == expected and all("xsd:pattern" in line for line in changed), name
    # and the samples also pass the 2.1 schema once moved to its namespace
    for name in files:
        text = Path(name).read_text().replace(AUTH_NS[0], AUTH_NS[1])
        root = etree.fromstring(text.encode())
        for sig in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
            root.remove(sig)
        assert auth_schema(AUTH_NS[1]).validate(root), name


def test_simulator_does_not_import_gateway_or_textual():
    code = (
        "import sys, ksef_tui.simulator as s; s.create_app(s.SimulatorConfig());"
        "import ksef_tui.simulator.server, ksef_tui.simulator.signing;"
        "bad=[m for m in sys.modules if m.startswith(('textual','ksef_tui.ksef'))]; print(bad); sys.exit(bool(bad))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0
