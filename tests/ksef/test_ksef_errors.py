"""Error parsing (both KSeF shapes), hints in English and Polish, human_retry."""

from __future__ import annotations

import pytest

from ksef_tui import i18n
from ksef_tui.ksef.errors import (
    KsefForbidden,
    KsefHttpError,
    KsefRateLimited,
    KsefUnauthorized,
    error_from_response,
    human_retry,
    parse_error_body,
)

LEGACY = {"exception": {"exceptionDetailList": [{"exceptionCode": 21111,
                                                  "exceptionDescription": "Nieprawidłowe wyzwanie autoryzacyjne.",
                                                  "details": ["Wyzwanie wygasło."]}],
                        "referenceNumber": "20251011-EE-1111111111-2222222222-33",
                        "serviceCode": "00-abc-00", "serviceCtx": "srvABCDA", "serviceName": "Undefined",
                        "timestamp": "2025-10-11T12:23:56.0154302"}}
PROBLEM_400 = {"title": "Bad Request", "status": 400, "instance": "/v2/auth/ksef-token",
               "detail": "Błąd walidacji", "errors": [{"code": 21470, "description": "Nieznany klucz publiczny.",
                                                       "details": ["publicKeyId"]}],
               "timestamp": "2025-10-11T12:23:56Z", "traceId": "x"}
PROBLEM_403 = {"title": "Forbidden", "status": 403, "detail": "Brak uprawnień", "reasonCode": "missing-permissions",
               "security": {"requiredAnyOfPermissions": ["CredentialsManage"]}}
TOO_MANY = {"status": {"code": 429, "description": "Too Many Requests",
                       "details": ["Przekroczono limit 20 żądań na minutę. Spróbuj ponownie po 30 sekundach."]}}


def test_parse_legacy_shape():
    code, desc, details, ref = parse_error_body(LEGACY)
    assert (code, desc, details, ref) == (21111, "Nieprawidłowe wyzwanie autoryzacyjne.", ("Wyzwanie wygasło.",),
                                          "20251011-EE-1111111111-2222222222-33")


def test_parse_problem_details_shapes():
    assert parse_error_body(PROBLEM_400)[:3] == (21470, "Nieznany klucz publiczny.", ("publicKeyId",))
    assert parse_error_body(PROBLEM_403)[0] == "missing-permissions"
    assert parse_error_body(TOO_MANY)[:2] == (429, "Too Many Requests")
    assert parse_error_body("<html>") == (None, None, (), None)


def test_error_from_response_legacy_is_english_with_code():
    err = error_from_response(400, LEGACY, operation="the KSeF token authorization")
    assert type(err) is KsefHttpError and err.code == 21111 and err.http_status == 400
    assert str(err) == ("KSeF rejected the KSeF token authorization: invalid authorization challenge "
                        "(code 21111, HTTP 400).")
    assert err.details == ("Wyzwanie wygasło.",) and err.reference_number.startswith("20251011")
    assert "10 minutes" in err.hint


def test_error_from_response_problem_details():
    err = error_from_response(400, PROBLEM_400, operation="the KSeF token authorization")
    assert err.code == 21470 and "public key" in str(err)
    forb = error_from_response(403, PROBLEM_403, operation="the token generation request")
    assert isinstance(forb, KsefForbidden) and forb.reason_code == "missing-permissions" and forb.code == 403
    unauth = error_from_response(401, {"title": "Unauthorized", "status": 401, "detail": "x"}, operation="x")
    assert isinstance(unauth, KsefUnauthorized) and "Log in again" in unauth.hint
    media = error_from_response(415, None, operation="the signed authorization request")
    assert media.code is None and "HTTP 415" in str(media)


def test_rate_limited_error_and_hint_languages():
    err = error_from_response(429, TOO_MANY, operation="the challenge request", retry_after=2492)
    assert isinstance(err, KsefRateLimited) and err.retry_after == 2492
    assert str(err) == "KSeF rate limit reached for the challenge request (HTTP 429). Retry in 41 min 32 s."
    assert err.human_retry() == "in 41 min 32 s"
    assert err.hint.endswith("Try again in 41 min 32 s.")
    i18n.set_language("pl")
    try:
        assert err.human_retry() == "za 41 min 32 s"
        assert err.hint.startswith("KSeF ogranicza") and err.hint.endswith("Spróbuj ponownie za 41 min 32 s.")
        assert str(err).endswith("Retry in 41 min 32 s.")  # str() stays English
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("code", [21111, 21115, 21401, 21406, 21470, 9105, 415, 450, 460, 480, 25003, 26001,
                                  "wrong-password", "key-mismatch", "expired", "unsafe-xml", "challenge-expired"])
