"""The simulator's behaviour: every endpoint's rules, independent of HTTP.

The Starlette layer (``app.py``) parses requests and calls these methods; they return the JSON
bodies of the spec or raise :mod:`errors`. All state changes happen under one lock, so tests may
seed data from their own thread while uvicorn serves in another.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from . import ids, pki, validation as v
from .clock import Clock, SystemClock
from .config import SimulatorConfig
from .errors import KsefApiError, ProblemError
from .faults import FaultInjector
from .identity import ORGANIZATION_IDENTIFIER, CertificateIdentity, read_identity
from .ratelimit import FAST_LIMIT, PRODUCTION_LIMITS, Decision, SlidingWindowLimiter, group_for
from .state import (
    AccessToken,
    AuthOperation,
    Challenge,
    Enrollment,
    Grant,
    IssuedCertificate,
    KsefToken,
    Person,
    State,
    Subject,
)

P = ParamSpec("P")
R = TypeVar("R")

OWNER_PERMISSIONS = [
    "InvoiceRead",
    "InvoiceWrite",
    "Introspection",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
]

# Status texts of the spec (AuthenticationOperationStatusResponse / CertificateEnrollmentStatusResponse).
AUTH_STATUS = {
    100: "Uwierzytelnianie w toku",
    200: "Uwierzytelnianie zakończone sukcesem",
    415: "Uwierzytelnianie zakończone niepowodzeniem",
    425: "Uwierzytelnienie unieważnione",
    450: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    460: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    470: "Uwierzytelnianie zakończone niepowodzeniem",
    480: "Uwierzytelnienie zablokowane",
    500: "Nieznany błąd",
    550: "Operacja została anulowana przez system",
}
NO_PERMISSIONS = "Brak przypisanych uprawnień"
REVOKED_BY_USER = "Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika"
BLOCKED = "Podejrzenie incydentu bezpieczeństwa. Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy."
DECEASED = "Próba wykorzystania metod autoryzacyjnych osoby zmarłej"
CERT_INVALID = "Nieważny certyfikat."
CERT_UNTRUSTED = "Niezaufany łańcuch certyfikatów."
CERT_CHAIN_ERROR = "Błąd weryfikacji łańcucha certyfikatów."
CERT_REVOKED = "Certyfikat odwołany."
CERT_INCORRECT = "Niepoprawny certyfikat."
ENROLLMENT_STATUS = {
    100: "Wniosek przyjęty do realizacji",
    200: "Wniosek obsłużony (certyfikat wygenerowany)",
    400: "Wniosek odrzucony",
}
KEY_ALREADY_CERTIFIED = "Klucz publiczny został już certyfikowany przez inny podmiot."

#: (authenticationMethod, category, code, displayName)
METHODS: dict[str, tuple[str, str, str]] = {
    "Token": ("Token", "token", "Token KSeF"),
    "TrustedProfile": ("XadesSignature", "xades.trusted-profile", "Profil Zaufany"),
    "InternalCertificate": ("XadesSignature", "xades.internal-certificate", "Certyfikat KSeF"),
    "QualifiedSignature": ("XadesSignature", "xades.qualified-signature", "Podpis kwalifikowany"),
    "QualifiedSeal": ("XadesSignature", "xades.qualified-seal", "Pieczęć kwalifikowana"),
}

# CSR attribute names of CertificateEnrollmentDataResponse.
DN_FIELDS: dict[str, x509.ObjectIdentifier] = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "uniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": ORGANIZATION_IDENTIFIER,
}


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        with self._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


@dataclass
class Caller:
    """An authenticated API caller (access token, or refresh token where the spec allows it)."""

    operation: AuthOperation
    client_ip: str

    @property
    def context(self) -> tuple[str, str]:
        return self.operation.context_type, self.operation.context_value

    @property
    def permissions(self) -> list[str]:
        return self.operation.permissions

    @property
    def category(self) -> str:
        return self.operation.method_category

    @property
    def subject(self) -> tuple[str, str] | None:
        if self.operation.subject_type and self.operation.subject_value:
            return self.operation.subject_type, self.operation.subject_value
        return None


def _encode_continuation(offset: int) -> str:
    return base64.b64encode(json.dumps({"skip": offset}).encode()).decode()


def _decode_continuation(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        offset = int(data["skip"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise KsefApiError(21418) from exc
    if offset < 0:
        raise KsefApiError(21418)
    return offset


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


class Simulator:
    """State and rules of one simulated KSeF environment."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock: Clock = self.config.clock or SystemClock()
        self.faults = FaultInjector()
        self.limiter = SlidingWindowLimiter()
        self.rate_limits_enabled = self.config.rate_limits
        self._lock = threading.RLock()
        self._state_file = Path(self.config.state_file) if self.config.state_file else None
        if self._state_file and self._state_file.exists():
            self.state = State.load(self._state_file)
        else:
            self.state = State()
        if self.state.pki is None:
            created = pki.Pki.create(self.now(), reuse_process_keys=self.config.reuse_process_keys)
            self.state.pki = created.to_json()
            self.pki = created
        else:
            self.pki = pki.Pki.from_json(self.state.pki)
        if not self.state.jwt_secret:
            self.state.jwt_secret = secrets.token_hex(32)
        self._trusted_extra = [x509.load_pem_x509_certificate(p) for p in self.config.trusted_ca_pems]
        self._trusted_profile_signers: dict[str, pki.KeyAndCert] = {}
        self.save()

    # ------------------------------------------------------------------------------------------
    # basics
    # ------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def ts(self, moment: datetime) -> str:
        return ids.ksef_timestamp(moment)

    @_locked
    def save(self) -> None:
        """Write the state file (if configured)."""
        if self._state_file:
            self.state.save(self._state_file)

    @property
    def ca_certificate_pem(self) -> str:
        """PEM of the simulator's KSeF CA (issuer of KSeF certificates)."""
        return pki.cert_to_pem(self.pki.ksef_ca.cert)

    @property
    def trusted_profile_ca_pem(self) -> str:
        """PEM of the CA standing for the Profil Zaufany signing service."""
        return pki.cert_to_pem(self.pki.trusted_profile_ca.cert)

    @property
    def ksef_token_encryption_certificate_pem(self) -> str:
        return pki.cert_to_pem(self.pki.key_for_usage(pki.KSEF_TOKEN_ENCRYPTION).material.cert)

    def _jwt(self, kind: str, op: AuthOperation, valid_until: datetime) -> str:
        claims: dict[str, object] = {
            "typ": kind,
            "arn": op.reference_number,
            "context-identifier-type": op.context_type,
            "context-identifier-value": op.context_value,
            "authentication-method": op.method,
            "iat": int(self.now().timestamp()),
            "exp": int(valid_until.timestamp()),
            "iss": "ksef-api-simulator",
            "aud": "ksef-api-simulator",
        }
        return ids.opaque_jwt(claims, self.state.jwt_secret.encode())

    # ------------------------------------------------------------------------------------------
    # permissions model
    # ------------------------------------------------------------------------------------------
    def _context_nip(self, context_type: str, context_value: str) -> str | None:
        if context_type == "Nip":
            return context_value
        if context_type == "InternalId":
            return context_value.split("-", 1)[0]
        return None

    def permissions_for(
        self, subject: tuple[str, str] | None, context_type: str, context_value: str
    ) -> list[str]:
        """Permissions of an identity (Nip/Pesel/Fingerprint) in a context."""
        if subject is None:
            return []
        kind, value = subject
        granted: set[str] = set()
        ctx_nip = self._context_nip(context_type, context_value)
        if ctx_nip:
            if kind == "Nip" and value == ctx_nip:
                granted.update(OWNER_PERMISSIONS)
            if kind == "Pesel":
                for person in self.state.persons:
                    if person.pesel == value and person.nip == ctx_nip:
                        granted.update(OWNER_PERMISSIONS)
                        if person.is_bailiff:
                            granted.add("EnforcementOperations")
            if kind == "Nip" and value == ctx_nip:
                subject_rec = self.state.subjects.get(ctx_nip)
                if subject_rec and subject_rec.subject_type == "EnforcementAuthority":
                    granted.add("EnforcementOperations")
        if context_type == "Nip":
            for grant in self.state.grants:
                if (
                    grant.context_nip == context_value
                    and grant.identifier_type == kind
                    and grant.identifier_value.upper() == value.upper()
                ):
                    granted.update(grant.permissions)
        return sorted(granted, key=lambda p: v.TOKEN_PERMISSIONS.index(p) if p in v.TOKEN_PERMISSIONS else 99)

    def _is_deceased(self, subject: tuple[str, str] | None) -> bool:
        if subject is None or subject[0] != "Pesel":
            return False
        return any(p.pesel == subject[1] and p.is_deceased for p in self.state.persons)

    def _context_key(self, context_type: str, context_value: str) -> str:
        return f"{context_type}:{context_value}"

    # ------------------------------------------------------------------------------------------
    # /auth/challenge
    # ------------------------------------------------------------------------------------------
    @_locked
    def create_challenge(self, client_ip: str) -> dict[str, Any]:
        now = self.now()
        value = ids.reference_number(ids.CHALLENGE, now)
        self.state.challenges[value] = Challenge(value=value, issued_at=now, client_ip=client_ip)
        self._purge_challenges(now)
        return {
            "challenge": value,
            "timestamp": self.ts(now),
            "timestampMs": ids.timestamp_ms(now),
            "clientIp": client_ip,
        }

    def _purge_challenges(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.config.challenge_ttl_s * 2)
        for key in [k for k, c in self.state.challenges.items() if c.issued_at < horizon]:
            del self.state.challenges[key]

    def _take_challenge(self, value: str) -> Challenge:
        challenge = self.state.challenges.get(value)
        if challenge is None:
            raise KsefApiError(21111, [f"Wyzwanie {value} nie istnieje."])
        if challenge.used:
            raise KsefApiError(21111, [f"Wyzwanie {value} zostało już wykorzystane."])
        if self.now() > challenge.issued_at + timedelta(seconds=self.config.challenge_ttl_s):
            raise KsefApiError(21111, [f"Wyzwanie {value} wygasło."])
        challenge.used = True
        return challenge

    # ------------------------------------------------------------------------------------------
    # starting authentication
    # ------------------------------------------------------------------------------------------
    def _new_operation(
        self,
        *,
        client_ip: str,
        context: tuple[str, str],
        method: str,
        outcome: tuple[int, list[str]],
        subject: tuple[str, str] | None,
        permissions: list[str],
        allowed_ips: dict[str, list[str]] | None,
        **extra: Any,
    ) -> dict[str, Any]:
        now = self.now()
        category, code, display = METHODS[method]
        ref = ids.reference_number(ids.AUTH, now)
        valid_until = now + timedelta(seconds=self.config.authentication_token_ttl_s)
        op = AuthOperation(
            reference_number=ref,
            start_date=now,
            client_ip=client_ip,
            context_type=context[0],
            context_value=context[1],
            method=method,
            method_category=category,
            method_code=code,
            method_display=display,
            outcome_code=outcome[0],
            outcome_details=outcome[1],
            ready_at=now + timedelta(seconds=self.config.status_delay_s),
            authentication_token="",
            authentication_token_valid_until=valid_until,
            subject_type=subject[0] if subject else None,
            subject_value=subject[1] if subject else None,
            permissions=permissions if outcome[0] == 200 else [],
            allowed_ips=allowed_ips or None,
            **extra,
        )
        op.authentication_token = self._jwt("AuthenticationToken", op, valid_until)
        self.state.operations[ref] = op
        return {
            "referenceNumber": ref,
            "authenticationToken": {"token": op.authentication_token, "validUntil": self.ts(valid_until)},
        }

    def _access_outcome(
        self, context: tuple[str, str], subject: tuple[str, str] | None, permissions: list[str]
    ) -> tuple[int, list[str]]:
        if self._context_key(*context) in self.state.blocked_contexts:
            return 480, [BLOCKED]
        if self._is_deceased(subject):
            return 470, [DECEASED]
        if not permissions:
            return 415, [NO_PERMISSIONS]
        return 200, []

    @staticmethod
    def _allowed_ips_from_json(policy: Any) -> dict[str, list[str]] | None:
        if policy is None:
            return None
        policy = v.require_object(policy, "authorizationPolicy")
        allowed = policy.get("allowedIps")
        if allowed is None:
            return None
        allowed = v.require_object(allowed, "allowedIps")
        names = {"ip4Addresses": "Ip4Address", "ip4Ranges": "Ip4Range", "ip4Masks": "Ip4Mask"}
        result: dict[str, list[str]] = {}
        for key, name in names.items():
            values = allowed.get(key) or []
            if not isinstance(values, list) or len(values) > 10 or not all(isinstance(x, str) for x in values):
                raise v.invalid(f"Pole 'allowedIps.{key}' musi być listą (najwyżej 10 adresów).")
            if values:
                result[name] = values
        return result

    @_locked
    def init_token_auth(self, body: Any, client_ip: str) -> dict[str, Any]:
        """``POST /auth/ksef-token``: sync checks (21405, 21111, 21470), token checks as status 450."""
        body = v.require_object(body)
        challenge_value = v.string(body, "challenge", min_len=36, max_len=36)
        context = v.identifier(body, "contextIdentifier", v.CONTEXT_TYPES)
        encrypted = v.base64_bytes(body, "encryptedToken")
        key_id = v.string(body, "publicKeyId", required=False, min_len=44, max_len=44)
        allowed_ips = self._allowed_ips_from_json(body.get("authorizationPolicy"))
        assert challenge_value is not None and encrypted is not None
        challenge = self._take_challenge(challenge_value)

        token_key = self.pki.key_for_usage(pki.KSEF_TOKEN_ENCRYPTION)
        if key_id is not None:
            entry = self.pki.key_by_id(key_id)
            if entry is None or pki.KSEF_TOKEN_ENCRYPTION not in entry.usage:
                raise KsefApiError(21470, [f"Klucz o identyfikatorze {key_id} nie jest wspierany."])
            token_key = entry

        outcome, token = self._check_token(encrypted, token_key, challenge, context)
        subject = (token.author_type, token.author_value) if token else None
        permissions = list(token.permissions) if token else []
        if outcome is None:
            outcome = self._access_outcome(context, None, permissions)
        if outcome[0] == 200 and token is not None:
            token.last_use = self.now()
        return self._new_operation(
            client_ip=client_ip,
            context=context,
            method="Token",
            outcome=outcome,
            subject=subject,
            permissions=permissions,
            allowed_ips=allowed_ips,
            ksef_token_reference=token.reference_number if token else None,
        )

    def _check_token(
        self,
        encrypted: bytes,
        key: pki.PublicKeyEntry,
        challenge: Challenge,
        context: tuple[str, str],
    ) -> tuple[tuple[int, list[str]] | None, KsefToken | None]:
        try:
            plain = key.decrypt_oaep_sha256(encrypted)
        except ValueError:
            return (450, ["Nieprawidłowe szyfrowanie tokena."]), None
        try:
            token_text, stamp = plain.decode("utf-8").rsplit("|", 1)
            stamp_ms = int(stamp)
        except ValueError:
            return (450, ["Nieprawidłowe kodowanie tokena."]), None
        if stamp_ms != ids.timestamp_ms(challenge.issued_at):
            return (450, ["Nieprawidłowy czas tokena."]), None
        token = self.state.ksef_token_by_value(token_text)
        if token is None:
            return (450, ["Nieprawidłowy token."]), None
        status = token.status(self.now())
        if status == "Revoked":
            return (450, ["Token unieważniony."]), token
        if status != "Active":
            return (450, ["Token nieaktywny."]), token
        if (token.context_type, token.context_value) != context:
            return (450, [f"Token nie może być użyty w kontekście {context[1]}."]), token
        return None, token

    @_locked
    def init_xades_auth(self, xml: bytes, client_ip: str, verify_chain: bool = False) -> dict[str, Any]:
        """``POST /auth/xades-signature``: document and signature checks (400), certificate checks (460)."""
        from .xades import read_signed_request

        request = read_signed_request(xml, max_bytes=self.config.max_xml_bytes, now=self.now())
        cert = request.signing_certificate
        assert cert is not None
        self._take_challenge(request.challenge)
        context = (request.context_type, request.context_value)
        if context[0] == "Nip" and not v.nip_checksum_ok(context[1]):
            raise KsefApiError(21117, [f"NIP {context[1]} ma nieprawidłową sumę kontrolną."])
        if context[0] == "InternalId" and not v.internal_id_checksum_ok(context[1]):
            raise KsefApiError(21117, [f"Identyfikator wewnętrzny {context[1]} jest nieprawidłowy."])

        identity = read_identity(cert)
        issued_by_ksef = pki.is_directly_issued_by(cert, self.pki.ksef_ca.cert)
        issued_by_pz = pki.is_directly_issued_by(cert, self.pki.trusted_profile_ca.cert)
        fingerprint = pki.fingerprint_sha256(cert)
        if request.subject_identifier_type == "certificateSubject":
            if identity.kind == "none":
                raise KsefApiError(
                    21115,
                    ["Certyfikat nie zawiera identyfikatora NIP ani PESEL (użyj certificateFingerprint)."],
                )
            if identity.problems:
                raise KsefApiError(21115, list(identity.problems))
            subject = identity.subject_identifier
        else:
            subject = ("Fingerprint", fingerprint)

        if issued_by_ksef:
            method = "InternalCertificate"
        elif issued_by_pz:
            method = "TrustedProfile"
        elif identity.kind == "seal":
            method = "QualifiedSeal"
        else:
            method = "QualifiedSignature"

        permissions = self.permissions_for(subject, *context)
        outcome = self._certificate_outcome(cert, request.extra_certificates, verify_chain, issued_by_ksef)
        if outcome is None:
            outcome = self._access_outcome(context, subject, permissions)
        serial = pki.serial_hex(cert) if issued_by_ksef else None
        if outcome[0] == 200 and serial and serial in self.state.certificates:
            self.state.certificates[serial].last_use = self.now()
        return self._new_operation(
            client_ip=client_ip,
            context=context,
            method=method,
            outcome=outcome,
            subject=subject,
            permissions=permissions,
            allowed_ips=request.allowed_ips or None,
            certificate_serial=serial,
            certificate_fingerprint=fingerprint,
            enrollment_data=self._enrollment_data_from(identity, request.subject_identifier_type),
        )

    def _certificate_outcome(
        self,
        cert: x509.Certificate,
        extra: list[x509.Certificate],
        verify_chain: bool,
        issued_by_ksef: bool,
    ) -> tuple[int, list[str]] | None:
        now = self.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return 460, [CERT_INVALID]
        if issued_by_ksef:
            record = self.state.certificates.get(pki.serial_hex(cert))
            if record is None or record.certificate_type != "Authentication":
                return 460, [CERT_INCORRECT]
            if record.revoked:
                return 460, [CERT_REVOKED]
            return None
        if self.config.mode == "strict" or verify_chain:
            return self._chain_outcome(cert, extra, now)
        return None

    def _chain_outcome(
        self, cert: x509.Certificate, extra: list[x509.Certificate], now: datetime
    ) -> tuple[int, list[str]] | None:
        anchors = [self.pki.ksef_ca.cert, self.pki.trusted_profile_ca.cert, *self._trusted_extra]
        current = cert
        for _ in range(5):
            if any(pki.is_directly_issued_by(current, anchor) for anchor in anchors):
                return None
            parent = next(
                (c for c in extra if c is not current and pki.is_directly_issued_by(current, c)), None
            )
            if parent is None or parent is current:
                return 460, [CERT_UNTRUSTED]
            if not parent.not_valid_before_utc <= now <= parent.not_valid_after_utc:
                return 460, [CERT_CHAIN_ERROR]
            try:
                constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                return 460, [CERT_CHAIN_ERROR]
            if not constraints.ca:
                return 460, [CERT_CHAIN_ERROR]
            current = parent
        return 460, [CERT_CHAIN_ERROR]

    @staticmethod
    def _enrollment_data_from(identity: CertificateIdentity, subject_type: str) -> dict[str, str]:
        data: dict[str, str | None] = {
            "commonName": identity.common_name,
            "countryName": identity.country,
        }
        if identity.kind == "seal":
            data.update(
                organizationName=identity.organization_name,
                organizationIdentifier=identity.organization_identifier,
            )
        elif identity.kind == "personal" and subject_type == "certificateSubject":
            data.update(
                givenName=identity.given_name,
                surname=identity.surname,
                serialNumber=identity.serial_number,
                uniqueIdentifier=identity.unique_identifier,
            )
        return {k: val for k, val in data.items() if val}

    # ------------------------------------------------------------------------------------------
    # status, redeem, refresh
    # ------------------------------------------------------------------------------------------
    def _status_of(self, op: AuthOperation) -> tuple[int, list[str]]:
        if self.now() < op.ready_at:
            return 100, []
        if op.revoked:
            return 425, [REVOKED_BY_USER]
        return op.outcome_code, list(op.outcome_details)

    def _status_json(self, op: AuthOperation) -> dict[str, Any]:
        code, details = self._status_of(op)
        status: dict[str, Any] = {"code": code, "description": AUTH_STATUS[code]}
        if details:
            status["details"] = details
        return status

    def _method_info(self, op: AuthOperation) -> dict[str, str]:
        return {"category": op.method_category, "code": op.method_code, "displayName": op.method_display}

    def _operation_by_auth_token(self, bearer: str | None) -> AuthOperation:
        op = self.state.operation_by_auth_token(bearer) if bearer else None
        if op is None or self.now() > op.authentication_token_valid_until:
            raise ProblemError(401, "Brak lub nieprawidłowy token uwierzytelniania (authenticationToken).")
        return op

    @_locked
    def auth_status(self, reference_number: str, bearer: str | None) -> dict[str, Any]:
        caller_op = self._operation_by_auth_token(bearer)
        op = self.state.operations.get(reference_number)
        if op is None:
            raise KsefApiError(
                21304,
                [f"Operacja uwierzytelniania o numerze referencyjnym {reference_number} nie została znaleziona."],
            )
        if op is not caller_op:
            raise ProblemError(403, "Token nie dotyczy tej operacji uwierzytelniania.",
                               reason_code="insufficient-resource-access")
        if self.now() > op.start_date + timedelta(seconds=self.config.auth_status_retention_s):
            raise ProblemError(410, "Status operacji uwierzytelniania nie jest już dostępny.")
        body: dict[str, Any] = {
            "startDate": self.ts(op.start_date),
            "authenticationMethod": op.method,
            "authenticationMethodInfo": self._method_info(op),
            "status": self._status_json(op),
        }
        body.update(self._session_flags(op))
        return body

    def _session_flags(self, op: AuthOperation) -> dict[str, Any]:
        flags: dict[str, Any] = {}
        if op.redeemed:
            flags["isTokenRedeemed"] = True
        if op.last_token_refresh:
            flags["lastTokenRefreshDate"] = self.ts(op.last_token_refresh)
        if op.refresh_token_valid_until:
            flags["refreshTokenValidUntil"] = self.ts(op.refresh_token_valid_until)
        return flags

    def _ksef_token_revoked(self, op: AuthOperation) -> bool:
        if not op.ksef_token_reference:
            return False
        token = self.state.ksef_tokens.get(op.ksef_token_reference)
        return token is None or token.revoked

    def _issue_access_token(self, op: AuthOperation) -> dict[str, str]:
        valid_until = self.now() + timedelta(seconds=self.config.access_token_ttl_s)
        token = self._jwt("ContextToken", op, valid_until)
        self.state.access_tokens[token] = AccessToken(token, op.reference_number, valid_until)
        self._purge_access_tokens()
        return {"token": token, "validUntil": self.ts(valid_until)}

    def _purge_access_tokens(self) -> None:
        now = self.now()
        for key in [k for k, t in self.state.access_tokens.items() if t.valid_until < now]:
            del self.state.access_tokens[key]

    @_locked
    def redeem(self, bearer: str | None) -> dict[str, Any]:
        op = self._operation_by_auth_token(bearer)
        code, _ = self._status_of(op)
        if op.redeemed:
            raise KsefApiError(
                21301, [f"Tokeny dla operacji uwierzytelniania {op.reference_number} zostały już pobrane."]
            )
        if code == 470:
            raise KsefApiError(21308)
        if code != 200:
            raise KsefApiError(21301, [f"Status uwierzytelniania ({code}) nie pozwala na pobranie tokenów."])
        if self._ksef_token_revoked(op):
            raise KsefApiError(21301, ["Token KSeF został unieważniony."])
        op.redeemed = True
        refresh_until = self.now() + timedelta(seconds=self.config.refresh_token_ttl_s)
        op.refresh_token = self._jwt("RefreshToken", op, refresh_until)
        op.refresh_token_valid_until = refresh_until
        return {
            "accessToken": self._issue_access_token(op),
            "refreshToken": {"token": op.refresh_token, "validUntil": self.ts(refresh_until)},
        }

    def _operation_by_refresh_token(self, bearer: str | None) -> AuthOperation:
        op = self.state.operation_by_refresh_token(bearer) if bearer else None
        if op is None or op.refresh_token_valid_until is None or self.now() > op.refresh_token_valid_until:
            raise ProblemError(401, "Brak lub nieprawidłowy refresh token.")
        return op

    @_locked
    def refresh(self, bearer: str | None) -> dict[str, Any]:
        op = self._operation_by_refresh_token(bearer)
        code, _ = self._status_of(op)
        if code != 200:
            raise KsefApiError(
                21301, [f"Status uwierzytelniania ({code}) nie pozwala na odświeżenie tokenu dostępowego."]
            )
        if self._ksef_token_revoked(op):
            raise KsefApiError(21301, ["Token KSeF został unieważniony."])
        op.last_token_refresh = self.now()
        return {"accessToken": self._issue_access_token(op)}

    # ------------------------------------------------------------------------------------------
    # protected endpoints: who is calling
    # ------------------------------------------------------------------------------------------
    @_locked
    def authenticate(self, bearer: str | None, client_ip: str, *, allow_refresh: bool = False) -> Caller:
        """Resolve the bearer token of a protected endpoint (401/403 problem details)."""
        if not bearer:
            raise ProblemError(401, "Brak tokenu dostępowego w nagłówku Authorization.")
        op: AuthOperation | None = None
        access = self.state.access_tokens.get(bearer)
        if access is not None and self.now() <= access.valid_until:
            op = self.state.operations.get(access.reference_number)
        elif allow_refresh:
            candidate = self.state.operation_by_refresh_token(bearer)
            if (
                candidate is not None
                and candidate.refresh_token_valid_until is not None
                and self.now() <= candidate.refresh_token_valid_until
            ):
                op = candidate
        if op is None:
            raise ProblemError(401, "Token dostępowy jest nieprawidłowy lub wygasł.")
        if op.allowed_ips and not _ip_allowed(client_ip, op.allowed_ips):
            raise ProblemError(
                403,
                "Adres IP nie jest dozwolony przez politykę autoryzacji.",
                reason_code="ip-not-allowed",
                security={"clientIp": client_ip},
            )
        return Caller(op, client_ip)

    @_locked
    def context_key_for_bearer(self, bearer: str | None) -> str | None:
        """Context of any token (access, refresh or authentication) for per-context rate limits."""
        if not bearer:
            return None
        access = self.state.access_tokens.get(bearer)
        op = self.state.operations.get(access.reference_number) if access else None
        op = op or self.state.operation_by_refresh_token(bearer) or self.state.operation_by_auth_token(bearer)
        return self._context_key(op.context_type, op.context_value) if op else None

    # ------------------------------------------------------------------------------------------
    # /auth/sessions
    # ------------------------------------------------------------------------------------------
    @_locked
    def list_sessions(self, caller: Caller, page_size: int, continuation: str | None) -> dict[str, Any]:
        now = self.now()
        sessions = [
            op
            for op in self.state.operations.values()
            if (op.context_type, op.context_value) == caller.context
            and op.redeemed
            and not op.revoked
            and op.refresh_token_valid_until is not None
            and op.refresh_token_valid_until > now
        ]
        sessions.sort(key=lambda op: op.start_date, reverse=True)
        offset = _decode_continuation(continuation)
        page = sessions[offset : offset + page_size]
        items = []
        for op in page:
            item: dict[str, Any] = {
                "referenceNumber": op.reference_number,
                "isCurrent": op is caller.operation,
                "startDate": self.ts(op.start_date),
                "authenticationMethod": op.method,
                "authenticationMethodInfo": self._method_info(op),
                "status": self._status_json(op),
            }
            item.update(self._session_flags(op))
            items.append(item)
        body: dict[str, Any] = {"items": items}
        if offset + page_size < len(sessions):
            body["continuationToken"] = _encode_continuation(offset + page_size)
        return body

    @_locked
    def revoke_current_session(self, caller: Caller) -> None:
        caller.operation.revoked = True

    @_locked
    def revoke_session(self, caller: Caller, reference_number: str) -> None:
        op = self.state.operations.get(reference_number)
        if op is None or (op.context_type, op.context_value) != caller.context:
            raise KsefApiError(
                21304,
                [f"Operacja uwierzytelniania o numerze referencyjnym {reference_number} nie została znaleziona."],
            )
        op.revoked = True

    # ------------------------------------------------------------------------------------------
    # /security/public-key-certificates
    # ------------------------------------------------------------------------------------------
    def public_key_certificates(self) -> list[dict[str, Any]]:
        return [entry.to_api(self.ts) for entry in self.pki.public_keys]

    # ------------------------------------------------------------------------------------------
    # /tokens
    # ------------------------------------------------------------------------------------------
    def _token_json(self, token: KsefToken) -> dict[str, Any]:
        body: dict[str, Any] = {
            "referenceNumber": token.reference_number,
            "authorIdentifier": {"type": token.author_type, "value": token.author_value},
            "contextIdentifier": {"type": token.context_type, "value": token.context_value},
            "description": token.description,
            "requestedPermissions": list(token.permissions),
            "dateCreated": self.ts(token.created),
            "status": token.status(self.now()),
        }
        if token.last_use:
            body["lastUseDate"] = self.ts(token.last_use)
        return body

    def _create_token(
        self,
        *,
        context: tuple[str, str],
        author: tuple[str, str],
        permissions: list[str],
        description: str,
        activation_delay_s: float,
    ) -> tuple[str, KsefToken]:
        now = self.now()
        ref = ids.reference_number(ids.TOKEN, now)
        prefix = {"Nip": "nip", "InternalId": "internalId"}[context[0]]
        value = f"{ref}|{prefix}-{context[1]}|{secrets.token_hex(32)}"
        token = KsefToken(
            reference_number=ref,
            token=value,
            context_type=context[0],
            context_value=context[1],
            author_type=author[0],
            author_value=author[1],
            permissions=list(permissions),
            description=description,
            created=now,
            active_from=now + timedelta(seconds=activation_delay_s),
        )
        self.state.ksef_tokens[ref] = token
        return value, token

    @_locked
    def generate_token(self, caller: Caller, body: Any) -> dict[str, Any]:
        if caller.category != "XadesSignature" or caller.subject is None:
            raise ProblemError(
                403,
                "Generowanie tokena wymaga uwierzytelnienia podpisem XAdES.",
                reason_code="auth-method-not-allowed",
                security={"authenticationMethodCategory": caller.category},
            )
        body = v.require_object(body)
        permissions = body.get("permissions")
        if not isinstance(permissions, list) or not permissions:
            raise v.invalid("Pole 'permissions' musi być niepustą listą.")
        for perm in permissions:
            if perm not in v.TOKEN_PERMISSIONS:
                raise v.invalid(f"Nieznane uprawnienie '{perm}'.")
        description = v.string(body, "description", min_len=5, max_len=256)
        assert description is not None
        if caller.context[0] not in ("Nip", "InternalId"):
            raise KsefApiError(
                26002, [f"Typ kontekstu: {caller.context[0]}. Dozwolone typy kontekstu: Nip, InternalId."]
            )
        missing = [p for p in dict.fromkeys(permissions) if p not in caller.permissions]
        if missing:
            raise KsefApiError(26001, [f"Brakujące uprawnienia: {', '.join(missing)}."])
        value, token = self._create_token(
            context=caller.context,
            author=caller.subject,
            permissions=list(dict.fromkeys(permissions)),
            description=description,
            activation_delay_s=self.config.token_activation_delay_s,
        )
        return {"referenceNumber": token.reference_number, "token": value}

    def _visible_tokens(self, caller: Caller) -> list[KsefToken]:
        in_context = [
            t for t in self.state.ksef_tokens.values() if (t.context_type, t.context_value) == caller.context
        ]
        if {"CredentialsManage", "CredentialsRead"} & set(caller.permissions):
            return in_context
        if caller.category == "Token":
            return [t for t in in_context if t.reference_number == caller.operation.ksef_token_reference]
        return [t for t in in_context if (t.author_type, t.author_value) == caller.subject]

    @_locked
    def query_tokens(
        self,
        caller: Caller,
        *,
        statuses: list[str],
        description: str | None,
        author_identifier: str | None,
        author_identifier_type: str | None,
        page_size: int,
        continuation: str | None,
    ) -> dict[str, Any]:
        now = self.now()
        for status in statuses:
            if status not in ("Pending", "Active", "Revoking", "Revoked", "Failed"):
                raise v.invalid(f"Nieznany status tokena '{status}'.")
        if description is not None and len(description) < 3:
            raise v.invalid("Parametr 'description' musi mieć co najmniej 3 znaki.")
        if author_identifier is not None and len(author_identifier) < 3:
            raise v.invalid("Parametr 'authorIdentifier' musi mieć co najmniej 3 znaki.")
        if author_identifier_type is not None and author_identifier_type not in ("Nip", "Pesel", "Fingerprint"):
            raise v.invalid("Parametr 'authorIdentifierType' ma nieprawidłową wartość.")
        tokens = self._visible_tokens(caller)
        if statuses:
            tokens = [t for t in tokens if t.status(now) in statuses]
        if description:
            tokens = [t for t in tokens if description.lower() in t.description.lower()]
        if author_identifier:
            tokens = [t for t in tokens if author_identifier.upper() in t.author_value.upper()]
        if author_identifier_type:
            tokens = [t for t in tokens if t.author_type == author_identifier_type]
        tokens.sort(key=lambda t: t.created, reverse=True)
        offset = _decode_continuation(continuation)
        body: dict[str, Any] = {"tokens": [self._token_json(t) for t in tokens[offset : offset + page_size]]}
        if offset + page_size < len(tokens):
            body["continuationToken"] = _encode_continuation(offset + page_size)
        return body

    def _find_visible_token(self, caller: Caller, reference_number: str) -> KsefToken:
        token = next((t for t in self._visible_tokens(caller) if t.reference_number == reference_number), None)
        if token is None:
            raise v.invalid(f"Token o numerze referencyjnym {reference_number} nie został znaleziony.")
        return token

    @_locked
    def token_status(self, caller: Caller, reference_number: str) -> dict[str, Any]:
        return self._token_json(self._find_visible_token(caller, reference_number))

    @_locked
    def revoke_token(self, caller: Caller, reference_number: str) -> None:
        token = self._find_visible_token(caller, reference_number)
        if (
            "CredentialsManage" not in caller.permissions
            and caller.operation.ksef_token_reference != token.reference_number
            and (token.author_type, token.author_value) != caller.subject
        ):
            raise ProblemError(
                403,
                "Brak uprawnień do unieważnienia tokena.",
                reason_code="missing-permissions",
                security={"requiredAnyOfPermissions": ["CredentialsManage"], "presentPermissions": caller.permissions},
            )
        token.revoked = True

    # ------------------------------------------------------------------------------------------
    # /certificates
    # ------------------------------------------------------------------------------------------
    def _certificate_owner(self, caller: Caller, code: int | None = None) -> tuple[str, str]:
        if caller.category != "XadesSignature" or caller.subject is None or caller.operation.enrollment_data is None:
            if code is not None:
                raise KsefApiError(code)
            raise ProblemError(
                403,
                "Operacja niedostępna dla użytej metody uwierzytelnienia.",
                reason_code="auth-method-not-allowed",
                security={"authenticationMethodCategory": caller.category},
            )
        return caller.subject

    def _limits(self, owner: tuple[str, str]) -> tuple[int, int, int, int]:
        enroll_limit, cert_limit = self.config.certificate_limits.get(owner[0], (12, 6))
        enrollments = sum(
            1 for e in self.state.enrollments.values() if (e.subject_type, e.subject_value) == owner
        )
        active = sum(
            1
            for c in self.state.certificates.values()
            if (c.subject_type, c.subject_value) == owner and c.status(self.now()) == "Active"
        )
        return enroll_limit, enrollments, cert_limit, active

    @_locked
    def certificate_limits(self, caller: Caller) -> dict[str, Any]:
        if caller.category != "XadesSignature" or caller.subject is None:
            owner = None
        else:
            owner = caller.subject
        if owner is None:
            enroll_limit, cert_limit = self.config.certificate_limits["Nip"]
            return {
                "canRequest": False,
                "enrollment": {"remaining": 0, "limit": enroll_limit},
                "certificate": {"remaining": 0, "limit": cert_limit},
            }
        enroll_limit, enrollments, cert_limit, active = self._limits(owner)
        remaining_e, remaining_c = max(0, enroll_limit - enrollments), max(0, cert_limit - active)
        return {
            "canRequest": remaining_e > 0 and remaining_c > 0,
            "enrollment": {"remaining": remaining_e, "limit": enroll_limit},
            "certificate": {"remaining": remaining_c, "limit": cert_limit},
        }

    @_locked
    def enrollment_data(self, caller: Caller) -> dict[str, Any]:
        self._certificate_owner(caller, 25001)
        assert caller.operation.enrollment_data is not None
        return dict(caller.operation.enrollment_data)

    @_locked
    def enroll(self, caller: Caller, body: Any) -> dict[str, Any]:
        owner = self._certificate_owner(caller, 25002)
        body = v.require_object(body)
        name = v.string(body, "certificateName", min_len=5, max_len=100, pattern=v.CERT_NAME_RE)
        cert_type = v.string(body, "certificateType", choices=("Authentication", "Offline"))
        csr_der = v.base64_bytes(body, "csr")
        valid_from = v.date_time(body, "validFrom")
        assert name and cert_type and csr_der is not None
        csr = self._check_csr(csr_der, caller.operation.enrollment_data or {})
        enroll_limit, enrollments, cert_limit, active = self._limits(owner)
        if enrollments >= enroll_limit:
            raise KsefApiError(25006)
        if active >= cert_limit:
            raise KsefApiError(25007)

        now = self.now()
        ref = ids.reference_number(ids.ENROLLMENT, now)
        enrollment = Enrollment(
            reference_number=ref,
            request_date=now,
            ready_at=now + timedelta(seconds=self.config.enrollment_delay_s),
            subject_type=owner[0],
            subject_value=owner[1],
            certificate_serial=None,
        )
        public_key = csr.public_key()
        spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if self._key_certified_by_other(spki, owner):
            enrollment.rejection = KEY_ALREADY_CERTIFIED
        else:
            record = self._issue_from_public_key(
                subject=csr.subject,
                public_key=public_key,  # type: ignore[arg-type]
                owner=owner,
                name=name,
                cert_type=cert_type,
                valid_from=valid_from or now,
                enrollment_reference=ref,
            )
            enrollment.certificate_serial = record.serial
        self.state.enrollments[ref] = enrollment
        return {"referenceNumber": ref, "timestamp": self.ts(now)}

    def _check_csr(self, der: bytes, expected: dict[str, str]) -> x509.CertificateSigningRequest:
        try:
            csr = x509.load_der_x509_csr(der)
        except ValueError as exc:
            raise KsefApiError(25004, [str(exc)]) from exc
        try:
            hash_alg = csr.signature_hash_algorithm
        except Exception as exc:  # UnsupportedAlgorithm
            raise KsefApiError(25011, [str(exc)]) from exc
        if not isinstance(hash_alg, (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)):
            raise KsefApiError(25011, [f"Funkcja skrótu: {getattr(hash_alg, 'name', hash_alg)}."])
        try:
            valid_signature = csr.is_signature_valid
        except Exception as exc:
            raise KsefApiError(25004, [str(exc)]) from exc
        if not valid_signature:
            raise KsefApiError(25004, ["Podpis CSR jest nieprawidłowy."])
        key = csr.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size != 2048:
                raise KsefApiError(25010, [f"RSA {key.key_size} (wymagane 2048)."])
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise KsefApiError(25010, [f"Krzywa {key.curve.name} (wymagana secp256r1)."])
        else:
            raise KsefApiError(25010, [type(key).__name__])
        actual: dict[str, str] = {}
        oid_names = {oid: name for name, oid in DN_FIELDS.items()}
        for attribute in csr.subject:
            name = oid_names.get(attribute.oid, attribute.oid.dotted_string)
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode()
            if name in actual:
                raise KsefApiError(25003, [f"Atrybut {name} występuje więcej niż raz."])
            actual[name] = value
        if actual != expected:
            differences = sorted(set(actual.items()) ^ set(expected.items()))
            raise KsefApiError(25003, [f"Różnice: {differences}"])
        return csr

    def _key_certified_by_other(self, spki: bytes, owner: tuple[str, str]) -> bool:
        for record in self.state.certificates.values():
            if (record.subject_type, record.subject_value) == owner:
                continue
            cert = x509.load_der_x509_certificate(base64.b64decode(record.der_b64))
            other = cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if other == spki:
                return True
        return False

    def _issue_from_public_key(
        self,
        *,
        subject: x509.Name,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        owner: tuple[str, str],
        name: str,
        cert_type: str,
        valid_from: datetime,
        enrollment_reference: str,
    ) -> IssuedCertificate:
        serial = pki.ksef_serial()
        while f"{serial:016X}" in self.state.certificates:
            serial = pki.ksef_serial()
        cert = pki.issue_certificate(
            subject=subject,
            public_key=public_key,
            issuer_cert=self.pki.ksef_ca.cert,
            issuer_key=self.pki.ksef_ca.key,
            not_before=valid_from,
            not_after=_years_later(valid_from, 2),
            serial=serial,
            key_usage="signature" if cert_type == "Authentication" else "non_repudiation",
        )
        cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        record = IssuedCertificate(
            serial=f"{serial:016X}",
            name=name,
            certificate_type=cert_type,
            der_b64=pki.cert_der_b64(cert),
            subject_type=owner[0],
            subject_value=owner[1],
            common_name=str(cns[0].value) if cns else "",
            valid_from=cert.not_valid_before_utc,
            valid_to=cert.not_valid_after_utc,
            request_date=self.now(),
            enrollment_reference=enrollment_reference,
        )
        self.state.certificates[record.serial] = record
        return record

    def _certificate_visible(self, record: IssuedCertificate) -> bool:
        enrollment = self.state.enrollments.get(record.enrollment_reference)
        return enrollment is None or self.now() >= enrollment.ready_at

    @_locked
    def enrollment_status(self, caller: Caller, reference_number: str) -> dict[str, Any]:
        owner = self._certificate_owner(caller)
        enrollment = self.state.enrollments.get(reference_number)
        if enrollment is None or (enrollment.subject_type, enrollment.subject_value) != owner:
            raise KsefApiError(25005)
        if self.now() > enrollment.request_date + timedelta(seconds=self.config.enrollment_retention_s):
            raise ProblemError(410, "Status wniosku certyfikacyjnego nie jest już dostępny.")
        body: dict[str, Any] = {"requestDate": self.ts(enrollment.request_date)}
        if self.now() < enrollment.ready_at:
            body["status"] = {"code": 100, "description": ENROLLMENT_STATUS[100]}
        elif enrollment.rejection:
            body["status"] = {"code": 400, "description": ENROLLMENT_STATUS[400], "details": [enrollment.rejection]}
        else:
            body["status"] = {"code": 200, "description": ENROLLMENT_STATUS[200]}
            body["certificateSerialNumber"] = enrollment.certificate_serial
        return body

    def _owned_certificates(self, owner: tuple[str, str]) -> list[IssuedCertificate]:
        return [
            c
            for c in self.state.certificates.values()
            if (c.subject_type, c.subject_value) == owner and self._certificate_visible(c)
        ]

    @_locked
    def retrieve_certificates(self, caller: Caller, body: Any) -> dict[str, Any]:
        owner = self._certificate_owner(caller)
        body = v.require_object(body)
        serials = body.get("certificateSerialNumbers")
        if not isinstance(serials, list) or not 1 <= len(serials) <= 10:
            raise v.invalid("Pole 'certificateSerialNumbers' musi zawierać od 1 do 10 numerów.")
        for serial in serials:
            if not isinstance(serial, str) or not v.SERIAL_RE.match(serial):
                raise v.invalid(f"Nieprawidłowy numer seryjny '{serial}'.")
        owned = {c.serial: c for c in self._owned_certificates(owner)}
        return {
            "certificates": [
                {
                    "certificate": owned[s].der_b64,
                    "certificateName": owned[s].name,
                    "certificateSerialNumber": s,
                    "certificateType": owned[s].certificate_type,
                }
                for s in dict.fromkeys(serials)
                if s in owned
            ]
        }

    @_locked
    def query_certificates(self, caller: Caller, body: Any, page_size: int, page_offset: int) -> dict[str, Any]:
        owner = self._certificate_owner(caller)
        body = v.require_object(body or {})
        serial = v.string(body, "certificateSerialNumber", required=False, pattern=v.SERIAL_RE)
        name = v.string(body, "name", required=False)
        cert_type = v.string(body, "type", required=False, choices=("Authentication", "Offline"))
        status = v.string(body, "status", required=False, choices=("Active", "Blocked", "Revoked", "Expired"))
        expires_after = v.date_time(body, "expiresAfter")
        now = self.now()
        records = self._owned_certificates(owner)
        if serial:
            records = [r for r in records if r.serial == serial]
        if name:
            records = [r for r in records if name.lower() in r.name.lower()]
        if cert_type:
            records = [r for r in records if r.certificate_type == cert_type]
        if status:
            records = [r for r in records if r.status(now) == status]
        if expires_after:
            records = [r for r in records if r.valid_to > expires_after]
        records.sort(key=lambda r: r.request_date, reverse=True)
        start = page_offset * page_size
        page = records[start : start + page_size]
        items = []
        for r in page:
            item: dict[str, Any] = {
                "certificateSerialNumber": r.serial,
                "name": r.name,
                "type": r.certificate_type,
                "commonName": r.common_name,
                "status": r.status(now),
                "subjectIdentifier": {"type": r.subject_type, "value": r.subject_value},
                "validFrom": self.ts(r.valid_from),
                "validTo": self.ts(r.valid_to),
                "requestDate": self.ts(r.request_date),
            }
            if r.last_use:
                item["lastUseDate"] = self.ts(r.last_use)
            items.append(item)
        return {"certificates": items, "hasMore": start + page_size < len(records)}

    @_locked
    def revoke_certificate(self, caller: Caller, serial: str, body: Any) -> None:
        owner = self._certificate_owner(caller)
        if not v.SERIAL_RE.match(serial):
            raise v.invalid("Nieprawidłowy numer seryjny certyfikatu.")
        body = v.require_object(body or {})
        reason = v.string(body, "revocationReason", required=False,
                          choices=("Unspecified", "Superseded", "KeyCompromise"))
        record = self.state.certificates.get(serial)
        if record is None or (record.subject_type, record.subject_value) != owner:
            raise KsefApiError(25008)
        if record.status(self.now()) != "Active":
            raise KsefApiError(25009)
        record.revoked = True
        record.revocation_reason = reason or "Unspecified"

    # ------------------------------------------------------------------------------------------
    # rate limits
    # ------------------------------------------------------------------------------------------
    @_locked
    def effective_rate_limits(self, context_key: str | None) -> dict[str, dict[str, int]]:
        override = self.state.rate_limit_overrides.get(context_key or "")
        return {group: dict((override or PRODUCTION_LIMITS).get(group, values))
                for group, values in PRODUCTION_LIMITS.items()}

    def check_rate_limit(self, path: str, client_ip: str, bearer: str | None) -> Decision:
        if not self.rate_limits_enabled:
            return Decision(True)
        group = group_for(path)
        context = self.context_key_for_bearer(bearer)
        key = f"{context}|{client_ip}" if context else client_ip
        limits = FAST_LIMIT if group == "fast" else self.effective_rate_limits(context)[group]
        return self.limiter.hit(key, group, limits, self.now().timestamp())

    @_locked
    def set_rate_limits(self, caller: Caller, body: Any) -> None:
        body = v.require_object(body)
        limits = v.require_object(body.get("rateLimits"), "rateLimits")
        parsed: dict[str, dict[str, int]] = {}
        for group in PRODUCTION_LIMITS:
            values = v.require_object(limits.get(group), group)
            parsed[group] = {}
            for name in ("perSecond", "perMinute", "perHour"):
                value = values.get(name)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise v.invalid(f"Pole '{group}.{name}' musi być nieujemną liczbą całkowitą.")
                parsed[group][name] = value
        self.state.rate_limit_overrides[self._context_key(*caller.context)] = parsed

    @_locked
    def reset_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides.pop(self._context_key(*caller.context), None)

    @_locked
    def production_rate_limits(self, caller: Caller) -> None:
        self.state.rate_limit_overrides[self._context_key(*caller.context)] = {
            g: dict(values) for g, values in PRODUCTION_LIMITS.items()
        }

    # ------------------------------------------------------------------------------------------
    # /testdata
    # ------------------------------------------------------------------------------------------
    @_locked
    def testdata_person(self, body: Any) -> None:
        body = v.require_object(body)
        nip = v.string(body, "nip", pattern=v.NIP_RE)
        pesel = v.string(body, "pesel", pattern=v.PESEL_RE)
        is_bailiff = v.boolean(body, "isBailiff")
        description = v.string(body, "description")
        is_deceased = v.boolean(body, "isDeceased", required=False) or False
        assert nip and pesel and description is not None and is_bailiff is not None
        if any(p.nip == nip and p.pesel == pesel for p in self.state.persons):
            raise KsefApiError(30001)
        self.state.persons.append(Person(nip, pesel, is_bailiff, description, is_deceased))

    @_locked
    def testdata_person_remove(self, body: Any) -> None:
        nip = v.string(v.require_object(body), "nip", pattern=v.NIP_RE)
        removed = [p for p in self.state.persons if p.nip == nip]
        self.state.persons = [p for p in self.state.persons if p.nip != nip]
        pesels = {p.pesel for p in removed}
        self.state.grants = [
            g for g in self.state.grants if not (g.identifier_type == "Pesel" and g.identifier_value in pesels)
        ]

    @_locked
    def testdata_subject(self, body: Any) -> None:
        body = v.require_object(body)
        nip = v.string(body, "subjectNip", pattern=v.NIP_RE)
        kind = v.string(body, "subjectType", choices=("EnforcementAuthority", "VatGroup", "JST"))
        description = v.string(body, "description")
        subunits_raw = body.get("subunits") or []
        if not isinstance(subunits_raw, list):
            raise v.invalid("Pole 'subunits' musi być listą.")
        subunits = []
        for unit in subunits_raw:
            unit = v.require_object(unit, "subunits[]")
            unit_nip = v.string(unit, "subjectNip", pattern=v.NIP_RE)
            v.string(unit, "description")
            assert unit_nip
            subunits.append(unit_nip)
        assert nip and kind and description is not None
        if nip in self.state.subjects:
            raise KsefApiError(30001)
        self.state.subjects[nip] = Subject(nip, kind, description, subunits)

    @_locked
    def testdata_subject_remove(self, body: Any) -> None:
        nip = v.string(v.require_object(body), "subjectNip", pattern=v.NIP_RE)
        self.state.subjects.pop(nip or "", None)

    def _grant_target(self, body: dict[str, Any]) -> tuple[str, tuple[str, str]]:
        context = v.identifier(body, "contextIdentifier", ("Nip",))
        if not v.NIP_RE.match(context[1]):
            raise v.invalid("Pole 'contextIdentifier.value' musi być numerem NIP.")
        authorized = v.identifier(body, "authorizedIdentifier", ("Nip", "Pesel", "Fingerprint"))
        if not 10 <= len(authorized[1]) <= 64:
            raise v.invalid("Pole 'authorizedIdentifier.value' ma nieprawidłową długość.")
        return context[1], authorized

    @_locked
    def testdata_permissions(self, body: Any) -> None:
        body = v.require_object(body)
        context_nip, authorized = self._grant_target(body)
        permissions = body.get("permissions")
        if not isinstance(permissions, list):
            raise v.invalid("Pole 'permissions' musi być listą.")
        types, descriptions = [], []
        for item in permissions:
            item = v.require_object(item, "permissions[]")
            types.append(v.string(item, "permissionType", choices=v.TOKEN_PERMISSIONS))
            descriptions.append(v.string(item, "description"))
        self.state.grants.append(
            Grant(context_nip, authorized[0], authorized[1], [t for t in types if t], [d or "" for d in descriptions])
        )

    @_locked
    def testdata_permissions_revoke(self, body: Any) -> None:
        context_nip, authorized = self._grant_target(v.require_object(body))
        self.state.grants = [
            g
            for g in self.state.grants
            if not (
                g.context_nip == context_nip
                and g.identifier_type == authorized[0]
                and g.identifier_value.upper() == authorized[1].upper()
            )
        ]

    def _block_key(self, body: Any) -> str:
        body = v.require_object(body or {})
        context = v.identifier(body, "contextIdentifier", v.CONTEXT_TYPES)
        return self._context_key(*context)

    @_locked
    def testdata_block_context(self, body: Any) -> None:
        key = self._block_key(body)
        if key not in self.state.blocked_contexts:
            self.state.blocked_contexts.append(key)

    @_locked
    def testdata_unblock_context(self, body: Any) -> None:
        key = self._block_key(body)
        self.state.blocked_contexts = [k for k in self.state.blocked_contexts if k != key]

    # ------------------------------------------------------------------------------------------
    # seeding helpers (offline demo, tests)
    # ------------------------------------------------------------------------------------------
    @_locked
    def issue_ksef_token(
        self,
        context_nip: str,
        permissions: list[str] | tuple[str, ...] = ("InvoiceRead", "InvoiceWrite"),
        description: str = "Token wygenerowany przez symulator",
        *,
        context_type: str = "Nip",
        author_nip: str | None = None,
    ) -> str:
        """Create an already ``Active`` KSeF token bound to ``context_nip``; returns the secret token."""
        if not 5 <= len(description) <= 256:
            raise ValueError("description must have 5 to 256 characters (GenerateTokenRequest)")
        for perm in permissions:
            if perm not in v.TOKEN_PERMISSIONS:
                raise ValueError(f"unknown permission {perm!r}")
        value, _ = self._create_token(
            context=(context_type, context_nip),
            author=("Nip", author_nip or context_nip.split("-", 1)[0]),
            permissions=list(permissions),
            description=description,
            activation_delay_s=0.0,
        )
        self.save()
        return value

    @_locked
    def issue_ksef_certificate(
        self,
        *,
        nip: str | None = None,
        pesel: str | None = None,
        given_name: str | None = None,
        surname: str | None = None,
        common_name: str | None = None,
        organization_name: str | None = None,
        key: pki.KeyKind = "ec",
        certificate_type: str = "Authentication",
        name: str = "Certyfikat symulatora",
        valid_from: datetime | None = None,
    ) -> tuple[str, str]:
        """Issue a KSeF certificate from the simulator's KSeF CA; returns ``(cert_pem, key_pem)``.

        With ``given_name``/``surname`` a personal certificate (``TINPL-<nip>`` or ``PNOPL-<pesel>``),
        otherwise (``nip`` only) a company certificate with ``VATPL-<nip>``.
        """
        if (nip is None) == (pesel is None):
            raise ValueError("give exactly one of nip or pesel")
        private_key = pki.new_key(key)
        if given_name or surname or pesel:
            if not (given_name and surname):
                raise ValueError("personal certificates need given_name and surname")
            serial_number = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
            subject = personal_name(given_name, surname, serial_number, common_name)
            owner = ("Pesel", pesel) if pesel else ("Nip", nip)
        else:
            assert nip is not None
            subject = seal_name(organization_name or f"Firma {nip}", nip, common_name)
            owner = ("Nip", nip)
        record = self._issue_from_public_key(
            subject=subject,
            public_key=private_key.public_key(),
            owner=owner,  # type: ignore[arg-type]
            name=name,
            cert_type=certificate_type,
            valid_from=valid_from or (self.now() - timedelta(minutes=1)),
            enrollment_reference="",
        )
        cert = x509.load_der_x509_certificate(base64.b64decode(record.der_b64))
        self.save()
        return pki.cert_to_pem(cert), pki.key_to_pem(private_key)

    def trusted_profile_signer(
        self, pesel: str, given_name: str, surname: str
    ) -> pki.KeyAndCert:
        """The (cached) signing certificate of a person at the simulated Profil Zaufany service."""
        with self._lock:
            cached = self._trusted_profile_signers.get(pesel)
            if cached and cached.cert.not_valid_after_utc > self.now():
                return cached
            key = pki.new_key("ec")
            cert = pki.issue_certificate(
                subject=personal_name(given_name, surname, f"PNOPL-{pesel}", None),
                public_key=key.public_key(),
                issuer_cert=self.pki.trusted_profile_ca.cert,
                issuer_key=self.pki.trusted_profile_ca.key,
                not_before=self.now() - timedelta(minutes=5),
                not_after=self.now() + timedelta(days=1),
            )
            signer = pki.KeyAndCert(key, cert)
            self._trusted_profile_signers[pesel] = signer
            return signer

    def sign_as_trusted_profile(
        self, unsigned_xml: bytes, *, pesel: str, given_name: str, surname: str
    ) -> bytes:
        """Sign like gov.pl Profil Zaufany would (XAdES enveloped, ECDSA P-256); outside the app.

        Strict mode trusts the issuing CA, so the result authenticates as ``TrustedProfile``.
        """
        from .signing import sign_enveloped

        signer = self.trusted_profile_signer(pesel, given_name, surname)
        return sign_enveloped(unsigned_xml, signer.key, signer.cert)


def personal_name(given_name: str, surname: str, serial_number: str, common_name: str | None) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or f"{given_name} {surname}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def seal_name(organization_name: str, nip: str, common_name: str | None) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization_name),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or organization_name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def _ip_allowed(client_ip: str, allowed: dict[str, list[str]]) -> bool:
    import ipaddress

    try:
        ip = ipaddress.IPv4Address(client_ip)
    except ValueError:
        return False
    if client_ip in allowed.get("Ip4Address", []):
        return True
    for text in allowed.get("Ip4Range", []):
        low, _, high = text.partition("-")
        try:
            if ipaddress.IPv4Address(low) <= ip <= ipaddress.IPv4Address(high):
                return True
        except ValueError:
            continue
    for text in allowed.get("Ip4Mask", []):
        try:
            if ip in ipaddress.IPv4Network(text, strict=False):
                return True
        except ValueError:
            continue
    return False
