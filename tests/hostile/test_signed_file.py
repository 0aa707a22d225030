"""Signature wrapping on the client side: the AuthTokenRequest we read (challenge, context) is exactly
the document the signature covers whole, as the simulator (and KSeF) decide. Before the fix the local
check read the first AuthTokenRequest it found while KSeF authenticated the inner one: `ksef auth
--signed-file` said "Authorized for NIP A" for a session of NIP B, and "Get access token" made an
active KSeF token in the other company, refused to save it and never revoked it.

The wrapped files are real: signed properly by the test-side signer (tests/simulator/kclient)."""

from __future__ import annotations

import time

import httpx
import pytest
from lxml import etree

from ksef_tui.domain.environments import Environment
from tests.simulator.kclient import Ksef, Ref, auth_xml, new_key, self_signed, subject, xades_sign

from .cli import no_raw_control, run

NIP = "5265877635"  # the company the file claims (the root)
OTHER_NIP = "7762811692"  # the company a wrapped, signed inner request names


def inner_request(challenge: str, nip: str = OTHER_NIP, namespace: str | None = None) -> etree._Element:
    xml = auth_xml(challenge, nip) if namespace is None else auth_xml(challenge, nip, namespace=namespace)
    element = etree.fromstring(xml)
    element.set("Id", "inner")
    return element


#: name -> (references, inner request's namespace or None for no inner request, or "" for the default)
WRAPPED = {
    "signed inner request in ds:Object": ([Ref("", enveloped=True), Ref("#inner")], ""),
    "unreferenced inner request": ([Ref("", enveloped=True)], ""),
    "unsigned root, signed inner request": ([Ref("#inner")], ""),
    "inner request in a foreign namespace": ([Ref("", enveloped=True), Ref("#inner")], "urn:inny"),
    "document referenced twice": ([Ref("", enveloped=True), Ref("", enveloped=True)], None),
    "unsigned root": ([], None),
}


@pytest.fixture
def test_sim(ksef_servers):
    server = ksef_servers[Environment.TEST]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield server, Ksef(client)


@pytest.fixture(scope="module")
def seal_other():
    key = new_key("ec")
    return key, self_signed(subject(nip=OTHER_NIP), key)


def wrapped_file(k: Ksef, case: str, seal) -> bytes:
    references, namespace = WRAPPED[case]
    challenge = k.challenge()["challenge"]
    objects = [] if namespace is None else [inner_request(challenge, namespace=namespace or None)]
    return xades_sign(auth_xml(challenge, NIP), *seal, references=references, objects=objects)


@pytest.mark.parametrize("case", list(WRAPPED))
def test_the_local_check_refuses_what_the_simulator_refuses_with_the_same_reason(test_sim, seal_other, case):
    from ksef_tui import i18n
    from ksef_tui.ksef.errors import SignedFileError
    from ksef_tui.ksef.signedfile import check_signed_file

    _server, k = test_sim
    signed = wrapped_file(k, case, seal_other)
    answer = k.start_xades(signed, expect=400).json()["exception"]["exceptionDetailList"][0]
    assert answer["exceptionCode"] == 9105
    i18n.set_language("pl")
    with pytest.raises(SignedFileError) as e:
        check_signed_file(signed)
    assert e.value.code == "wrapping"
    assert str(e.value) == " ".join(answer["details"][:2])  # the simulator's reason, word for word
    i18n.set_language("en")
    with pytest.raises(SignedFileError, match="must be signed as a whole, as one AuthTokenRequest"):
        check_signed_file(signed)


def test_a_proper_file_is_read_from_the_document_the_signature_covers(test_sim, seal_other):
    from ksef_tui.ksef.models import Context
    from ksef_tui.ksef.signedfile import check_signed_file

    _server, k = test_sim
    signed = xades_sign(auth_xml(k.challenge()["challenge"], OTHER_NIP), *seal_other)
    assert check_signed_file(signed).context == Context.nip(OTHER_NIP)
    assert k.status(k.start_xades(signed))["status"]["code"] == 200
    # a harmless extra object inside the signature, referenced: accepted by both
    note = etree.Element("Note", Id="note-1")
    signed = xades_sign(auth_xml(k.challenge()["challenge"], OTHER_NIP), *seal_other,
                        references=[Ref("", enveloped=True), Ref("#note-1")], objects=[note])
    assert check_signed_file(signed).context == Context.nip(OTHER_NIP)
    assert k.status(k.start_xades(signed))["status"]["code"] == 200


