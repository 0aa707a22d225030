"""KSeF certificates: limits, enrollment, retrieval, query and revocation (``/certificates``, PROTOCOL.md §6)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from . import ids, pki
from . import validation as v
from .core import Area, Caller, SimulatorCore, locked
from .csr import check_csr
from .errors import KsefApiError, ProblemError
from .identity import personal_name, seal_name
from .limits import LimitsArea
from .state import Enrollment, IssuedCertificate

# Status texts of CertificateEnrollmentStatusResponse.
ENROLLMENT_STATUS = {
    100: "Wniosek przyjęty do realizacji",
    200: "Wniosek obsłużony (certyfikat wygenerowany)",
    400: "Wniosek odrzucony",
}
KEY_ALREADY_CERTIFIED = "Klucz publiczny został już certyfikowany przez inny podmiot."


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


class CertificatesArea(Area):
    """KSeF certificates of the caller's own identity, issued by the simulator's KSeF CA."""

    def __init__(self, core: SimulatorCore, limits: LimitsArea) -> None:
        super().__init__(core)
        self.limits = limits

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
        enroll_limit, cert_limit = self.limits.subject_limits(owner)
        enrollments = sum(
            1 for e in self.state.enrollments.values() if (e.subject_type, e.subject_value) == owner
        )
        active = sum(
            1
            for c in self.state.certificates.values()
            if (c.subject_type, c.subject_value) == owner and c.status(self.now()) == "Active"
        )
        return enroll_limit, enrollments, cert_limit, active

    @locked
    def certificate_limits(self, caller: Caller) -> dict[str, Any]:
        if caller.category != "XadesSignature" or caller.subject is None:
            enroll_limit, cert_limit = self.config.certificate_limits["Nip"]
            return {
                "canRequest": False,
                "enrollment": {"remaining": 0, "limit": enroll_limit},
                "certificate": {"remaining": 0, "limit": cert_limit},
            }
        enroll_limit, enrollments, cert_limit, active = self._limits(caller.subject)
        remaining_e, remaining_c = max(0, enroll_limit - enrollments), max(0, cert_limit - active)
        return {
            "canRequest": remaining_e > 0 and remaining_c > 0,
            "enrollment": {"remaining": remaining_e, "limit": enroll_limit},
            "certificate": {"remaining": remaining_c, "limit": cert_limit},
        }

    @locked
    def enrollment_data(self, caller: Caller) -> dict[str, Any]:
        self._certificate_owner(caller, 25001)
        assert caller.operation.enrollment_data is not None
        return dict(caller.operation.enrollment_data)

    @locked
    def enroll(self, caller: Caller, body: Any) -> dict[str, Any]:
        owner = self._certificate_owner(caller, 25002)
        body = v.require_object(body)
        name = v.string(body, "certificateName", min_len=5, max_len=100, pattern=v.CERT_NAME_RE)
        cert_type = v.string(body, "certificateType", choices=("Authentication", "Offline"))
        csr_der = v.base64_bytes(body, "csr")
        valid_from = v.date_time(body, "validFrom")
        assert name and cert_type and csr_der is not None
        csr = check_csr(csr_der, caller.operation.enrollment_data or {})
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
        ca = self.core.pki.ksef_ca
        cert = pki.issue_certificate(
            subject=subject,
            public_key=public_key,
            issuer_cert=ca.cert,
            issuer_key=ca.key,
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

    @locked
    def issue(
        self,
        *,
        nip: str | None,
        pesel: str | None,
        given_name: str | None,
        surname: str | None,
        common_name: str | None,
        organization_name: str | None,
        key: pki.KeyKind,
        certificate_type: str,
        name: str,
        valid_from: datetime | None,
    ) -> tuple[str, str]:
        """Issue a certificate outside the API (seeding); returns ``(cert_pem, key_pem)``."""
        if (nip is None) == (pesel is None):
            raise ValueError("give exactly one of nip or pesel")
        private_key = pki.new_key(key)
        owner: tuple[str, str]
        if given_name or surname or pesel:
            if not (given_name and surname):
                raise ValueError("personal certificates need given_name and surname")
            serial_number = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
            subject = personal_name(given_name, surname, serial_number, common_name)
            owner = ("Pesel", pesel) if pesel else ("Nip", nip)  # type: ignore[assignment]
        else:
            assert nip is not None
            subject = seal_name(organization_name or f"Firma {nip}", nip, common_name)
            owner = ("Nip", nip)
        record = self._issue_from_public_key(
            subject=subject,
            public_key=private_key.public_key(),
            owner=owner,
            name=name,
            cert_type=certificate_type,
            valid_from=valid_from or (self.now() - timedelta(minutes=1)),
            enrollment_reference="",
        )
        cert = x509.load_der_x509_certificate(base64.b64decode(record.der_b64))
        return pki.cert_to_pem(cert), pki.key_to_pem(private_key)

    def _certificate_visible(self, record: IssuedCertificate) -> bool:
        enrollment = self.state.enrollments.get(record.enrollment_reference)
        return enrollment is None or self.now() >= enrollment.ready_at

    @locked
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

    @locked
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

    @locked
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
        items = []
        for r in records[start : start + page_size]:
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

    @locked
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

    @locked
    def shorten_validity(self, caller: Caller, serial: str, body: Any) -> None:
        """``PUT /testdata/certificates/{serialNumber}``: end an own certificate's validity earlier (TEST)."""
        owner = self._certificate_owner(caller)
        if not v.SERIAL_RE.match(serial):
            raise v.invalid("Nieprawidłowy numer seryjny certyfikatu.")
        body = v.require_object(body)
        valid_to = v.date_time(body, "validTo")
        if valid_to is None:
            raise v.invalid("Pole 'validTo' jest wymagane.")
        record = self.state.certificates.get(serial)
        if record is None or (record.subject_type, record.subject_value) != owner:
            raise KsefApiError(25008)
        if valid_to > record.valid_to:
            raise v.invalid(f"Nowa data ważności nie może być późniejsza niż obecna ({self.ts(record.valid_to)}).")
        if valid_to < record.valid_from:
            raise v.invalid(f"Nowa data ważności nie może być wcześniejsza niż początek ważności "
                            f"({self.ts(record.valid_from)}).")
        record.valid_to = valid_to
