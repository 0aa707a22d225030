"""Typed errors of the KSeF gateway, with plain-language hints in English and Polish.

Every error carries the KSeF exception code or status code (``code``), the HTTP
status (``http_status``) when there was a response, KSeF's own description and
details, and the raw problem body (``problem``). ``str(err)`` is a clear English
sentence without secrets; ``err.hint`` follows the UI language (``i18n.pick``).

Codes and meanings: PROTOCOL.md §3 (exception and status codes), §5-§7, §13.
"""

from __future__ import annotations

import math
from typing import Any

from ksef_tui.i18n import pick

# code -> (English meaning, English hint, Polish hint)
_CODES: dict[int | str, tuple[str, str, str]] = {
    # 400 exception codes (PROTOCOL.md §3.2, §3.3, §3.5)
    21001: ("unreadable content",
            "KSeF could not read the document. Send the signed file exactly as it was signed.",
            "KSeF nie mógł odczytać dokumentu. Wyślij podpisany plik dokładnie w tej postaci, w jakiej go podpisano."),
    21111: ("invalid authorization challenge",
            "The challenge is wrong or has expired (it lives 10 minutes). Start the authorization again.",
            "Wyzwanie jest błędne albo wygasło (żyje 10 minut). Rozpocznij uwierzytelnianie od nowa."),
    21115: ("invalid certificate",
            "KSeF does not accept this certificate here. Self-signed certificates work on TEST only; "
            "check the NIP/PESEL attributes and that the certificate belongs to this environment.",
            "KSeF nie akceptuje tu tego certyfikatu. Certyfikaty samopodpisane działają tylko na TEST; "
            "sprawdź atrybuty NIP/PESEL i czy certyfikat pochodzi z tego środowiska."),
    21117: ("identifier invalid for this context type",
            "The context identifier does not fit its type. Check the NIP or internal identifier.",
            "Identyfikator kontekstu nie pasuje do typu. Sprawdź NIP albo identyfikator wewnętrzny."),
    21184: ("session temporarily unavailable",
            "KSeF cannot go on with this session for the moment. Open a new session: authorize again.",
            "KSeF chwilowo nie może kontynuować tej sesji. Otwórz nową sesję: uwierzytelnij się ponownie."),
    21217: ("bad character encoding",
            "Send the signed file byte for byte, UTF-8, without re-saving it in an editor.",
            "Wyślij podpisany plik bajt w bajt, w UTF-8, bez ponownego zapisywania w edytorze."),
    21301: ("tokens cannot be collected",
            "This login can no longer give tokens (already collected, session revoked, or authentication "
            "not finished). Log in again.",
            "To logowanie nie może już wydać tokenów (zostały pobrane, sesję unieważniono albo uwierzytelnianie "
            "nie jest zakończone). Zaloguj się ponownie."),
    21304: ("authentication not found",
            "KSeF does not know this authentication operation. Start the authorization again.",
            "KSeF nie zna tej operacji uwierzytelniania. Rozpocznij uwierzytelnianie od nowa."),
    21308: ("authentication means of a deceased person",
            "These credentials belong to a person registered as deceased; use other credentials.",
            "Te dane uwierzytelniające należą do osoby zmarłej; użyj innych."),
    21401: ("the document does not match the XSD schema",
            "The AuthTokenRequest does not match the official schema. Generate a fresh request file.",
            "AuthTokenRequest nie jest zgodny z oficjalnym schematem. Wygeneruj nowy plik żądania."),
    21405: ("input validation error",
            "KSeF refused the data sent. Check the NIP, the permissions and the description.",
            "KSeF odrzucił przesłane dane. Sprawdź NIP, uprawnienia i opis."),
    21406: ("signature and authentication type conflict",
            "The certificate does not fit the chosen subject type. Check the certificate attributes "
            "(TINPL-/PNOPL- for a person, VATPL- for a seal).",
            "Certyfikat nie pasuje do wybranego typu podmiotu. Sprawdź atrybuty certyfikatu "
            "(TINPL-/PNOPL- dla osoby, VATPL- dla pieczęci)."),
    21470: ("unknown or withdrawn public key",
            "The Ministry of Finance key changed. Try again: the key list is fetched anew.",
            "Klucz Ministerstwa Finansów się zmienił. Spróbuj ponownie: lista kluczy zostanie pobrana od nowa."),
    9101: ("invalid document",
           "The signed document is not valid. Sign a freshly generated request file.",
           "Podpisany dokument jest nieprawidłowy. Podpisz nowo wygenerowany plik żądania."),
    9102: ("no signature",
           "The file is not signed. Sign it with a qualified signature, seal or Profil Zaufany.",
           "Plik nie jest podpisany. Podpisz go podpisem kwalifikowanym, pieczęcią albo Profilem Zaufanym."),
    9103: ("too many signatures",
           "The file carries more than one signature. Sign the unsigned request file once.",
           "Plik zawiera więcej niż jeden podpis. Podpisz niepodpisany plik żądania jeden raz."),
    9105: ("invalid signature",
           "The signature does not verify: the file was changed after signing or signed with an "
           "unsupported algorithm. Sign the file again and send it unchanged.",
           "Podpis nie weryfikuje się: plik zmieniono po podpisaniu albo użyto niewspieranego algorytmu. "
           "Podpisz plik ponownie i wyślij go bez zmian."),
    25001: ("not allowed for this authentication method",
            "KSeF certificates can be requested only after logging in with a qualified signature, seal "
            "or Profil Zaufany, not with a KSeF token.",
            "O certyfikat KSeF można wystąpić tylko po logowaniu podpisem kwalifikowanym, pieczęcią "
            "albo Profilem Zaufanym, nie tokenem KSeF."),
    25002: ("enrollment not allowed for this authentication method",
            "Log in with a qualified signature, seal or Profil Zaufany to request a KSeF certificate.",
            "Zaloguj się podpisem kwalifikowanym, pieczęcią albo Profilem Zaufanym, aby wystąpić o certyfikat KSeF."),
    25003: ("certificate request data differ from the login",
            "The CSR subject must copy the enrollment data exactly. Generate the request again.",
            "Dane w CSR muszą dokładnie odpowiadać danym do wniosku. Wygeneruj wniosek ponownie."),
    25004: ("bad certificate request",
            "The CSR or its signature is invalid. Generate the request again.",
            "CSR albo jego podpis jest nieprawidłowy. Wygeneruj wniosek ponownie."),
    25006: ("certificate request limit reached",
            "The limit of certificate requests is used up. Check the limits or try later.",
            "Wyczerpano limit wniosków o certyfikat. Sprawdź limity albo spróbuj później."),
    25007: ("certificate limit reached",
            "The limit of active certificates is reached. Revoke an unused certificate first.",
            "Osiągnięto limit aktywnych certyfikatów. Najpierw unieważnij nieużywany certyfikat."),
    25010: ("bad key type or length",
            "Use an EC P-256 or RSA 2048 key.", "Użyj klucza EC P-256 albo RSA 2048."),
    25011: ("bad CSR signature algorithm",
            "Sign the CSR with SHA-256.", "Podpisz CSR algorytmem SHA-256."),
    26001: ("permissions you do not have",
            "A token cannot get permissions you do not have yourself.",
            "Token nie może dostać uprawnień, których sam nie masz."),
    26002: ("tokens only in a NIP or internal identifier context",
            "Generate tokens in a NIP or internal identifier context.",
            "Generuj tokeny w kontekście NIP albo identyfikatora wewnętrznego."),
    # status codes of GET /auth/{ref} (PROTOCOL.md §3.4)
    415: ("no permissions assigned",
          "The person has no permissions in this company. The owner must grant them first "
          "(ZAW-FA or KSeF permissions).",
          "Osoba nie ma uprawnień w tej firmie. Właściciel musi je najpierw nadać (ZAW-FA lub uprawnienia w KSeF)."),
    425: ("authentication revoked",
          "The authentication was revoked. Log in again.",
          "Uwierzytelnienie zostało unieważnione. Zaloguj się ponownie."),
    450: ("bad KSeF token",
          "The KSeF token is wrong, revoked, inactive or meant for another company. Check the token "
          "and the NIP; KSeF 1.0 tokens do not work in API 2.0.",
          "Token KSeF jest błędny, unieważniony, nieaktywny albo przeznaczony dla innej firmy. Sprawdź "
          "token i NIP; tokeny KSeF 1.0 nie działają w API 2.0."),
    460: ("certificate error",
          "KSeF rejected the certificate (invalid, revoked, suspended or untrusted). Use a valid "
          "certificate accepted in this environment.",
          "KSeF odrzucił certyfikat (nieważny, unieważniony, zawieszony lub niezaufany). Użyj ważnego "
          "certyfikatu akceptowanego w tym środowisku."),
    470: ("authentication means of a deceased person",
          "These credentials belong to a person registered as deceased.",
          "Te dane uwierzytelniające należą do osoby zmarłej."),
    480: ("authentication blocked",
          "KSeF blocked authentication in this context (suspected security incident). Contact the "
          "Ministry of Finance.",
          "KSeF zablokował uwierzytelnianie w tym kontekście (podejrzenie incydentu). Skontaktuj się z Ministerstwem Finansów."),
    500: ("unknown KSeF error",
          "KSeF reported an unknown error. Try again later.",
          "KSeF zgłosił nieznany błąd. Spróbuj ponownie później."),
    550: ("operation cancelled by KSeF",
          "KSeF interrupted the operation. Start it again.",
          "KSeF przerwał operację. Rozpocznij ją ponownie."),
    # HTTP-level problems
    401: ("not authorized",
          "The session token is missing or expired. Log in again.",
          "Brak tokenu sesji albo wygasł. Zaloguj się ponownie."),
    403: ("forbidden",
          "KSeF does not allow this operation for this login (permissions, IP policy or login method).",
          "KSeF nie pozwala na tę operację przy tym logowaniu (uprawnienia, polityka IP lub metoda logowania)."),
    410: ("the operation result expired",
          "KSeF no longer keeps this result. Start the operation again.",
          "KSeF nie przechowuje już tego wyniku. Rozpocznij operację ponownie."),
    429: ("too many requests",
          "KSeF limits how often requests may be sent. Wait and try again.",
          "KSeF ogranicza częstotliwość zapytań. Odczekaj i spróbuj ponownie."),
    # local codes (checks before any network call)
    "network": ("network error",
                "Check the internet connection and the KSeF address; KSeF may also be in maintenance.",
                "Sprawdź połączenie z internetem i adres KSeF; KSeF może też mieć przerwę techniczną."),
    "timeout": ("timed out",
                "KSeF did not answer in time. Try again later; DEMO and PRODUCTION can be slow while "
                "certificates are checked.",
                "KSeF nie odpowiedział na czas. Spróbuj później; DEMO i PRODUKCJA bywają wolne przy sprawdzaniu certyfikatów."),
    "bad-file": ("the file cannot be read",
                 "Give a certificate and key in PEM, DER or PKCS#12 (.p12/.pfx).",
                 "Podaj certyfikat i klucz w formacie PEM, DER albo PKCS#12 (.p12/.pfx)."),
    "wrong-password": ("wrong password",
                       "The password does not open this file. Check the password file.",
                       "Hasło nie otwiera tego pliku. Sprawdź plik z hasłem."),
    "password-needed": ("a password is needed",
                        "The key is encrypted. Give the password file.",
                        "Klucz jest zaszyfrowany. Podaj plik z hasłem."),
    "key-mismatch": ("the key does not match the certificate",
                     "Give the private key that belongs to this certificate.",
                     "Podaj klucz prywatny należący do tego certyfikatu."),
    "expired": ("the certificate has expired",
                "Use a valid certificate (or request a new KSeF certificate).",
                "Użyj ważnego certyfikatu (albo wystąp o nowy certyfikat KSeF)."),
    "not-yet-valid": ("the certificate is not valid yet",
                      "Check the computer clock or wait until the certificate becomes valid.",
                      "Sprawdź zegar komputera albo poczekaj, aż certyfikat zacznie obowiązywać."),
    "offline-certificate": ("a KSeF Offline certificate cannot log in",
                            "An Offline certificate only signs offline invoices (QR code II). Load the KSeF "
                            "Authentication certificate, or request one (Authentication type).",
                            "Certyfikat Offline służy tylko do podpisywania faktur offline (kod QR II). Wczytaj "
                            "certyfikat KSeF typu Uwierzytelnianie albo wystąp o taki."),
    "unsupported-key": ("unsupported key",
                        "Use an RSA (2048 bits or more) or EC (P-256 or stronger) key.",
                        "Użyj klucza RSA (co najmniej 2048 bitów) albo EC (P-256 lub silniejszego)."),
    "unsafe-xml": ("unsafe XML",
                   "The file contains a DTD or entities, which a signed AuthTokenRequest never has. "
                   "Use the file exactly as the signing service returned it.",
                   "Plik zawiera DTD albo encje, których podpisany AuthTokenRequest nigdy nie ma. "
                   "Użyj pliku dokładnie takiego, jaki zwrócił serwis podpisu."),
    "not-xml": ("not an XML document",
                "Give the signed AuthTokenRequest XML file.",
                "Podaj podpisany plik XML AuthTokenRequest."),
    "too-large": ("the file is too large",
                  "A signed AuthTokenRequest is a few kilobytes; check that this is the right file.",
                  "Podpisany AuthTokenRequest ma kilka kilobajtów; sprawdź, czy to właściwy plik."),
    "wrapping": ("the signed document is not the request that would be authenticated",
                 "Sign the AuthTokenRequest file exactly as this program wrote it and give the signed file "
                 "unchanged; a file that carries a second request, or whose signature does not cover the "
                 "whole request, is refused (KSeF answers 9105).",
                 "Podpisz plik AuthTokenRequest dokładnie taki, jaki zapisał ten program, i podaj plik podpisany "
                 "bez zmian; plik z drugim żądaniem albo z podpisem nieobejmującym całego żądania jest odrzucany "
                 "(KSeF odpowiada 9105)."),
    "signatures": ("more than one signature",
                   "KSeF accepts one signature; sign the request once.",
                   "KSeF przyjmuje jeden podpis; podpisz żądanie raz."),
    "detached": ("a detached signature",
                 "Sign the XML file itself (enveloped or enveloping XAdES), not a separate signature file.",
                 "Podpisz sam plik XML (XAdES otaczany lub otaczający), a nie w osobnym pliku podpisu."),
    "wrong-context": ("the token was made for another company",
                      "Generate the request file for this company, sign it and try again.",
                      "Wygeneruj plik żądania dla tej firmy, podpisz go i spróbuj ponownie."),
    "not-auth-request": ("not an AuthTokenRequest",
                         "Give the AuthTokenRequest file generated by this program, after signing.",
                         "Podaj plik AuthTokenRequest wygenerowany przez ten program, po podpisaniu."),
    "unsigned": ("the file is not signed",
                 "Sign the file (e.g. with Profil Zaufany at gov.pl) and give the signed file.",
                 "Podpisz plik (np. Profilem Zaufanym na gov.pl) i podaj plik podpisany."),
    "challenge-mismatch": ("the file was signed for another challenge",
                           "Sign the request file generated most recently, or generate a new one.",
                           "Podpisz najnowszy wygenerowany plik żądania albo wygeneruj nowy."),
    "challenge-expired": ("the challenge has expired",
                          "A challenge lives 10 minutes. Generate a new request file and sign it promptly.",
                          "Wyzwanie żyje 10 minut. Wygeneruj nowy plik żądania i podpisz go niezwłocznie."),
    "context-mismatch": ("the file names another company",
                         "The signed file is for another NIP. Generate the request for this company.",
                         "Podpisany plik dotyczy innego NIP. Wygeneruj żądanie dla tej firmy."),
    "schema": ("the request does not match the XSD schema",
               "Check the NIP and challenge; the request could not be built.",
               "Sprawdź NIP i wyzwanie; nie udało się zbudować żądania."),
    "nip": ("invalid NIP",
            "A NIP has ten digits and a valid check digit; copy it from the company's records.",
            "NIP ma dziesięć cyfr i poprawną cyfrę kontrolną; przepisz go z dokumentów firmy."),
    "environment": ("unknown environment",
                    "Choose TEST (self-signed certificates allowed), DEMO (pre-production) or PRODUCTION.",
                    "Wybierz TEST (dozwolone certyfikaty samopodpisane), DEMO (przedprodukcyjne) albo PRODUCTION."),
    "endpoint": ("invalid KSeF address",
                 "Use https:// (plain http only on this computer, e.g. for the simulator).",
                 "Użyj https:// (zwykły http tylko na tym komputerze, np. dla symulatora)."),
    "no-public-key": ("no usable public key",
                      "KSeF published no valid key for token encryption. Try again later.",
                      "KSeF nie opublikował ważnego klucza do szyfrowania tokena. Spróbuj później."),
    "bad-response": ("unexpected response",
                     "KSeF answered in an unexpected way. Try again later.",
                     "KSeF odpowiedział w nieoczekiwany sposób. Spróbuj później."),
}

