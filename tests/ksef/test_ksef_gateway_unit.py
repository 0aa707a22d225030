"""Gateway behaviour against a scripted fake (httpx.MockTransport): retries, 429, polling, redeem once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import NIP
from fake_ksef import FakeKsef, legacy_error

from ksef_tui.domain.secret import Secret
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import (
    EndpointError,
    KsefAuthFailed,
    KsefHttpError,
    KsefNetworkError,
    KsefRateLimited,
    KsefTimeout,
)
from ksef_tui.ksef.gateway import GatewayPolicy, KsefGateway
from ksef_tui.ksef.models import Context
from ksef_tui.ksef.public_keys import KeyCache

TOKEN = Secret("20991231-EC-0000000000-0000000000-00|nip-5265877635|" + "ab" * 32)


class Sleeps(list):
    async def __call__(self, s: float) -> None:
        self.append(s)


@pytest.fixture
def fake():
    return FakeKsef()


def gateway(fake, sleeps=None, **policy):
    return KsefGateway(Endpoint.custom("http://127.0.0.1:1/v2"), transport=fake.transport(), key_cache=KeyCache(),
                       sleep=sleeps if sleeps is not None else Sleeps(), policy=GatewayPolicy(**policy))


def test_endpoints():
    assert Endpoint.for_environment("TEST").base_url == "https://api-test.ksef.mf.gov.pl/v2"
    assert Endpoint.parse("prd").environment.value == "PRODUCTION"
    assert Endpoint.custom("http://localhost:8000").base_url == "http://localhost:8000/v2"
    assert Endpoint.custom("https://api-demo.ksef.mf.gov.pl/v2/").environment.value == "DEMO"
    assert Endpoint.custom("https://ksef.example.com/v2").environment is None
    for bad in ("http://10.0.0.5/v2", "ftp://x/v2", "http://user:pw@127.0.0.1/v2", "nonsense"):
        with pytest.raises(EndpointError):
            Endpoint.custom(bad)
    assert Endpoint.for_environment("DEMO").default_status_bound_s() == 600.0


async def test_token_authorization_flow(fake):
    steps: list[str] = []
    async with gateway(fake) as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), TOKEN, progress=steps.append)
    assert steps == ["challenge", "encrypted", "sent", "status", "redeemed"]
    body = __import__("json").loads(fake.bodies["POST /auth/ksef-token"][0])
    assert body["contextIdentifier"] == {"type": "Nip", "value": NIP} and body["publicKeyId"] == "A" * 43 + "="
    assert fake.decrypt(body["encryptedToken"]) == f"{TOKEN.reveal()}|1795523036015"
    assert session.method == "token" and session.ksef_method == "Token"
    assert session.access_token.reveal() == "access-jwt-secret"
    assert "secret" not in repr(session) and "secret" not in str(session)
    assert set(fake.auth_headers) == {"problem-details"}


async def test_unknown_public_key_refetched_once(fake):
    fake.then("POST /auth/ksef-token", lambda r: legacy_error(21470, "Nieznany klucz"))
    async with gateway(fake) as gw:
        await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["GET /security/public-key-certificates"] == 2
    assert fake.counts["POST /auth/ksef-token"] == 2


async def test_polling_backs_off_until_200(fake):
    fake.statuses = [{"code": 100, "description": "w toku"}] * 4 + [{"code": 200, "description": "ok"}]
    sleeps = Sleeps()
    async with gateway(fake, sleeps) as gw:
        await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["GET /auth/{ref}"] == 5
    assert len(sleeps) == 4 and sleeps[0] == pytest.approx(0.25) and sleeps == sorted(sleeps)
    assert max(sleeps) <= 2.0


async def test_status_450_stops_with_description_and_details(fake):
    fake.statuses = [{"code": 100, "description": "w toku"},
                     {"code": 450, "description": "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
                      "details": ["Nieprawidłowy token."]}]
    async with gateway(fake) as gw:
        with pytest.raises(KsefAuthFailed) as e:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert e.value.code == 450 and e.value.details == ("Nieprawidłowy token.",)
    assert str(e.value) == "KSeF authentication failed with status 450 (bad KSeF token): Nieprawidłowy token."
    assert "KSeF token is wrong" in e.value.hint
    assert fake.counts["POST /auth/token/redeem"] == 0


async def test_long_status_100_reaches_the_bound(fake):
    fake.statuses = [{"code": 100, "description": "w toku"}]
    async with gateway(fake, status_bound_s=5.0) as gw:
        with pytest.raises(KsefTimeout) as e:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert "within 5 s" in str(e.value) and "status 100" in str(e.value)
    assert fake.counts["POST /auth/token/redeem"] == 0


async def test_polling_is_cancellable(fake):
    fake.statuses = [{"code": 100, "description": "w toku"}]
    started = asyncio.Event()

    async def sleep(s):
        started.set()
        await asyncio.sleep(3600)

    gw = KsefGateway(Endpoint.custom("http://127.0.0.1:1/v2"), transport=fake.transport(), key_cache=KeyCache(),
                     sleep=sleep)
    task = asyncio.create_task(gw.authorize_with_token(Context.nip(NIP), TOKEN))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await gw.aclose()


async def test_5xx_while_polling_is_retried(fake):
    fake.then("GET /auth/{ref}", lambda r: httpx.Response(503, text="busy"))
    fake.then("GET /auth/{ref}", lambda r: httpx.Response(502))
    async with gateway(fake) as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert session.reference_number and fake.counts["GET /auth/{ref}"] == 3


async def test_redeem_is_never_retried(fake):
    fake.then("POST /auth/token/redeem", lambda r: httpx.Response(503))
    async with gateway(fake) as gw:
        with pytest.raises(KsefHttpError) as e:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["POST /auth/token/redeem"] == 1 and e.value.http_status == 503
    fake.then("POST /auth/token/redeem", lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")))
    async with gateway(fake) as gw:
        with pytest.raises(KsefTimeout):
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["POST /auth/token/redeem"] == 2  # one more call, one more request: never repeated


async def test_429_short_retry_after_is_waited_out(fake):
    fake.then("POST /auth/challenge", lambda r: httpx.Response(429, headers={"Retry-After": "2"},
                                                               json={"status": {"code": 429, "description": "x"}}))
    sleeps = Sleeps()
    async with gateway(fake, sleeps) as gw:
        await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert 2.0 <= sleeps[0] <= 2.5 and fake.counts["POST /auth/challenge"] == 2


async def test_429_long_retry_after_raises_rate_limited(fake):
    fake.then("POST /auth/challenge", lambda r: httpx.Response(429, headers={"Retry-After": "2492"},
                                                               json={"status": {"code": 429, "description": "x"}}))
    async with gateway(fake) as gw:
        with pytest.raises(KsefRateLimited) as e:
            await gw.challenge()
    assert e.value.retry_after == 2492 and "in 41 min 32 s" in str(e.value)
    assert e.value.hint.endswith("Try again in 41 min 32 s.")


async def test_timeout_and_network_errors_are_clear(fake):
    def timeout(r):
        raise httpx.ReadTimeout("slow")

    fake.then("POST /auth/challenge", timeout)
    async with gateway(fake) as gw:
        with pytest.raises(KsefTimeout) as e:
            await gw.challenge()
    assert str(e.value).startswith("KSeF did not answer the authorization challenge request within 30 s")
    assert "did not answer in time" in e.value.hint
    for _ in range(4):  # idempotent GET: retried, then reported
        fake.then("GET /security/public-key-certificates", lambda r: (_ for _ in ()).throw(httpx.ConnectError("x")))
    async with gateway(fake) as gw:
        with pytest.raises(KsefNetworkError) as e:
            await gw.public_keys()
    assert fake.counts["GET /security/public-key-certificates"] == 4
    assert "Cannot reach KSeF" in str(e.value)


async def test_refresh_and_revoke(fake):
    async with gateway(fake) as gw:
        session = await gw.authorize_with_token(Context.nip(NIP), TOKEN)
        newer = await gw.refresh(session)
        await gw.revoke_current(newer)
    assert newer.access_token.reveal() == "access-2" and newer.refresh_token == session.refresh_token
    assert fake.counts["DELETE /auth/sessions/current"] == 1


async def test_certificate_flow_sends_signed_xml(fake, ec_cred):
    steps: list[str] = []
    async with gateway(fake) as gw:
        await gw.authorize_with_certificate(Context.nip(NIP), ec_cred, progress=steps.append)
    assert steps == ["challenge", "signed", "sent", "status", "redeemed"]
    sent = fake.bodies["POST /auth/xades-signature"][0]
    assert b"<ds:SignatureValue>" in sent and b"20991231-CR-226FB7B000-3ACF9BE4C0-10" in sent


async def test_signed_file_sent_byte_for_byte(fake, ec_cred):
    from ksef_tui.ksef.xades import sign_auth_request

    async with gateway(fake) as gw:
        req = await gw.prepare_signed_file_request(Context.nip(NIP))
        assert req.expires_at == req.challenge.timestamp + __import__("datetime").timedelta(minutes=10)
        signed = b"\xef\xbb\xbf" + sign_auth_request(req.xml, ec_cred).replace(b"\n", b"\r\n")  # BOM, CRLF kept
        session = await gw.authorize_with_signed_file(signed, expected_challenge=req.challenge.challenge,
                                                      expected_context=Context.nip(NIP))
    assert fake.bodies["POST /auth/xades-signature"][0] == signed and session.method == "signed-file"


async def test_every_attempt_goes_through_the_limiter(fake):
    """One retry policy, one limiter: each request sent (the repeats too) takes a permit first."""
    from ksef_tui.ksef.limits import RateLimiter

    limiter = RateLimiter()
    fake.then("GET /auth/{ref}", lambda r: httpx.Response(503, text="busy"))
    fake.then("POST /auth/challenge", lambda r: httpx.Response(429, headers={"Retry-After": "1"},
                                                               json={"status": {"code": 429, "description": "x"}}))
    gw = KsefGateway(Endpoint.custom("http://127.0.0.1:1/v2"), transport=fake.transport(), key_cache=KeyCache(),
                     sleep=Sleeps(), limiter=limiter)
    async with gw:
        await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert limiter.stats.requests == sum(fake.counts.values())
    assert fake.counts["GET /auth/{ref}"] == 2 and fake.counts["POST /auth/challenge"] == 2
    assert limiter.stats.throttled == 1  # the 429 held its key in the limiter too


async def test_what_a_failed_request_says_about_repeating_the_flow(fake):
    """The HTTP layer repeats only idempotent requests; a state-changing step that failed for a
    temporary reason may be repeated only as a new flow, a 429 beyond the budget not at all."""
    from ksef_tui.ksef.errors import needs_new_flow

    for _ in range(4):
        fake.then("GET /auth/{ref}", lambda r: httpx.Response(503))
    async with gateway(fake) as gw:
        with pytest.raises(KsefHttpError) as polled:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["GET /auth/{ref}"] == 4 and polled.value.retried and not needs_new_flow(polled.value)

    before = fake.counts["POST /auth/ksef-token"]
    fake.then("POST /auth/ksef-token", lambda r: httpx.Response(502))
    async with gateway(fake) as gw:
        with pytest.raises(KsefHttpError) as sent:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert fake.counts["POST /auth/ksef-token"] == before + 1 and needs_new_flow(sent.value)

    fake.then("POST /auth/ksef-token", lambda r: legacy_error(21111, "Nieprawidłowe wyzwanie autoryzacyjne"))
    async with gateway(fake) as gw:
        with pytest.raises(KsefHttpError) as stale:
            await gw.authorize_with_token(Context.nip(NIP), TOKEN)
    assert needs_new_flow(stale.value)

    fake.then("POST /auth/challenge", lambda r: httpx.Response(429, headers={"Retry-After": "2492"},
                                                               json={"status": {"code": 429, "description": "x"}}))
    async with gateway(fake) as gw:
        with pytest.raises(KsefRateLimited) as limited:
            await gw.challenge()
    assert not needs_new_flow(limited.value)


def test_a_response_on_one_event_loop_wakes_a_request_waiting_on_another():
    """The host's limiter is shared by the panel's loop and a bulk run's loop in its thread."""
    import threading

    from ksef_tui.ksef.limits import RateLimiter

    limiter = RateLimiter({"g": ((0.01, 1),)}, margin_s=0.0)
    held, release = threading.Event(), threading.Event()

    def other_loop() -> None:
        async def hold() -> None:
            permit = await limiter.acquire("g", "k")
            held.set()
            await asyncio.to_thread(release.wait, 10)
            limiter.done(permit)  # the response came: frees the slot for the other loop

        asyncio.run(hold())

    thread = threading.Thread(target=other_loop)
    thread.start()
    assert held.wait(10)

    async def here():
        waiting = asyncio.create_task(limiter.acquire("g", "k"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()  # the slot is in flight on the other loop: no deadline to wait for
        release.set()
        return await asyncio.wait_for(waiting, 10)

    permit = asyncio.run(here())
    thread.join(10)
    assert permit.group == "g" and limiter.stats.requests == 2 and limiter.stats.waits == 1
