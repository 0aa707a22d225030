"""The gateway side of KSeF API 2.9.0 (issue 11 item 6), over loopback against the simulator:
the 2.9 token permission, the 2.8+ rate-limit groups, X-System-Warning shown to the user, 21184
("open a new session"), authenticationMethodInfo preferred; requests checked against the 2.9.0 spec."""

from __future__ import annotations

import httpx
import pytest
from conftest import NIP

from ksef_tui.domain.secret import Secret
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import KsefSessionUnavailable, needs_new_flow
from ksef_tui.ksef.gateway import TOKEN_PERMISSIONS, KsefGateway
from ksef_tui.ksef.models import Context, SystemWarning, parse_system_warnings
from ksef_tui.ksef.public_keys import KeyCache


class WarningHeader(httpx.AsyncHTTPTransport):
    """Asks KSeF TEST to send a warning back (``X-Test-System-Warning``, echoed as ``X-System-Warning``)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["X-Test-System-Warning"] = self.text
        return await super().handle_async_request(request)


def gateway(server, sent=None, **kw) -> KsefGateway:
    return KsefGateway(Endpoint.custom(server.base_url), key_cache=KeyCache(), observer=sent, **kw)


async def _owner(gw):
    from ksef_tui.ksef.certificates import load_credential
    from ksef_tui.ksef.testcert import make_test_certificate

    cert, key = make_test_certificate(nip=NIP, kind="seal", key="ec")
    return await gw.authorize_with_certificate(Context.nip(NIP), load_credential(cert_data=cert, key_data=key.reveal()))


async def test_collective_identifier_permission_and_the_29_spec(server, sim, shared_dir):
    from openapi_check import use_spec, validate_request

    use_spec(shared_dir)
    assert "CollectiveIdentifierManage" in TOKEN_PERMISSIONS
    sent: list = []
    async with gateway(server, sent.append) as gw:
        owner = await _owner(gw)
        generated = await gw.generate_token(owner, ["InvoiceRead", "CollectiveIdentifierManage"], "2.9 permission")
        info = await gw.wait_token_active(owner, generated.reference_number)
        limits = await gw.rate_limits(owner)
    assert set(info.permissions) == {"InvoiceRead", "CollectiveIdentifierManage"}
    assert info.valid_to is None  # 2.9.0 gives tokens no validity of their own: the policy decides
    for request in sent:
        body = request.json() if request.body and request.content_type == "application/json" else None
        validate_request(request.method, request.path, body, request.content_type)
    tokens = [r for r in sent if r.method == "POST" and r.path == "/tokens"]
    assert tokens and "CollectiveIdentifierManage" in tokens[0].json()["permissions"]
    # the 2.8+ groups, with the raised session-close limits
    assert limits.missing_29_groups == ()
    assert {"anonymous", "global", "onlineSessionClose", "batchSessionClose", "collectiveIdentifier", "other"} <= set(limits.groups)
    close = limits.get("onlineSessionClose")
    assert close is not None and (close.per_second, close.per_minute, close.per_hour) == (20, 60, 240)


def test_rate_limits_of_an_older_ksef_parse_and_say_what_is_missing():
    from ksef_tui.ksef.gateway import _rate_limits

    old = _rate_limits({"other": {"perSecond": 10, "perMinute": 30, "perHour": 120}})
    assert old.get("other").per_minute == 30 and "collectiveIdentifier" in old.missing_29_groups


async def test_system_warning_reaches_the_gateway(server, sim):
    async with gateway(server, transport=WarningHeader("[W100]: Planowana przerwa techniczna")) as gw:
        await gw.challenge()
        await gw.challenge()
    assert gw.warnings == (SystemWarning("W100", "Planowana przerwa techniczna"),)  # once, not per request
    assert parse_system_warnings("[1]: a | [2]: b | loose") == (
        SystemWarning("1", "a"), SystemWarning("2", "b"), SystemWarning(None, "loose"))


async def test_session_unavailable_21184_means_a_new_session(server, sim):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="21184 token")
    async with gateway(server) as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), Secret(token))
        sim.faults.error("/tokens", code=21184, times=1)
        with pytest.raises(KsefSessionUnavailable) as e:
            await gw.list_tokens(session)
        assert e.value.code == 21184 and needs_new_flow(e.value)
        assert "Open a new session" in e.value.hint
        fresh = await gw.authorize_with_token(Context.nip(NIP), Secret(token))
        assert await gw.list_tokens(fresh) is not None


async def test_authentication_method_info_is_preferred(server, sim):
    token = sim.issue_ksef_token(context_nip=NIP, permissions=["InvoiceRead"], description="method info")
    async with gateway(server) as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), Secret(token))
    assert session.ksef_method_category == "Token"
    from ksef_tui.ksef.gateway import _method_name

    assert _method_name({"authenticationMethod": "Token",
                         "authenticationMethodInfo": {"category": "Token", "code": "token.ksef",
                                                      "displayName": "Token KSeF"}}) == "Token KSeF"
    assert _method_name({"authenticationMethodInfo": {"category": "Other", "code": "x.y"}}) == "x.y"
    assert _method_name({"authenticationMethod": "QualifiedSeal"}) == "QualifiedSeal"
