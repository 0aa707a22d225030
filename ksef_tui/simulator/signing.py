"""XAdES signing done *outside* the simulated KSeF: the Profil Zaufany stand-in and test helpers.

Uses signxml's ``XAdESSigner`` (3 references: document, SignedProperties, KeyInfo), a different
producer from ksef-client's xmlsec-based signer (2 references); the verifier accepts both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from . import pki


def sign_enveloped(
    unsigned_xml: bytes,
    key: pki.PrivateKey,
    cert: x509.Certificate,
    *,
    pss: bool = False,
) -> bytes:
    """Return ``unsigned_xml`` with an enveloped XAdES-BES signature appended to the root."""
    from signxml import DigestAlgorithm, SignatureMethod
    from signxml.xades import XAdESSigner

    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = SignatureMethod.ECDSA_SHA256
    elif isinstance(key, rsa.RSAPrivateKey):
        method = SignatureMethod.SHA256_RSA_MGF1 if pss else SignatureMethod.RSA_SHA256
    else:  # pragma: no cover
        raise TypeError(type(key))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(unsigned_xml, parser=parser)
    signer = XAdESSigner(signature_algorithm=method, digest_algorithm=DigestAlgorithm.SHA256)
    signed = signer.sign(root, key=key, cert=[cert])
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def self_signed_test_certificate(
    *,
    nip: str | None = None,
    pesel: str | None = None,
    given_name: str | None = None,
    surname: str | None = None,
    organization_name: str | None = None,
    key: pki.KeyKind = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[x509.Certificate, pki.PrivateKey]:
    """A self-signed certificate like KSeF TEST accepts (C# ``SelfSignedCertificateFor*Builder``).

    ``nip`` alone gives a seal (``VATPL-<nip>``); with ``given_name``/``surname`` a personal
    certificate (``TINPL-<nip>`` or ``PNOPL-<pesel>``). Validity: now - 61 min, 2 years.
    """
    from .identity import personal_name, seal_name

    now = datetime.now(UTC)
    private_key = pki.new_key(key)
    if pesel or given_name or surname:
        serial = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
        name = personal_name(given_name or "Jan", surname or "Kowalski", serial, None)
    else:
        if nip is None:
            raise ValueError("nip or pesel is required")
        name = seal_name(organization_name or f"Firma {nip}", nip, None)
    cert = pki.self_signed_certificate(
        name,
        private_key,
        not_before or now - timedelta(minutes=61),
        not_after or now + timedelta(days=730),
    )
    return cert, private_key
