"""Certificate + private key loading (PEM, DER, PKCS#12) with facts and typed errors.

Everything here runs before any network call: a wrong password, a key that does not
belong to the certificate, or an expired / not yet valid certificate raise
:class:`CredentialError` with a code for the hint table.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.secret import Secret
from ksef_tui.i18n import N_, _
from ksef_tui.ksef.errors import CredentialError

MAX_FILE_BYTES = 1_000_000
_TIN = re.compile(r"(?:TINPL|NIP).*?(\d{10})")
_PESEL = re.compile(r"(?:PNOPL|PESEL).*?(\d{11})")
_VAT = re.compile(r"(?:VATPL).*?(\d{10})")
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)


@dataclass(frozen=True)
class CredentialFacts:
    subject: str
    issuer: str
    nip: str | None
    pesel: str | None
    identifier: str | None  # raw "TINPL-…", "PNOPL-…" or "VATPL-…" value
    is_seal: bool
    serial_number: str  # hex, upper case, zero-padded to 16 digits (KSeF's form)
    valid_from: dt.datetime
    valid_to: dt.datetime
    fingerprint_sha256: str  # hex, upper case
    key_type: str  # "RSA 2048", "EC P-256" ...
    key_matches: bool
    self_signed: bool
    #: the KSeF certificate type when KSeF issued it: "Authentication" or "Offline" (None: not a KSeF one)
    ksef_type: str | None = None

    def validity_problem(self, now: dt.datetime | None = None) -> str | None:
        now = now or system_clock()
        if now < self.valid_from:
            return "not-yet-valid"
        if now > self.valid_to:
            return "expired"
        return None


@dataclass(frozen=True)
class Credential:
    """A certificate with its private key (unencrypted PKCS#8 PEM, kept as a Secret)."""

    facts: CredentialFacts
    certificate_pem: bytes
    private_key_pem: Secret[bytes] = field(repr=False)

    @property
    def certificate_der(self) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        return x509.load_pem_x509_certificate(self.certificate_pem).public_bytes(serialization.Encoding.DER)


def _read(path: str | Path, what: str) -> bytes:
    """A regular file of at most MAX_FILE_BYTES (a FIFO, a device or a huge file is refused at once)."""
    from ksef_tui.files import FileRefused, read_limited

    try:
        return read_limited(path, limit=MAX_FILE_BYTES, what=f"{what} file")
    except FileRefused as exc:
        raise CredentialError(str(exc), code="bad-file") from None


def read_password(path: str | Path) -> Secret[str]:
    """A password file: its first line, without the line end."""
    data = _read(path, "password")
    text = data.decode("utf-8-sig", errors="strict").splitlines()
    return Secret(text[0] if text else "")


def load_credential(
    *,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
    pkcs12_file: str | Path | None = None,
    password: Secret[str] | None = None,
    cert_data: bytes | None = None,
    key_data: bytes | None = None,
    pkcs12_data: bytes | None = None,
    strict: bool = True,
    now: dt.datetime | None = None,
) -> Credential:
    """Load a certificate and key; with ``strict`` refuse mismatch, expiry and not-yet-valid."""
    if pkcs12_file is not None:
        pkcs12_data = _read(pkcs12_file, "PKCS#12")
    if cert_file is not None:
        cert_data = _read(cert_file, "certificate")
    if key_file is not None:
        key_data = _read(key_file, "key")

    if pkcs12_data is not None:
        cert, key = _load_pkcs12(pkcs12_data, password)
    elif cert_data is not None:
        cert = _load_certificate(cert_data)
        if key_data is None and b"PRIVATE KEY" in cert_data:
            key_data = cert_data  # one PEM file with both
        if key_data is None:
            raise CredentialError(_("A private key is needed with the certificate."), code="bad-file")
        key = _load_key(key_data, password)
    else:
        raise CredentialError(_("Give a certificate and key, or a PKCS#12 file."), code="bad-file")

    from cryptography.hazmat.primitives import serialization

    facts = _facts(cert, key)
    if strict:
        check_usable(facts, now)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Credential(facts, pem, Secret(key_pem))


def inspect_credential(**kwargs: Any) -> CredentialFacts:
    """Facts about a certificate (and key) without refusing mismatch or expiry."""
    return load_credential(strict=False, **kwargs).facts


#: what a KSeF Offline certificate is for; it can never log in (PROTOCOL.md §6)
OFFLINE_REFUSAL = N_("{subject} is a KSeF Offline certificate: it signs the second QR code of offline invoices and "
                      "cannot log in to KSeF. Use the Authentication certificate (or request one).")


def check_usable(facts: CredentialFacts, now: dt.datetime | None = None, *, for_login: bool = True) -> None:
    """The certificate can be used now: its key matches and it is valid; ``for_login``: it is not a
    KSeF Offline one either (those never log in)."""
    if for_login and facts.ksef_type == "Offline":
        raise CredentialError(_(OFFLINE_REFUSAL).format(subject=facts.subject), code="offline-certificate")
    if not facts.key_matches:
        raise CredentialError(_("The private key does not belong to the certificate {subject}.").format(
            subject=facts.subject), code="key-mismatch")
    problem = facts.validity_problem(now)
    if problem == "expired":
        raise CredentialError(_("The certificate {subject} expired on {when} UTC.").format(
            subject=facts.subject, when=f"{facts.valid_to:%Y-%m-%d %H:%M}"), code="expired")
    if problem == "not-yet-valid":
        raise CredentialError(_("The certificate {subject} is valid only from {when} UTC.").format(
            subject=facts.subject, when=f"{facts.valid_from:%Y-%m-%d %H:%M}"), code="not-yet-valid")
    if facts.key_type.startswith("RSA") and int(facts.key_type.split()[1]) < 2048:
        raise CredentialError(_("The RSA key has only {bits} bits.").format(bits=facts.key_type.split()[1]),
                              code="unsupported-key")


def _load_certificate(data: bytes) -> Any:
    from cryptography import x509

    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise CredentialError(_("The certificate file is not a PEM or DER X.509 certificate."), code="bad-file") from None


def _load_key(data: bytes, password: Secret[str] | None) -> Any:
    from cryptography.hazmat.primitives import serialization

    pwd = password.reveal().encode("utf-8") if password is not None and password.reveal() else None
    pem = b"-----BEGIN" in data
    if pem:
        block = _PEM_KEY.search(data)
        if block is None:
            raise CredentialError(_("The key file holds no PEM private key."), code="bad-file")
        data = block.group(0)
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        return loader(data, password=pwd)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            return loader(data, password=None)
        raise CredentialError(_("The private key is encrypted; a password is needed."), code="password-needed") from None
    except ValueError:
        encrypted = b"ENCRYPTED" in data or (not pem and pwd is not None)
        if encrypted and pwd is not None:
            raise CredentialError(_("The password does not open the private key."), code="wrong-password") from None
        raise CredentialError(_("The key file is not a PEM or DER private key."), code="bad-file") from None
    except Exception:  # unsupported algorithm and the like
        raise CredentialError(_("The key file is not a supported private key."), code="bad-file") from None


def _load_pkcs12(data: bytes, password: Secret[str] | None) -> tuple[Any, Any]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    pwd = password.reveal().encode("utf-8") if password is not None else None
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(data, pwd)
    except ValueError:
        # Distinguish a wrong password from a damaged file: a damaged file also fails unprotected.
        if not data[:1] == b"\x30":
            raise CredentialError(_("The file is not a PKCS#12 (.p12/.pfx) file."), code="bad-file") from None
        if pwd:
            raise CredentialError(_("The password does not open the PKCS#12 file."), code="wrong-password") from None
        raise CredentialError(_("The PKCS#12 file needs a password."), code="password-needed") from None
    except Exception:
        raise CredentialError(_("The PKCS#12 file cannot be read."), code="bad-file") from None
    if key is None or cert is None:
        raise CredentialError(_("The PKCS#12 file must hold both a certificate and its private key."), code="bad-file")
    return cert, key


def _facts(cert: Any, key: Any) -> CredentialFacts:
    """The certificate's facts; a subject or issuer that cannot be read (damaged, or a name encoding
    the library refuses) is a :class:`CredentialError` in the user's terms, never a crash."""
    try:
        return _read_facts(cert, key)
    except CredentialError:
        raise
    except (ValueError, UnicodeError, TypeError) as exc:
        where = "issuer" if "issuer" in str(exc) else "subject"
        raise CredentialError(_(
            "The certificate's {part} (the name of its holder or issuer) is damaged and cannot be read; ask "
            "for a new certificate.").format(part=_("issuer") if where == "issuer" else _("subject")),
            code="bad-subject") from None


def _read_facts(cert: Any, key: Any) -> CredentialFacts:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    from ksef_tui.domain.untrusted import visible

    def attr(oid: Any) -> str | None:
        values = cert.subject.get_attributes_for_oid(oid)
        return visible(str(values[0].value)) if values else None

    serial_attr = attr(NameOID.SERIAL_NUMBER)
    org_id = attr(ObjectIdentifier("2.5.4.97"))
    nip = pesel = identifier = None
    is_seal = False
    if org_id and (m := _VAT.search(org_id)):
        nip, identifier, is_seal = m.group(1), org_id, True
    if serial_attr:
        if (m := _TIN.search(serial_attr)) and nip is None:
            nip, identifier = m.group(1), serial_attr
        elif m := _PESEL.search(serial_attr):
            pesel, identifier = m.group(1), serial_attr

    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        key_type = f"RSA {pub.key_size}"
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        key_type = f"EC {names.get(pub.curve.name, pub.curve.name)}"
    else:
        raise CredentialError(_("Only RSA and EC certificates can sign for KSeF."), code="unsupported-key")

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    matches = key.public_key().public_bytes(der, spki) == pub.public_bytes(der, spki)
    return CredentialFacts(  # names as the certificate's maker wrote them: control characters made visible
        subject=visible(cert.subject.rfc4514_string()),
        issuer=visible(cert.issuer.rfc4514_string()),
        nip=nip,
        pesel=pesel,
        identifier=identifier,
        is_seal=is_seal,
        serial_number=format(cert.serial_number, "016X"),  # as KSeF writes it: 16 hex digits at least
        valid_from=cert.not_valid_before_utc,
        valid_to=cert.not_valid_after_utc,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
        key_type=key_type,
        key_matches=matches,
        self_signed=cert.subject == cert.issuer,
        ksef_type=ksef_type(cert),
    )


def ksef_type(cert: Any) -> str | None:
    """"Offline" or "Authentication" for a certificate KSeF issued, else None.

    KSeF's CA ("TEST CCK KSeF" on TEST, "CCK KSeF" elsewhere) issues Authentication certificates with
    the keyUsage Digital Signature and Offline ones with Non-Repudiation only (PROTOCOL.md §6). A
    qualified certificate has Non-Repudiation too, but is not issued by KSeF, so it stays None."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    issuer_names = [str(a.value) for a in cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not any("KSeF" in n for n in issuer_names):
        return None
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if usage.content_commitment and not usage.digital_signature:
        return "Offline"
    return "Authentication" if usage.digital_signature else None
