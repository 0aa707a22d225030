"""Starting an authentication: ``/auth/challenge``, ``/auth/ksef-token``, ``/auth/xades-signature``.

Synchronous checks answer 400; everything KSeF decides later (bad token, certificate trust, no
permissions, blocked context) becomes the final status of the operation (PROTOCOL.md §3.2–§3.4).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from . import ids, pki
from . import validation as v
from .core import Area, SimulatorCore, context_key, locked
from .errors import KsefApiError
from .identity import CertificateIdentity, read_identity
from .permissions import PermissionsArea
from .state import AuthOperation, Challenge, KsefToken

NO_PERMISSIONS = "Brak przypisanych uprawnień"
BLOCKED = "Podejrzenie incydentu bezpieczeństwa. Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy."
DECEASED = "Próba wykorzystania metod autoryzacyjnych osoby zmarłej"
CERT_INVALID = "Nieważny certyfikat."
CERT_UNTRUSTED = "Niezaufany łańcuch certyfikatów."
CERT_CHAIN_ERROR = "Błąd weryfikacji łańcucha certyfikatów."
CERT_REVOKED = "Certyfikat odwołany."
CERT_INCORRECT = "Niepoprawny certyfikat."

#: (authenticationMethod, category, code, displayName)
METHODS: dict[str, tuple[str, str, str]] = {
    "Token": ("Token", "token", "Token KSeF"),
    "TrustedProfile": ("XadesSignature", "xades.trusted-profile", "Profil Zaufany"),
    "InternalCertificate": ("XadesSignature", "xades.internal-certificate", "Certyfikat KSeF"),
    "QualifiedSignature": ("XadesSignature", "xades.qualified-signature", "Podpis kwalifikowany"),
    "QualifiedSeal": ("XadesSignature", "xades.qualified-seal", "Pieczęć kwalifikowana"),
}

Outcome = tuple[int, list[str]]


class AuthArea(Area):
    """Challenges and the two ways to start an authentication operation."""

    def __init__(self, core: SimulatorCore, permissions: PermissionsArea) -> None:
        super().__init__(core)
        self.permissions = permissions

    # -- /auth/challenge -----------------------------------------------------------------------
    @locked
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

    # -- the operation -------------------------------------------------------------------------
    def _new_operation(
        self,
        *,
        client_ip: str,
        context: tuple[str, str],
        method: str,
        outcome: Outcome,
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
        op.authentication_token = self.core.jwt("AuthenticationToken", op, valid_until)
        self.state.operations[ref] = op
        return {
            "referenceNumber": ref,
            "authenticationToken": {"token": op.authentication_token, "validUntil": self.ts(valid_until)},
        }

    def _access_outcome(
        self, context: tuple[str, str], subject: tuple[str, str] | None, permissions: list[str]
    ) -> Outcome:
        if context_key(*context) in self.state.blocked_contexts:
            return 480, [BLOCKED]
        if self.permissions.is_deceased(subject):
            return 470, [DECEASED]
        if not permissions:
            return 415, [NO_PERMISSIONS]
        return 200, []

    # -- /auth/ksef-token ----------------------------------------------------------------------
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

    @locked
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

        token_key = self.core.pki.key_for_usage(pki.KSEF_TOKEN_ENCRYPTION)
        if key_id is not None:
            entry = self.core.pki.key_by_id(key_id)
            if entry is None or pki.KSEF_TOKEN_ENCRYPTION not in entry.usage:
                raise KsefApiError(21470, [f"Klucz o identyfikatorze {key_id} nie jest wspierany."])
            token_key = entry

        outcome, token = self._check_token(encrypted, token_key, challenge, context)
        subject = (token.author_type, token.author_value) if token else None
        # a token carries what it was made with, as far as its author still holds it (else 415)
        permissions = self.permissions.token_permissions(token) if token else []
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
    ) -> tuple[Outcome | None, KsefToken | None]:
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

    # -- /auth/xades-signature -----------------------------------------------------------------
    @locked
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

        try:
            identity = read_identity(cert)
        except ValueError as exc:  # a damaged subject (bad encoding, duplicate attributes)
            raise KsefApiError(21115, [f"Nieczytelny podmiot certyfikatu: {exc}"]) from exc
        issued_by_ksef = pki.is_directly_issued_by(cert, self.core.pki.ksef_ca.cert)
        issued_by_pz = pki.is_directly_issued_by(cert, self.core.pki.trusted_profile_ca.cert)
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

        permissions = self.permissions.permissions_for(subject, *context)
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
            enrollment_data=_enrollment_data_from(identity, request.subject_identifier_type),
        )

    def _certificate_outcome(
        self,
        cert: x509.Certificate,
        extra: list[x509.Certificate],
        verify_chain: bool,
        issued_by_ksef: bool,
    ) -> Outcome | None:
        now = self.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return 460, [CERT_INVALID]
        if issued_by_ksef:
            record = self.state.certificates.get(pki.serial_hex(cert))
            if record is None or record.certificate_type != "Authentication":
                return 460, [CERT_INCORRECT]
            if record.revoked:
                return 460, [CERT_REVOKED]
            if record.status(now) == "Expired":  # validity shortened by PUT /testdata/certificates
                return 460, [CERT_INVALID]
            return None
        if self.config.mode == "strict" or verify_chain:
            return self._chain_outcome(cert, extra, now)
        return None

    def _chain_outcome(self, cert: x509.Certificate, extra: list[x509.Certificate], now: datetime) -> Outcome | None:
        anchors = [self.core.pki.ksef_ca.cert, self.core.pki.trusted_profile_ca.cert, *self.core.trusted_extra]
        current = cert
        for _ in range(5):
            if any(pki.is_directly_issued_by(current, anchor) for anchor in anchors):
                return None
            parent = next((c for c in extra if c is not current and pki.is_directly_issued_by(current, c)), None)
            if parent is None or parent is current:
                return 460, [CERT_UNTRUSTED]
            if not parent.not_valid_before_utc <= now <= parent.not_valid_after_utc:
                return 460, [CERT_CHAIN_ERROR]
            try:
                constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints).value
            except (x509.ExtensionNotFound, ValueError):  # missing, or damaged extensions
                return 460, [CERT_CHAIN_ERROR]
            if not constraints.ca:
                return 460, [CERT_CHAIN_ERROR]
            current = parent
        return 460, [CERT_CHAIN_ERROR]


def _enrollment_data_from(identity: CertificateIdentity, subject_type: str) -> dict[str, str]:
    """DN attributes ``/certificates/enrollments/data`` hands back after this XAdES login."""
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