def test_ksef_auth_refuses_a_wrapped_file_without_a_traceback(test_sim, seal_other, tmp_path):
    server, k = test_sim
    path = tmp_path / "wrapped.xml"
    path.write_bytes(wrapped_file(k, "signed inner request in ds:Object", seal_other))
    started = time.monotonic()
    r = run("ksef", "auth", "--base-url", server.base_url, "--nip", NIP, "--signed-file", str(path), timeout=30)
    assert time.monotonic() - started < 20
    assert r.returncode == 2
    assert b"must be signed as a whole" in r.stderr and b"second AuthTokenRequest (inside Object)" in r.stderr
    assert b"Authorized" not in r.stdout and b"Traceback" not in r.stderr and no_raw_control(r.stderr)


def _subject_in(ctx, nip: str):
    from ksef_tui.services.companies import CompanyInput
    from ksef_tui.services.users import UserInput

    company = ctx.companies.create(ctx.actor, CompanyInput(name="Alfa", nip=nip, ksef_enabled=True))
    user = ctx.users.create(ctx.actor, UserInput(login="anna", full_name="Anna Nowak"), [company.id])
    return user.id, company.id


async def test_get_access_token_refuses_a_wrapped_file_before_ksef_makes_anything(ksef_ctx, ksef_servers,
                                                                                  seal_other):
    from ksef_tui.errors import ServiceError

    server = ksef_servers[Environment.TEST]
    user_id, company_id = _subject_in(ksef_ctx, NIP)
    with httpx.Client(base_url=server.base_url) as client:
        signed = wrapped_file(Ksef(client), "signed inner request in ds:Object", seal_other)
    tokens_before = len(server.sim.state.ksef_tokens)
    with pytest.raises(ServiceError, match="must be signed as a whole"):
        await ksef_ctx.profil_zaufany.token_from_signed_file(ksef_ctx.actor, user_id, company_id, Environment.TEST,
                                                             signed)
    assert len(server.sim.state.ksef_tokens) == tokens_before  # no token made anywhere
    assert not ksef_ctx.credentials.get(ksef_ctx.actor, user_id, company_id, Environment.TEST).configured


async def test_a_token_made_in_another_context_is_revoked_at_once(ksef_ctx, ksef_servers, seal_other, monkeypatch):
    """Defence in depth: were a local check ever to miss a file for another company, the token KSeF makes
    in that company's context is revoked at once, and the user told; nothing is saved."""
    from ksef_tui.errors import ServiceError
    from ksef_tui.ksef import signedfile
    from ksef_tui.ksef.models import Context

    server = ksef_servers[Environment.TEST]
    user_id, company_id = _subject_in(ksef_ctx, NIP)
    with httpx.Client(base_url=server.base_url) as client:
        signed = xades_sign(auth_xml(Ksef(client).challenge()["challenge"], OTHER_NIP), *seal_other)
    real_check = signedfile.check_signed_file

    def mistaken_check(data, **kwargs):  # a gap in the local checks: the file is taken for NIP
        facts = real_check(data)
        return signedfile.SignedFileFacts(facts.challenge, Context.nip(NIP), facts.subject_type,
                                          facts.schema_version, facts.signatures)

    monkeypatch.setattr(signedfile, "check_signed_file", mistaken_check)
    before = set(server.sim.state.ksef_tokens)
    with pytest.raises(ServiceError) as e:
        await ksef_ctx.profil_zaufany.token_from_signed_file(ksef_ctx.actor, user_id, company_id, Environment.TEST,
                                                             signed)
    assert f"KSeF made the new token for NIP {OTHER_NIP}, not for {NIP}" in str(e.value)
    assert "revoked at once" in str(e.value)
    made = [server.sim.state.ksef_tokens[r] for r in set(server.sim.state.ksef_tokens) - before]
    assert len(made) == 1 and made[0].context_value == OTHER_NIP and made[0].revoked
    assert not ksef_ctx.credentials.get(ksef_ctx.actor, user_id, company_id, Environment.TEST).configured
