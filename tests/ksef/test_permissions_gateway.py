"""The gateway's /permissions/* calls over a real loopback socket against the simulator; every request
and every answer is checked against the 2.9.0 spec on the way (a validating transport)."""

from __future__ import annotations

import httpx
import pytest

from ksef_tui.domain.clock import system_clock  # the suite's now (KSEF_TUI_TEST_DAY moves it)
from ksef_tui.ksef.certificates import load_credential
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import KsefForbidden, KsefInputError, KsefOperationFailed
from ksef_tui.ksef.gateway import KsefGateway
from ksef_tui.ksef.models import Context
from ksef_tui.ksef.permissions import ACTIVE, INACTIVE, Identifier, PersonName
from ksef_tui.ksef.public_keys import KeyCache
from ksef_tui.ksef.testcert import make_test_certificate

CLIENT = "5265877635"
OFFICE = "7762811692"
PESEL = "44051401359"


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Passes every request on, and validates each JSON request body and each answer against the spec."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[tuple[str, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        from tests.contract.openapi import match_template, validate_request, validate_response

        path = request.url.path.split("/v2", 1)[1]
        template = match_template(request.method, path)
        assert template, f"{request.method} {path} is not in the spec"
        body = await request.aread()
        if request.headers.get("content-type", "").startswith("application/json"):
            import json

            validate_request(request.method, template, json.loads(body) if body else None)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        import json

        parsed = json.loads(content) if content else None
        validate_response(request.method, template, response.status_code, parsed,
                          content_type=response.headers.get("content-type") if content else None)
        self.seen.append((request.method, template, response.status_code))
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="module")
def server():
    from ksef_tui.simulator import SimulatorConfig, create_app, serve_in_thread

    app = create_app(SimulatorConfig(mode="test", status_delay_s=0.0, permission_operation_delay_s=0.0))
    with serve_in_thread(app, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def transport():
    return SpecCheckingTransport()


@pytest.fixture
def gateway(server, transport):
    return KsefGateway(Endpoint.custom(server.base_url), transport=transport, key_cache=KeyCache())


def _cred(**kw):
    cert, key = make_test_certificate(key="ec", **kw)
    return load_credential(cert_data=cert, key_data=key.reveal())


async def test_model_b_chain_through_the_gateway(server, gateway, transport):
    client_owner = _cred(nip=CLIENT, kind="seal")
    office_owner = _cred(nip=OFFICE, kind="seal")
    employee = _cred(pesel=PESEL, given_name="Piotr", surname="Zieliński")
    async with gateway as gw:
        perms = gw.permissions
        at_client = await gw.authorize_with_certificate(Context.nip(CLIENT), client_owner)
        ref = await perms.grant_entity(at_client, OFFICE, [("InvoiceRead", True), ("InvoiceWrite", False)],
                                       "Biuro rachunkowe: obsługa faktur", "Biuro Rachunkowe Bilans sp. z o.o.")
        assert (await perms.wait_operation(at_client, ref)).code == 200

        at_office = await gw.authorize_with_certificate(Context.nip(OFFICE), office_owner)
        received = await perms.entities(at_office, client=Identifier("Nip", CLIENT))
        assert {(g.scope, g.can_delegate) for g in received} == {("InvoiceRead", True), ("InvoiceWrite", False)}
        assert all(g.context == Identifier("Nip", CLIENT) for g in received)

        ref = await perms.grant_indirect(at_office, Identifier("Pesel", PESEL), ["InvoiceRead"],
                                         "Pracownik biura: faktury klienta", PersonName.split("Piotr Zieliński"),
                                         client_nip=CLIENT)
        await perms.wait_operation(at_office, ref)
        indirect = [g for g in await perms.persons(at_office) if g.indirect]
        assert [(g.scope, g.state, g.target) for g in indirect] == [("InvoiceRead", ACTIVE, Identifier("Nip", CLIENT))]
        assert indirect[0].authorized == Identifier("Pesel", PESEL) and indirect[0].subject_name == "Piotr Zieliński"

        as_employee = await gw.authorize_with_certificate(Context.nip(CLIENT), employee)
        mine = await perms.personal(as_employee)
        assert [(g.scope, g.state, g.context, g.target) for g in mine.grants] == [
            ("InvoiceRead", ACTIVE, Identifier("Nip", OFFICE), Identifier("Nip", CLIENT))]
        assert mine.owner == ()

        # the client withdraws the office's delegable grant: the employee's grant stays, Inactive
        read_grant = next(g for g in received if g.scope == "InvoiceRead")
        ref = await perms.revoke(at_client, read_grant.id)
        await perms.wait_operation(at_client, ref)
        again = [g for g in await perms.persons(at_office, authorized=Identifier("Pesel", PESEL)) if g.indirect]
        assert [g.state for g in again] == [INACTIVE]

        owner_view = await perms.personal(at_client)
        assert "CredentialsManage" in owner_view.owner
    assert ("POST", "/permissions/query/personal/grants", 200) in transport.seen
    assert ("GET", "/permissions/operations/{referenceNumber}", 200) in transport.seen


async def test_a_refused_operation_and_a_missing_permission(server, gateway):
    client_owner = _cred(nip=CLIENT, kind="seal")
    stranger = _cred(pesel="90010112340", given_name="Ewa", surname="Obca")
    server.sim.grant_permissions(CLIENT, ("Pesel", "90010112340"), ["InvoiceRead"])
    async with gateway as gw:
        perms = gw.permissions
        at_client = await gw.authorize_with_certificate(Context.nip(CLIENT), client_owner)
        ref = await perms.grant_entity(at_client, CLIENT, [("InvoiceRead", False)], "Sam sobie", "Firma klienta")
        with pytest.raises(KsefOperationFailed) as e:
            await perms.wait_operation(at_client, ref)
        assert e.value.code == "permission-440" and "status 440" in str(e.value)

        reader = await gw.authorize_with_certificate(Context.nip(CLIENT), stranger)
        with pytest.raises(KsefForbidden) as f:
            await perms.persons(reader)
        assert f.value.reason_code == "missing-permissions"


async def test_bad_input_never_reaches_the_network(gateway, transport):

    from ksef_tui.domain.secret import Secret
    from ksef_tui.ksef.models import AuthSession

    fake = AuthSession("ref", "certificate", Context.nip(CLIENT), Secret("a"), system_clock(),
                       Secret("b"), system_clock())
    async with gateway as gw:
        with pytest.raises(KsefInputError):
            await gw.permissions.grant_indirect(fake, Identifier("Pesel", PESEL), ["CredentialsManage"],
                                                "Nie wolno", PersonName.split("Jan Nowak"))
        with pytest.raises(KsefInputError):
            await gw.permissions.grant_person(fake, Identifier("AllPartners"), ["InvoiceRead"], "Opis uprawnienia",
                                              PersonName.split("Jan"))
    assert transport.seen == []


def test_person_name_fits_ksef():
    assert PersonName.split("Anna Maria Nowak-Kowalska") == PersonName("Anna", "Maria Nowak-Kowalska")
    assert PersonName.split("X") == PersonName("X-", "X-")
    assert len(PersonName.split("A" * 50 + " B").first) == 30
