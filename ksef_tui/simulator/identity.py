"""Who a certificate names: KSeF subject attribute rules (PROTOCOL.md §3.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

ORGANIZATION_IDENTIFIER = NameOID.ORGANIZATION_IDENTIFIER  # 2.5.4.97

_PESEL_SERIAL = re.compile(r"(PNOPL|PESEL).*?(\d{11})")
_NIP_SERIAL = re.compile(r"(TINPL|NIP).*?(\d{10})")
_VAT_ORG_ID = re.compile(r"(VATPL).*?(\d{10})")


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@dataclass(frozen=True)
class CertificateIdentity:
    """Identifiers KSeF reads from a certificate subject."""

    kind: Literal["seal", "personal", "none"]
    nip: str | None = None
    pesel: str | None = None
    common_name: str | None = None
    country: str | None = None
    given_name: str | None = None
    surname: str | None = None
    organization_name: str | None = None
    #: normalized ``VATPL-<NIP>`` for seals
    organization_identifier: str | None = None
    #: normalized ``TINPL-<NIP>`` / ``PNOPL-<PESEL>`` for personal certificates
    serial_number: str | None = None
    unique_identifier: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def subject_identifier(self) -> tuple[str, str] | None:
        """(``Nip``|``Pesel``, value) or ``None``."""
        if self.pesel:
            return ("Pesel", self.pesel)
        if self.nip:
            return ("Nip", self.nip)
        return None


def read_identity(cert: x509.Certificate) -> CertificateIdentity:
    subject = cert.subject
    given = _first(subject, NameOID.GIVEN_NAME)
    surname = _first(subject, NameOID.SURNAME)
    serial = _first(subject, NameOID.SERIAL_NUMBER)
    org = _first(subject, NameOID.ORGANIZATION_NAME)
    org_id = _first(subject, ORGANIZATION_IDENTIFIER)
    cn = _first(subject, NameOID.COMMON_NAME)
    country = _first(subject, NameOID.COUNTRY_NAME)
    unique = _first(subject, NameOID.X500_UNIQUE_IDENTIFIER)
    common = {"common_name": cn, "country": country, "unique_identifier": unique}
    problems: list[str] = []

    if org_id is not None:
        for label, value in (("organizationName", org), ("commonName", cn), ("countryName", country)):
            if not value:
                problems.append(f"Brak wymaganego atrybutu {label} w certyfikacie pieczęci.")
        if given or surname:
            problems.append("Certyfikat pieczęci nie może zawierać atrybutów givenName ani surname.")
        match = _VAT_ORG_ID.search(org_id)
        if not match:
            problems.append(
                f"Atrybut organizationIdentifier ({org_id}) nie jest zgodny ze wzorcem VATPL-<NIP>."
            )
        nip = match.group(2) if match else None
        return CertificateIdentity(
            kind="seal",
            nip=nip,
            organization_name=org,
            organization_identifier=f"VATPL-{nip}" if nip else org_id,
            problems=tuple(problems),
            **common,
        )

    if serial is not None or given is not None or surname is not None:
        for label, value in (
            ("givenName", given),
            ("surname", surname),
            ("serialNumber", serial),
            ("commonName", cn),
            ("countryName", country),
        ):
            if not value:
                problems.append(f"Brak wymaganego atrybutu {label} w certyfikacie osoby fizycznej.")
        pesel = nip = None
        normalized = serial
        if serial:
            if m := _PESEL_SERIAL.search(serial):
                pesel = m.group(2)
                normalized = f"PNOPL-{pesel}"
            elif m := _NIP_SERIAL.search(serial):
                nip = m.group(2)
                normalized = f"TINPL-{nip}"
            else:
                problems.append(
                    f"Atrybut serialNumber ({serial}) nie zawiera identyfikatora PNOPL-/PESEL ani TINPL-/NIP."
                )
        return CertificateIdentity(
            kind="personal",
            nip=nip,
            pesel=pesel,
            given_name=given,
            surname=surname,
            serial_number=normalized,
            problems=tuple(problems),
            **common,
        )

    return CertificateIdentity(
        kind="none", organization_name=org, common_name=cn, country=country, unique_identifier=unique
    )


def personal_name(given_name: str, surname: str, serial_number: str, common_name: str | None) -> x509.Name:
    """Subject of a personal certificate (``serialNumber`` ``TINPL-<nip>`` or ``PNOPL-<pesel>``)."""
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
    """Subject of a company seal (``organizationIdentifier`` ``VATPL-<nip>``)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization_name),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or organization_name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )
