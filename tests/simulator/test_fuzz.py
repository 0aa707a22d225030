"""No input produces a 5xx: random bodies, headers, query strings and path values at every route.

Hypothesis runs derandomized (the same examples on every run, no example database), so the test
cannot pass one day and fail the next; the contract hook also validates every documented answer.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .conftest import NIP
from .kclient import Ksef, auth_xml, new_key, self_signed, sign, subject

#: (method, path) of every route; {ref} and {serial} are filled by the strategy
ROUTES = [
    ("POST", "/auth/challenge"),
    ("POST", "/auth/xades-signature"),
    ("POST", "/auth/ksef-token"),
    ("GET", "/auth/{ref}"),
    ("POST", "/auth/token/redeem"),
    ("POST", "/auth/token/refresh"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions/current"),
    ("DELETE", "/auth/sessions/{ref}"),
    ("GET", "/security/public-key-certificates"),
    ("GET", "/tokens"),
    ("POST", "/tokens"),
    ("GET", "/tokens/{ref}"),
    ("DELETE", "/tokens/{ref}"),
    ("GET", "/certificates/limits"),
    ("GET", "/certificates/enrollments/data"),
    ("POST", "/certificates/enrollments"),
    ("GET", "/certificates/enrollments/{ref}"),
    ("POST", "/certificates/retrieve"),
    ("POST", "/certificates/query"),
    ("POST", "/certificates/{serial}/revoke"),
    ("GET", "/rate-limits"),
    ("GET", "/limits/context"),
    ("GET", "/limits/subject"),
    ("POST", "/testdata/person"),
    ("POST", "/testdata/person/remove"),
    ("POST", "/testdata/subject"),
    ("POST", "/testdata/subject/remove"),
    ("POST", "/testdata/permissions"),
    ("POST", "/testdata/permissions/revoke"),
    ("POST", "/testdata/context/block"),
    ("POST", "/testdata/context/unblock"),
    ("POST", "/testdata/rate-limits"),
    ("DELETE", "/testdata/rate-limits"),
    ("POST", "/testdata/rate-limits/production"),
    ("POST", "/testdata/limits/context/session"),
    ("DELETE", "/testdata/limits/context/session"),
    ("POST", "/testdata/limits/subject/certificate"),
    ("DELETE", "/testdata/limits/subject/certificate"),
    ("PUT", "/testdata/certificates/{serial}"),
]

_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                       max_size=80)
_path_text = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=40),
    st.just("0123456789ABCDEF"),
    st.just("20250514-AU-2DFC46C000-3AC6D5877F-D4"),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_field_names = ["challenge", "contextIdentifier", "encryptedToken", "publicKeyId", "permissions", "description",
                "certificateName", "certificateType", "csr", "validFrom", "validTo", "certificateSerialNumbers",
                "rateLimits", "onlineSession", "nip", "pesel", "isBailiff", "subjectNip", "subjectType",
                "authorizedIdentifier", "subjectIdentifierType", "certificate", "enrollment", "authorizationPolicy"]
_plausible = st.dictionaries(st.sampled_from(_field_names), _json_values, max_size=6)
_bodies = st.one_of(
    st.binary(max_size=200),
    _json_values.map(lambda v: json.dumps(v).encode()),
    _plausible.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 400).map(lambda n: b'{"pageSize": ' + b"9" * n + b"}"),
    st.sampled_from([b'"\\ud800"', b'{"challenge": "\\udfff"}', b"\xef\xbb\xbf{}", b"<a/>", b""]),
)


@pytest.fixture
def fuzz_client(make_client):
    client = make_client()
    key = new_key("ec")
    session = Ksef(client).login_xades(key, self_signed(subject(nip=NIP), key), NIP)
    return client, session["accessToken"]["token"], session["refreshToken"]["token"]


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    route=st.sampled_from(ROUTES),
    ref=_path_text,
    body=_bodies,
    auth=st.sampled_from(["access", "refresh", "random", "none"]),
    random_token=_header_text,
    content_type=st.sampled_from(["application/json", "application/xml", "text/plain", ""]) | _header_text,
    extra=st.dictionaries(
        st.sampled_from(["X-Error-Format", "X-Test-System-Warning", "x-continuation-token", "Content-Length"]),
        _header_text, max_size=3),
    query=st.dictionaries(
        st.sampled_from(["pageSize", "pageOffset", "status", "description", "authorIdentifierType",
                         "verifyCertificateChain"]), _header_text, max_size=3),
)
def test_no_route_answers_5xx(fuzz_client, route, ref, body, auth, random_token, content_type, extra, query):
    client, access, refresh = fuzz_client
    method, template = route
    path = template.replace("{ref}", ref).replace("{serial}", ref)
    headers = {k: v for k, v in extra.items() if k != "Content-Length" or v.strip().isdigit()}
    if content_type:
        headers["Content-Type"] = content_type
    token = {"access": access, "refresh": refresh, "random": random_token, "none": None}[auth]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    raw_headers = {k: v.encode("latin-1") for k, v in headers.items()}  # bytes: any octet may arrive
    response = client.request(method, path, content=body, headers=raw_headers, params=query)
    event(f"{response.status_code}")
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])


def test_signed_request_garbage_never_5xx(client):
    """Damaged signed files: every byte position flipped in turn, over one real signed request."""
    key = new_key("rsa")
    k = Ksef(client)
    signed = sign(auth_xml(k.challenge()["challenge"], NIP), key, self_signed(subject(nip=NIP), key))
    statuses = set()
    for position in range(0, len(signed), 11):
        damaged = signed[:position] + bytes([signed[position] ^ 0x41]) + signed[position + 1:]
        r = client.post("/auth/xades-signature", content=damaged, headers={"Content-Type": "application/xml"})
        statuses.add(r.status_code)
    assert statuses <= {202, 400}, statuses


@pytest.mark.parametrize(
    ("path", "content_type", "cap"),
    [("/auth/xades-signature", "application/xml", 512 * 1024), ("/auth/ksef-token", "application/json", 64 * 1024)],
)
async def test_oversize_body_is_refused_without_reading_it_whole(clock, path, content_type, cap):
    import httpx

    from ksef_tui.simulator import create_app

    from .conftest import async_contract_hook, fast_config

    pulled = 0

    async def endless():  # 100 MiB if anyone read it all
        nonlocal pulled
        for _ in range(100 * 1024):
            pulled += 1
            yield b"x" * 1024

    transport = httpx.ASGITransport(app=create_app(fast_config(clock=clock)))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim/v2",
                                 event_hooks={"response": [async_contract_hook]}) as http:
        r = await http.post(path, content=endless(), headers={"Content-Type": content_type})
        assert r.status_code == 400 and r.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 21001
        assert pulled <= cap // 1024 + 2  # stopped at the cap
        declared = await http.post(path, content=b"{}", headers={"Content-Type": content_type,
                                                                "Content-Length": str(cap + 1)})
        assert declared.status_code == 400


def test_every_route_is_fuzzed():
    """A new route must join ROUTES here (or in test_permissions_fuzz) to be fuzzed too."""
    import re

    from starlette.routing import Mount

    from ksef_tui.simulator import SimulatorConfig, create_app

    from .test_permissions_fuzz import ROUTES as PERMISSION_ROUTES

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    mount = next(r for r in create_app(SimulatorConfig()).routes if isinstance(r, Mount))
    served = {(m, shape(r.path)) for r in mount.routes for m in r.methods - {"HEAD"}}  # type: ignore[attr-defined]
    fuzzed = {(m, shape(p)) for m, p in [*ROUTES, *PERMISSION_ROUTES]}
    assert served - fuzzed == set()
