"""Checks of a certificate signing request (``POST /certificates/enrollments``, PROTOCOL.md §6)."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .errors import KsefApiError
from .identity import ORGANIZATION_IDENTIFIER

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


def check_csr(der: bytes, expected: dict[str, str]) -> x509.CertificateSigningRequest:
    """Parse a DER CSR and check signature, key and subject (25003, 25004, 25010, 25011)."""
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
    try:
        key = csr.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise KsefApiError(25010, [str(exc)]) from exc
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
    try:
        attributes = list(csr.subject)
    except ValueError as exc:
        raise KsefApiError(25004, [f"Nieczytelny podmiot CSR: {exc}"]) from exc
    for attribute in attributes:
        name = oid_names.get(attribute.oid, attribute.oid.dotted_string)
        raw = attribute.value
        value = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        if name in actual:
            raise KsefApiError(25003, [f"Atrybut {name} występuje więcej niż raz."])
        actual[name] = value
    if actual != expected:
        differences = sorted(set(actual.items()) ^ set(expected.items()))
        raise KsefApiError(25003, [f"Różnice: {differences}"])
    return csr