_FALLBACK = ("KSeF refused the request. Read the details and try again.",
             "KSeF odrzucił żądanie. Przeczytaj szczegóły i spróbuj ponownie.")


def code_meaning(code: int | str | None) -> str | None:
    entry = _CODES.get(code) if code is not None else None
    return entry[0] if entry else None


def hint_for(code: int | str | None) -> str:
    entry = _CODES.get(code) if code is not None else None
    if entry is None:
        return pick(*_FALLBACK)
    return pick(entry[1], entry[2])


class KsefError(Exception):
    """Base of every gateway error."""

    default_code: int | str | None = None
    #: set by KsefHttp: the request was idempotent, so the HTTP layer already sent it again as often
    #: as the retry policy allows (nothing above it should repeat it once more)
    retried: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int | str | None = None,
        http_status: int | None = None,
        description: str | None = None,
        details: tuple[str, ...] | list[str] = (),
        problem: Any = None,
        reference_number: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.http_status = http_status
        self.description = description
        self.details = tuple(str(d) for d in details or ())
        self.problem = problem
        self.reference_number = reference_number

    @property
    def hint(self) -> str:
        return hint_for(self.code)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, http_status={self.http_status!r})"


class KsefHttpError(KsefError):
    """KSeF answered with an unexpected HTTP status (4xx/5xx)."""


