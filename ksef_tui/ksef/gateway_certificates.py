"""The KSeF certificate calls of the gateway (``/certificates/*``): limits, enrollment data, enroll,
wait, retrieve, query and revoke, and the whole enrollment with a new key (PROTOCOL.md §6).

A part of :class:`~ksef_tui.ksef.gateway.KsefGateway` (a base class of it), kept apart so that
the gateway stays readable; it uses the gateway's HTTP client, polling and policy.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ksef_tui.domain.secret import Secret
from ksef_tui.i18n import N_, _
from ksef_tui.ksef.errors import KsefOperationFailed, KsefProtocolError
from ksef_tui.ksef.http import KsefHttp, Retry, json_body
from ksef_tui.ksef.models import (
    AuthSession,
    CertificateInfo,
    CertificateLimits,
    EnrollmentData,
    EnrollmentStatus,
    KsefCertificate,
    StatusInfo,
    parse_datetime,
)

if TYPE_CHECKING:
    from ksef_tui.ksef.gateway import GatewayPolicy


class CertificateCalls:
    _http: KsefHttp
    policy: GatewayPolicy

    async def _poll(self, fetch: Callable[[], Any], bound_s: float, what: str) -> tuple[int, Any]:
        raise NotImplementedError  # the gateway's

    async def certificate_limits(self, session: AuthSession) -> CertificateLimits:
        r = await self._http.call("GET", "/certificates/limits", bearer=session.access_token,
                                  operation=N_("the certificate limits request"), retry=Retry.IDEMPOTENT)
        b = json_body(r, N_("the certificate limits request"))
        enr, cert = b.get("enrollment") or {}, b.get("certificate") or {}
        return CertificateLimits(bool(b.get("canRequest")), int(enr.get("remaining", 0)), int(enr.get("limit", 0)),
                                 int(cert.get("remaining", 0)), int(cert.get("limit", 0)))

    async def enrollment_data(self, session: AuthSession) -> EnrollmentData:
        r = await self._http.call("GET", "/certificates/enrollments/data", bearer=session.access_token,
                                  operation=N_("the enrollment data request"), retry=Retry.IDEMPOTENT)
        b = json_body(r, N_("the enrollment data request"))
        try:
            return EnrollmentData(
                common_name=b["commonName"], country_name=b["countryName"], given_name=b.get("givenName"),
                surname=b.get("surname"), serial_number=b.get("serialNumber"),
                unique_identifier=b.get("uniqueIdentifier"), organization_name=b.get("organizationName"),
                organization_identifier=b.get("organizationIdentifier"),
            )
        except KeyError as exc:
            raise KsefProtocolError(_("KSeF sent incomplete enrollment data.")) from exc

    async def enroll_certificate(self, session: AuthSession, name: str, csr_der: bytes, *,
                                 certificate_type: str = "Authentication",
                                 valid_from: dt.datetime | None = None) -> str:
        body: dict[str, Any] = {"certificateName": name, "certificateType": certificate_type,
                                "csr": base64.b64encode(csr_der).decode("ascii")}
        if valid_from is not None:
            body["validFrom"] = valid_from.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        r = await self._http.call("POST", "/certificates/enrollments", bearer=session.access_token, json=body,
                                  expected=(202,), operation=N_("the certificate enrollment"),
                                  retry=Retry.RATE_LIMIT_ONLY)
        b = json_body(r, N_("the certificate enrollment"))
        try:
            return str(b["referenceNumber"])
        except KeyError as exc:
            raise KsefProtocolError(_("KSeF did not return the enrollment reference number.")) from exc

    async def enrollment_status(self, session: AuthSession, reference_number: str) -> EnrollmentStatus:
        r = await self._http.call("GET", f"/certificates/enrollments/{reference_number}",
                                  bearer=session.access_token, operation=N_("the enrollment status request"),
                                  retry=Retry.IDEMPOTENT)
        b = json_body(r, N_("the enrollment status request"))
        return EnrollmentStatus(reference_number, _status(b), b.get("certificateSerialNumber"))

    async def wait_enrollment(self, session: AuthSession, reference_number: str,
                              *, bound_s: float | None = None) -> str:
        """Poll the enrollment until issued; return the certificate serial number."""
        async def fetch() -> tuple[int, EnrollmentStatus]:
            st = await self.enrollment_status(session, reference_number)
            return st.status.code, st

        code, st = await self._poll(fetch, bound_s or self.policy.enrollment_bound_s, N_("the certificate enrollment"))
        if code >= 400 or not st.certificate_serial_number:
            detail = f": {_join(st.status.details)}" if st.status.details else ""
            raise KsefOperationFailed(
                _("KSeF rejected the certificate enrollment with status {code} ({description}){detail}.").format(
                    code=code, description=st.status.description, detail=detail),
                code=f"enrollment-{code}", description=st.status.description, details=st.status.details,
                reference_number=reference_number,
            )
        return st.certificate_serial_number

    async def retrieve_certificates(self, session: AuthSession, serial_numbers: list[str]) -> list[KsefCertificate]:
        r = await self._http.call("POST", "/certificates/retrieve", bearer=session.access_token,
                                  json={"certificateSerialNumbers": list(serial_numbers)},
                                  operation=N_("the certificate retrieval"), retry=Retry.RATE_LIMIT_ONLY)
        b = json_body(r, N_("the certificate retrieval"))
        return [KsefCertificate(c["certificateSerialNumber"], c.get("certificateName", ""),
                                c.get("certificateType", ""), base64.b64decode(c["certificate"]))
                for c in b.get("certificates") or []]

    async def query_certificates(self, session: AuthSession, *, serial_number: str | None = None,
                                 name: str | None = None, certificate_type: str | None = None,
                                 status: str | None = None, page_size: int = 50,
                                 page_offset: int = 0) -> tuple[list[CertificateInfo], bool]:
        body = {k: v for k, v in {"certificateSerialNumber": serial_number, "name": name,
                                  "type": certificate_type, "status": status}.items() if v}
        r = await self._http.call("POST", "/certificates/query", bearer=session.access_token, json=body,
                                  params={"pageSize": page_size, "pageOffset": page_offset},
                                  operation=N_("the certificate query"), retry=Retry.RATE_LIMIT_ONLY)
        b = json_body(r, N_("the certificate query"))
        out = []
        for c in b.get("certificates") or []:
            ident = c.get("subjectIdentifier") or {}
            out.append(CertificateInfo(
                serial_number=c.get("certificateSerialNumber", ""), name=c.get("name", ""), type=c.get("type", ""),
                common_name=c.get("commonName"), status=c.get("status", ""),
                subject_identifier=f"{ident.get('type')} {ident.get('value')}" if ident else None,
                valid_from=parse_datetime(c.get("validFrom")), valid_to=parse_datetime(c.get("validTo")),
            ))
        return out, bool(b.get("hasMore"))

    async def revoke_certificate(self, session: AuthSession, serial_number: str,
                                 reason: str | None = None) -> None:
        body = {"revocationReason": reason} if reason else {}
        await self._http.call("POST", f"/certificates/{serial_number}/revoke", bearer=session.access_token,
                              json=body, expected=(204,), operation=N_("the certificate revocation"),
                              retry=Retry.RATE_LIMIT_ONLY)

    async def request_certificate(self, session: AuthSession, name: str, *, key: str = "ec",
                                  certificate_type: str = "Authentication") -> tuple[KsefCertificate, Secret[bytes]]:
        """The whole enrollment: data, CSR with a new key, enroll, wait, retrieve."""
        from ksef_tui.ksef.csr import build_csr

        data = await self.enrollment_data(session)
        csr = await asyncio.to_thread(build_csr, data, key=key)  # a new key pair: not on the caller's loop
        ref = await self.enroll_certificate(session, name, csr.csr_der, certificate_type=certificate_type)
        serial = await self.wait_enrollment(session, ref)
        certs = await self.retrieve_certificates(session, [serial])
        if not certs:
            raise KsefProtocolError(_("KSeF did not return the issued certificate {serial}.").format(serial=serial))
        return certs[0], csr.private_key_pem



# ---------------------------------------------------------------------- helpers (the gateway's too)


def _join(details: tuple[str, ...]) -> str:
    return "; ".join(d.strip().rstrip(".") for d in details)


def _status(body: dict[str, Any]) -> StatusInfo:
    st = body.get("status") if isinstance(body, dict) else None
    if not isinstance(st, dict) or "code" not in st:
        raise KsefProtocolError(_("KSeF sent a status without a code."))
    return StatusInfo(int(st["code"]), str(st.get("description") or ""),
                      tuple(str(d) for d in st.get("details") or ()))
