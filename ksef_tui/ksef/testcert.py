"""Self-signed certificates for the KSeF TEST environment (PROTOCOL.md §11).

Personal: givenName, surname, serialNumber ``TINPL-<NIP>`` (or ``PNOPL-<PESEL>``), CN, C=PL.
Seal: O, organizationIdentifier ``VATPL-<NIP>``, CN, C=PL (no given name or surname).
NotBefore = now - 61 min, validity 2 years, RSA 2048 or EC P-256. Accepted on TEST only.
"""

from __future__ import annotations

import datetime as dt

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.secret import Secret


def make_test_certificate(
    *,
    nip: str | None = None,
    pesel: str | None = None,
    kind: str = "personal",
    key: str = "rsa",
    given_name: str = "Jan",
    surname: str = "Testowy",
    organization: str | None = None,
    now: dt.datetime | None = None,
    valid_days: int = 730,
) -> tuple[bytes, Secret[bytes]]:
    """Return ``(certificate_pem, private_key_pem)``; the key is PKCS#8 without encryption."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    if kind not in ("personal", "seal"):
        raise ValueError("kind must be 'personal' or 'seal'")
    if kind == "seal" and not nip:
        raise ValueError("a seal certificate needs a NIP")
    if kind == "personal" and not (nip or pesel):
        raise ValueError("a personal certificate needs a NIP or PESEL")
    if key == "rsa":
        private_key: object = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif key == "ec":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError("key must be 'rsa' or 'ec'")

    if kind == "seal":
        org = organization or f"Firma testowa {nip}"
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(ObjectIdentifier("2.5.4.97"), f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COMMON_NAME, org),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ])
    else:
        ident = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
        name = x509.Name([
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, ident),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {surname}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ])
    now = now or system_clock()
    pub = private_key.public_key()  # type: ignore[attr-defined]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=61))
        .not_valid_after(now - dt.timedelta(minutes=61) + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                          crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert_pem, Secret(key_pem)