class KsefUnauthorized(KsefHttpError):
    default_code = 401


class KsefForbidden(KsefHttpError):
    default_code = 403

    @property
    def reason_code(self) -> str | None:
        return self.problem.get("reasonCode") if isinstance(self.problem, dict) else None


class KsefGone(KsefHttpError):
    default_code = 410


class KsefSessionUnavailable(KsefHttpError):
    """21184: the session cannot be used for the moment; a new session (a new authorization) can."""

    default_code = 21184


class KsefRateLimited(KsefHttpError):
    """429 with a Retry-After longer than the gateway is willing to wait."""

    default_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after

    def human_retry(self) -> str:
        return human_retry(self.retry_after)

    @property
    def hint(self) -> str:
        base = hint_for(429)
        if self.retry_after is None:
            return base
        return f"{base} " + pick(f"Try again {self.human_retry()}.", f"Spróbuj ponownie {self.human_retry()}.")


class KsefOperationFailed(KsefError):
    """An asynchronous KSeF operation (token activation, enrollment) ended in failure."""


class KsefAuthFailed(KsefOperationFailed):
    """The authentication status ended with a code >= 400 (``code``, ``description``, ``details``)."""


class KsefNetworkError(KsefError):
    default_code = "network"


class KsefTimeout(KsefError):
    default_code = "timeout"


