"""Key material of the simulator: the MF encryption keys, the KSeF CA, the Profil Zaufany CA.

Everything is real X.509/RSA/EC built with ``cryptography``; nothing is hard-coded.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyKind = Literal["rsa", "ec"]

KSEF_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ministerstwo Finansów"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Krajowa Administracja Skarbowa"),
        x509.NameAttribute(NameOID.COMMON_NAME, "TEST CCK KSeF"),
    ]
)
MF_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KSeF Simulator"),
        x509.NameAttribute(NameOID.COMMON_NAME, "KSeF Simulator Qualified CA"),
    ]
)
MF_SUBJECT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ministerstwo Finansów"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Ministerstwo Finansów"),
    ]
)
TRUSTED_PROFILE_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KSeF Simulator"),
        x509.NameAttribute(NameOID.COMMON_NAME, "KSeF Simulator Profil Zaufany CA"),
    ]
)

KSEF_TOKEN_ENCRYPTION = "KsefTokenEncryption"
SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"

_key_pool: dict[str, list[PrivateKey]] = {}
_key_pool_lock = threading.Lock()


def new_key(kind: KeyKind = "rsa", *, reuse_slot: int | None = None) -> PrivateKey:
    """Generate a key; with ``reuse_slot`` the key for that slot is generated once per process."""

    def generate() -> PrivateKey:
        if kind == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    if reuse_slot is None:
        return generate()
    with _key_pool_lock:
        pool = _key_pool.setdefault(kind, [])
        while len(pool) <= reuse_slot:
            pool.append(generate())
        return pool[reuse_slot]


def key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def key_from_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TypeError("unsupported key type")
    return key


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def cert_from_pem(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def cert_der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def certificate_id(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the certificate DER (``certificateId``)."""
    return base64.b64encode(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()).decode()


def public_key_id(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the SubjectPublicKeyInfo DER (``publicKeyId``, 44 chars)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Upper-case hex SHA-256 fingerprint of the DER (what KSeF calls the certificate fingerprint)."""
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def ksef_serial() -> int:
    """A positive 64-bit serial rendered as 16 upper-case hex digits."""
    while True:
        value = secrets.randbits(64)
        if value > 0:
            return value


def serial_hex(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:016X}"


def _signature_hash(key: PrivateKey) -> hashes.SHA256:
    return hashes.SHA256()


def build_ca(name: x509.Name, key: PrivateKey, now: datetime, years: int = 10) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(ksef_serial())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, _signature_hash(key))
    )


def issue_certificate(
    *,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
    key_usage: Literal["signature", "non_repudiation", "encipherment"] = "signature",
) -> x509.Certificate:
    usage = x509.KeyUsage(
        digital_signature=key_usage == "signature",
        content_commitment=key_usage == "non_repudiation",
        key_encipherment=key_usage == "encipherment",
        data_encipherment=key_usage == "encipherment",
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(serial if serial is not None else ksef_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if key_usage == "signature":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, _signature_hash(issuer_key))


def self_signed_certificate(
    subject: x509.Name, key: PrivateKey, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed end-entity certificate (what TEST accepts)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(ksef_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, _signature_hash(key))
    )


def is_directly_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):  # bad signature, key mismatch
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return is_directly_issued_by(cert, cert)


@dataclass
class KeyAndCert:
    key: PrivateKey
    cert: x509.Certificate

    def to_json(self) -> dict[str, str]:
        return {"key": key_to_pem(self.key), "cert": cert_to_pem(self.cert)}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> KeyAndCert:
        return cls(key=key_from_pem(data["key"]), cert=cert_from_pem(data["cert"]))


@dataclass
class PublicKeyEntry:
    """One entry of ``GET /security/public-key-certificates``."""

    material: KeyAndCert
    usage: list[str]

    @property
    def public_key_id(self) -> str:
        return public_key_id(self.material.cert)

    def to_api(self, timestamp: Callable[[datetime], str]) -> dict[str, object]:
        cert = self.material.cert
        return {
            "certificate": cert_der_b64(cert),
            "certificateId": certificate_id(cert),
            "publicKeyId": self.public_key_id,
            "validFrom": timestamp(cert.not_valid_before_utc),
            "validTo": timestamp(cert.not_valid_after_utc),
            "usage": list(self.usage),
        }

    def decrypt_oaep_sha256(self, ciphertext: bytes) -> bytes:
        key = self.material.key
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.decrypt(
            ciphertext,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )


@dataclass
class Pki:
    """All key material of one simulator instance."""

    mf_root: KeyAndCert
    public_keys: list[PublicKeyEntry]
    ksef_ca: KeyAndCert
    trusted_profile_ca: KeyAndCert

    @classmethod
    def create(cls, now: datetime, *, reuse_process_keys: bool = True) -> Pki:
        slot = (lambda n: n) if reuse_process_keys else (lambda n: None)
        mf_root_key = new_key("rsa", reuse_slot=slot(0))
        mf_root = KeyAndCert(mf_root_key, build_ca(MF_ROOT_NAME, mf_root_key, now))
        entries = []
        for index, usage in enumerate((KSEF_TOKEN_ENCRYPTION, SYMMETRIC_KEY_ENCRYPTION), start=1):
            key = new_key("rsa", reuse_slot=slot(index))
            cert = issue_certificate(
                subject=MF_SUBJECT_NAME,
                public_key=key.public_key(),
                issuer_cert=mf_root.cert,
                issuer_key=mf_root.key,
                not_before=now - timedelta(days=1),
                not_after=now + timedelta(days=2 * 365),
                key_usage="encipherment",
            )
            entries.append(PublicKeyEntry(KeyAndCert(key, cert), [usage]))
        ksef_key = new_key("rsa", reuse_slot=slot(3))
        ksef_ca = KeyAndCert(ksef_key, build_ca(KSEF_CA_NAME, ksef_key, now))
        pz_key = new_key("ec", reuse_slot=slot(0))
        trusted_profile_ca = KeyAndCert(pz_key, build_ca(TRUSTED_PROFILE_CA_NAME, pz_key, now))
        return cls(mf_root, entries, ksef_ca, trusted_profile_ca)

    def to_json(self) -> dict[str, object]:
        return {
            "mfRoot": self.mf_root.to_json(),
            "publicKeys": [{**e.material.to_json(), "usage": e.usage} for e in self.public_keys],
            "ksefCa": self.ksef_ca.to_json(),
            "trustedProfileCa": self.trusted_profile_ca.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Pki:  # type: ignore[type-arg]
        return cls(
            mf_root=KeyAndCert.from_json(data["mfRoot"]),
            public_keys=[
                PublicKeyEntry(KeyAndCert.from_json(e), list(e["usage"])) for e in data["publicKeys"]
            ],
            ksef_ca=KeyAndCert.from_json(data["ksefCa"]),
            trusted_profile_ca=KeyAndCert.from_json(data["trustedProfileCa"]),
        )

    def key_for_usage(self, usage: str) -> PublicKeyEntry:
        return next(e for e in self.public_keys if usage in e.usage)

    def key_by_id(self, key_id: str) -> PublicKeyEntry | None:
        return next((e for e in self.public_keys if e.public_key_id == key_id), None)