def test_every_hint_exists_in_both_languages(code):
    from ksef_tui.ksef.errors import hint_for

    en = hint_for(code)
    i18n.set_language("pl")
    try:
        pl = hint_for(code)
    finally:
        i18n.set_language("en")
    assert en and pl and en != pl


@pytest.mark.parametrize("seconds,en,pl", [(0, "in 0 s", "za 0 s"), (5, "in 5 s", "za 5 s"), (60, "in 1 min", "za 1 min"),
                                           (61.2, "in 1 min 2 s", "za 1 min 2 s"), (3600, "in 1 h", "za 1 h"),
                                           (3725, "in 1 h 2 min 5 s", "za 1 h 2 min 5 s")])
def test_human_retry(seconds, en, pl):
    assert human_retry(seconds) == en
    i18n.set_language("pl")
    try:
        assert human_retry(seconds) == pl
    finally:
        i18n.set_language("en")


# ------------------------------------------------------------- the gateway's sentences in Polish (issue 14, 12)

def _catalog_has(text: str) -> bool:
    from babel.messages.pofile import read_po

    po = i18n.LOCALE_DIR / "pl" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with po.open("rb") as f:
        entry = read_po(f).get(text)
    return entry is not None and bool(entry.string) and entry.string != text


def test_every_code_meaning_and_hint_has_a_polish_catalog_entry():
    from ksef_tui.ksef import errors
    from ksef_tui.ksef.permissions import OPERATION_CODES, operation_meaning

    codes = errors.known_codes()
    assert {450, 460, 9105, 21111, 21115, 415, 429, 500, 550, "network", "timeout"} <= set(codes)
    english = {code: (errors.code_meaning(code), errors.hint_for(code)) for code in codes}
    permission_en = {code: operation_meaning(code) for code in OPERATION_CODES}
    i18n.set_language("pl")
    try:
        polish = {code: (errors.code_meaning(code), errors.hint_for(code)) for code in codes}
        permission_pl = {code: operation_meaning(code) for code in OPERATION_CODES}
    finally:
        i18n.set_language("en")
    untranslated = [code for code in codes if not all(polish[code]) or polish[code][0] == english[code][0]
                    or polish[code][1] == english[code][1]]
    assert not untranslated, f"codes without a Polish meaning or hint: {untranslated}"
    assert all(_catalog_has(english[code][0]) and _catalog_has(english[code][1]) for code in codes)
    assert all(permission_pl[c] and permission_pl[c] != permission_en[c] for c in OPERATION_CODES)
    # KSeF's own words (the spec's Polish descriptions) where it has them
    assert polish[21111][0] == "nieprawidłowe wyzwanie autoryzacyjne" and polish[9105][0] == "nieprawidłowy podpis"
    assert polish[450][0] == "błędny token KSeF" and polish[460][0] == "błąd certyfikatu"


def test_the_message_is_said_in_the_language_of_the_moment_it_is_raised_even_in_a_thread():
    import concurrent.futures

    def raise_in_thread() -> KsefHttpError:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(error_from_response, 400, LEGACY, operation="the KSeF token authorization").result()

    i18n.set_language("pl")
    try:
        err = raise_in_thread()
        assert str(err) == ("KSeF odrzucił żądanie „uwierzytelnienie tokenem KSeF”: nieprawidłowe wyzwanie "
                            "autoryzacyjne (kod 21111, HTTP 400).")
        assert err.hint.startswith("Wyzwanie jest błędne albo wygasło")
        late = error_from_response(429, TOO_MANY, operation="the challenge request", retry_after=90)
        assert str(late) == ("Przekroczono limit zapytań KSeF dla żądania „wyzwanie autoryzacyjne” (HTTP 429). "
                             "Ponów za 1 min 30 s.")
    finally:
        i18n.set_language("en")
    assert str(err).startswith("KSeF odrzucił")  # said once, when raised
    assert err.hint.startswith("The challenge is wrong")  # the hint follows the language when read
    english = raise_in_thread()
    assert str(english) == ("KSeF rejected the KSeF token authorization: invalid authorization challenge "
                            "(code 21111, HTTP 400).")


def test_ksef_own_description_of_an_unknown_code_stays_as_sent_in_polish():
    body = {"exception": {"exceptionDetailList": [{"exceptionCode": 99999, "exceptionDescription": "[b]Coś[/b] nowego",
                                                   "details": ["x"]}]}}
    i18n.set_language("pl")
    try:
        err = error_from_response(400, body, operation="the token generation request")
    finally:
        i18n.set_language("en")
    assert str(err) == "KSeF odrzucił żądanie „wygenerowanie tokena”: [b]Coś[/b] nowego (kod 99999, HTTP 400)."
    assert err.description == "[b]Coś[/b] nowego" and err.details == ("x",)