class KsefProtocolError(KsefError):
    """KSeF answered something the contract does not allow."""

    default_code = "bad-response"


class KsefInputError(KsefError):
    """Bad input found locally, before any network call (maps to CLI exit code 2)."""


class CredentialError(KsefInputError):
    """Certificate/key files: unreadable, wrong password, key mismatch, expired..."""


class SignedFileError(KsefInputError):
    """An externally signed AuthTokenRequest failed a local check."""


class EndpointError(KsefInputError):
    default_code = "endpoint"


def human_retry(seconds: float | None) -> str:
    """``"in 41 min 32 s"`` / ``"za 41 min 32 s"`` (follows the UI language)."""
    if seconds is None:
        return pick("later", "później")
    total = max(0, math.ceil(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts: list[str] = []
    if h:
        parts.append(f"{h} h")
    if m:
        parts.append(f"{m} min")
    if s or not parts:
        parts.append(f"{s} s")
    text = " ".join(parts)
    return pick(f"in {text}", f"za {text}")


# ---------------------------------------------------------------------------
# Parsing KSeF error bodies (legacy ExceptionResponse and application/problem+json)


def parse_error_body(body: Any) -> tuple[int | str | None, str | None, tuple[str, ...], str | None]:
    """Return ``(code, description, details, reference_number)`` from either error shape."""
    if not isinstance(body, dict):
        return None, None, (), None
    exc = body.get("exception")
    if isinstance(exc, dict):
        items = exc.get("exceptionDetailList") or []
        ref = exc.get("referenceNumber")
        if items and isinstance(items[0], dict):
            first = items[0]
            details: list[str] = []
            for item in items:
                details.extend(str(d) for d in (item.get("details") or []))
            return _as_code(first.get("exceptionCode")), first.get("exceptionDescription"), tuple(details), ref
        return None, None, (), ref
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        details = []
        for item in errors:
            if isinstance(item, dict):
                details.extend(str(d) for d in (item.get("details") or []))
        return _as_code(first.get("code")), first.get("description") or body.get("detail"), tuple(details), None
    status = body.get("status")
    if isinstance(status, dict):  # TooManyRequestsResponse / StatusInfo
        return _as_code(status.get("code")), status.get("description"), tuple(str(d) for d in status.get("details") or ()), None
    if "title" in body or "detail" in body:  # 401/403/410/429 problem details
        reason = body.get("reasonCode")
        details = [str(body["detail"])] if body.get("detail") else []
        return reason, body.get("title"), tuple(details), None
    return None, None, (), None


def _as_code(value: Any) -> int | str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def error_from_response(
    status: int, body: Any, *, operation: str, retry_after: float | None = None
) -> KsefHttpError:
    """Build the typed error for a non-2xx response of ``operation`` (an English noun phrase)."""
    code, description, details, ref = parse_error_body(body)
    numeric = code if isinstance(code, int) else None
    meaning = code_meaning(numeric) if numeric is not None else None
    what = meaning or description or code_meaning(status) or "error"
    if numeric is not None:
        message = f"KSeF rejected {operation}: {what} (code {numeric}, HTTP {status})."
    else:
        message = f"KSeF rejected {operation}: {what} (HTTP {status})."
    kw: dict[str, Any] = dict(
        http_status=status, description=description, details=details, problem=body, reference_number=ref
    )
    if status == 429:
        wait = f" Retry {human_retry_en(retry_after)}." if retry_after is not None else ""
        return KsefRateLimited(
            f"KSeF rate limit reached for {operation} (HTTP 429).{wait}",
            retry_after=retry_after, code=429, **kw,
        )
    # HTTP 415 (wrong media type) is not the status code 415 (no permissions).
    kw["code"] = numeric if numeric is not None else (None if status == 415 else status)
    if status == 401:
        return KsefUnauthorized(message, **kw)
    if status == 403:
        kw["code"] = 403
        return KsefForbidden(message, **kw)
    if status == 410:
        kw["code"] = 410
        return KsefGone(message, **kw)
    if numeric == SESSION_UNAVAILABLE:
        return KsefSessionUnavailable(message, **kw)
    return KsefHttpError(message, **kw)


def is_transient(exc: BaseException) -> bool:
    """A problem that says nothing about the credential: network, timeout, 5xx, malformed answer."""
    if isinstance(exc, (KsefNetworkError, KsefTimeout, KsefProtocolError)):
        return True
    return isinstance(exc, KsefHttpError) and (exc.http_status or 0) >= 500


#: KSeF's "session temporarily unavailable: open a new session" (API 2.9.0)
SESSION_UNAVAILABLE = 21184
#: codes after which only a new authorization flow can go on: the challenge was refused or has
#: expired (21111), KSeF cancelled the authentication itself (550: "retry the whole flow"), or the
#: session is temporarily unavailable (21184: "open a new session")
NEW_FLOW_CODES = frozenset({21111, 550, SESSION_UNAVAILABLE})


def needs_new_flow(exc: BaseException) -> bool:
    """Whether an authorization that failed with ``exc`` may start again from a fresh challenge.

    True when KSeF refused or expired the challenge or cancelled the authentication, and when a
    state-changing step failed for a temporary reason: the HTTP layer never sends those twice, so
    a new flow is the only safe repeat. False for everything the HTTP layer already retried, for a
    429 (its Retry-After was beyond the HTTP layer's budget) and for KSeF's final answers."""
    if not isinstance(exc, KsefError) or isinstance(exc, KsefRateLimited):
        return False
    if exc.code in NEW_FLOW_CODES:
        return True
    return is_transient(exc) and not exc.retried


def human_retry_en(seconds: float | None) -> str:
    """English form for ``str(err)``, independent of the UI language."""
    if seconds is None:
        return "later"
    total = max(0, math.ceil(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = ([f"{h} h"] if h else []) + ([f"{m} min"] if m else []) + ([f"{s} s"] if s or not (h or m) else [])
    return "in " + " ".join(parts)
