"""PKCS#10 requests for KSeF certificates (PROTOCOL.md §6).

The subject copies the enrollment data exactly, in the order of the official C# client:
CN, surname, givenName, O, organizationIdentifier, C (PrintableString), serialNumber
(PrintableString), uniqueIdentifier; other values UTF8String. The SDK's
``services.csr`` uses another order and string types, so this is written here.
"""

from __future__ import annotations

from ksef_tui.domain.secret import Secret
from ksef_tui.ksef.models import CsrResult, EnrollmentData


def build_subject(data: EnrollmentData) -> object:
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    utf8 = _ASN1Type.UTF8String
    printable = _ASN1Type.PrintableString
    rows = [
        (NameOID.COMMON_NAME, data.common_name, utf8),
        (NameOID.SURNAME, data.surname, utf8),
        (NameOID.GIVEN_NAME, data.given_name, utf8),
        (NameOID.ORGANIZATION_NAME, data.organization_name, utf8),
        (ObjectIdentifier("2.5.4.97"), data.organization_identifier, utf8),
        (NameOID.COUNTRY_NAME, data.country_name, printable),
        (NameOID.SERIAL_NUMBER, data.serial_number, printable),
        (NameOID.X500_UNIQUE_IDENTIFIER, data.unique_identifier, utf8),
    ]
    return x509.Name([x509.NameAttribute(oid, value, _type=t) for oid, value, t in rows if value])


def build_csr(data: EnrollmentData, *, key: str = "ec") -> CsrResult:
    """A new key (EC P-256 by default, or RSA 2048) and a SHA-256 signed CSR in DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if key == "ec":
        private_key: object = ec.generate_private_key(ec.SECP256R1())
    elif key == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError("key must be 'ec' or 'rsa'")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(build_subject(data))  # type: ignore[arg-type]
        .sign(private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CsrResult(csr.public_bytes(serialization.Encoding.DER), Secret(key_pem), key)
