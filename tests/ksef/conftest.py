"""Fixtures for the KSeF gateway tests: credentials made once per session, sample NIPs."""

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
