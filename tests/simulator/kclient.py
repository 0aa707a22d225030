"""Minimal test-side KSeF client: builds requests itself (cryptography for OAEP, signxml for XAdES).

Deliberately independent from both the simulator and ``ksef_tui.ksef``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

NS20 = "http://ksef.mf.gov.pl/auth/token/2.0"
NS21 = "http://ksef.mf.gov.pl/auth/token/2.1"


def new_key(kind: str = "rsa") -> Any:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def subject(*, nip: str | None = None, pesel: str | None = None, person: bool = False,
            serial: str | None = None) -> x509.Name:
    if person or pesel:
        return x509.Name([
            x509.NameAttribute(NameOID.GIVEN_NAME, "Anna"),
            x509.NameAttribute(NameOID.SURNAME, "Nowak"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial or (f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}")),
            x509.NameAttribute(NameOID.COMMON_NAME, "Anna Nowak"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ])
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Testowa Sp. z o.o."),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, serial or f"VATPL-{nip}"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Testowa Sp. z o.o."),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
    ])


def self_signed(name: x509.Name, key: Any, *, not_before: datetime | None = None,
                not_after: datetime | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=61))
        .not_valid_after(not_after or now + timedelta(days=730))
        .sign(key, hashes.SHA256())
    )


def auth_xml(challenge: str, context_value: str, *, context_tag: str = "Nip",
             subject_type: str = "certificateSubject", namespace: str = NS20) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<AuthTokenRequest xmlns="{namespace}">\n'
        f"  <Challenge>{challenge}</Challenge>\n"
        f"  <ContextIdentifier><{context_tag}>{context_value}</{context_tag}></ContextIdentifier>\n"
        f"  <SubjectIdentifierType>{subject_type}</SubjectIdentifierType>\n</AuthTokenRequest>"
    ).encode()


def sign(xml: bytes, key: Any, cert: x509.Certificate) -> bytes:
    from signxml import DigestAlgorithm, SignatureMethod
    from signxml.xades import XAdESSigner

    method = SignatureMethod.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else SignatureMethod.RSA_SHA256
    root = etree.fromstring(xml)
    signed = XAdESSigner(signature_algorithm=method, digest_algorithm=DigestAlgorithm.SHA256).sign(
        root, key=key, cert=[cert]
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


_DN_OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "uniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


def csr_b64(data: dict[str, str], key: Any) -> str:
    """Base64 DER PKCS#10 with the DN of ``GET /certificates/enrollments/data`` (SHA-256)."""
    name = x509.Name([x509.NameAttribute(_DN_OIDS[k], v) for k, v in data.items() if v])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode()


def pem_pair(cert_pem: str, key_pem: str) -> tuple[x509.Certificate, Any]:
    return (
        x509.load_pem_x509_certificate(cert_pem.encode()),
        serialization.load_pem_private_key(key_pem.encode(), password=None),
    )


def encrypt_token(cert_b64: str, token: str, timestamp_ms: int) -> str:
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    ciphertext = public_key.encrypt(
        f"{token}|{timestamp_ms}".encode(),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return base64.b64encode(ciphertext).decode()


@dataclass
class Started:
    reference_number: str
    authentication_token: str


class Ksef:
    """Drives the auth flows over any httpx-compatible client whose base URL ends in /v2."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def challenge(self) -> dict[str, Any]:
        r = self.http.post("/auth/challenge")
        assert r.status_code == 200, r.text
        return r.json()

    def token_key(self) -> dict[str, Any]:
        r = self.http.get("/security/public-key-certificates")
        assert r.status_code == 200, r.text
        return next(c for c in r.json() if "KsefTokenEncryption" in c["usage"])

    def start_token(self, token: str, nip: str, *, context_type: str = "Nip", challenge: dict | None = None,
                    timestamp_ms: int | None = None, expect: int = 202) -> httpx.Response:
        ch = challenge or self.challenge()
        key = self.token_key()
        body = {
            "challenge": ch["challenge"],
            "contextIdentifier": {"type": context_type, "value": nip},
            "encryptedToken": encrypt_token(key["certificate"], token, timestamp_ms or ch["timestampMs"]),
            "publicKeyId": key["publicKeyId"],
        }
        r = self.http.post("/auth/ksef-token", json=body)
        assert r.status_code == expect, r.text
        return r

    def start_xades(self, signed: bytes, *, expect: int = 202, params: dict | None = None) -> httpx.Response:
        r = self.http.post("/auth/xades-signature", content=signed,
                           headers={"Content-Type": "application/xml"}, params=params)
        assert r.status_code == expect, r.text
        return r

    def status(self, started: httpx.Response) -> dict[str, Any]:
        body = started.json()
        r = self.http.get(f"/auth/{body['referenceNumber']}",
                          headers={"Authorization": f"Bearer {body['authenticationToken']['token']}"})
        assert r.status_code == 200, r.text
        return r.json()

    def redeem(self, started: httpx.Response) -> httpx.Response:
        token = started.json()["authenticationToken"]["token"]
        return self.http.post("/auth/token/redeem", headers={"Authorization": f"Bearer {token}"})

    def login_token(self, token: str, nip: str) -> dict[str, Any]:
        started = self.start_token(token, nip)
        assert self.status(started)["status"]["code"] == 200
        r = self.redeem(started)
        assert r.status_code == 200, r.text
        return r.json()

    def login_xades(self, key: Any, cert: x509.Certificate, nip: str, **kw: Any) -> dict[str, Any]:
        ch = self.challenge()
        started = self.start_xades(sign(auth_xml(ch["challenge"], nip, **kw), key, cert))
        status = self.status(started)
        assert status["status"]["code"] == 200, status
        r = self.redeem(started)
        assert r.status_code == 200, r.text
        return r.json()


def bearer(tokens: dict[str, Any], kind: str = "accessToken") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[kind]['token']}"}
