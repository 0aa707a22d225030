"""Fixtures for the KSeF gateway tests: credentials made once per session, sample NIPs, a TEST-mode
simulator per module (``server``; ``sim``: its state, faults cleared after each test)."""

from __future__ import annotations

import pytest

NIP = "5265877635"
OTHER_NIP = "7762811692"


@pytest.fixture(scope="session")
def rsa_pair():
    from ksef_tui.ksef.testcert import make_test_certificate

    return make_test_certificate(nip=NIP, key="rsa")


@pytest.fixture(scope="session")
def ec_pair():
    from ksef_tui.ksef.testcert import make_test_certificate

    return make_test_certificate(nip=NIP, key="ec")


@pytest.fixture(scope="session")
def seal_pair():
    from ksef_tui.ksef.testcert import make_test_certificate

    return make_test_certificate(nip=NIP, kind="seal", key="ec")


@pytest.fixture
def rsa_cred(rsa_pair):
    from ksef_tui.ksef.certificates import load_credential

    return load_credential(cert_data=rsa_pair[0], key_data=rsa_pair[1].reveal())


@pytest.fixture
def ec_cred(ec_pair):
    from ksef_tui.ksef.certificates import load_credential

    return load_credential(cert_data=ec_pair[0], key_data=ec_pair[1].reveal())


@pytest.fixture(scope="module")
def server():
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", rate_limits=False, status_delay_s=0.0,
                                     token_activation_delay_s=0.0, enrollment_delay_s=0.0))
    with serve_in_thread(app, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def sim(server):
    yield server.sim
    server.sim.faults.clear()
