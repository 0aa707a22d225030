"""XAdES-BES enveloped signature of an AuthTokenRequest.

Signing is done by ``ksef_client.services.xades.sign_xades_enveloped`` (lxml + xmlsec,
the official C# layout: exclusive C14N, SHA-256 digests, RSA PKCS#1 v1.5 ``rsa-sha256`` or
``ecdsa-sha256`` with a raw R||S SignatureValue, two references -- the document ``URI=""``
with the enveloped transform and ``#SignedProperties`` -- SigningTime and SigningCertificate
with a SHA-256 CertDigest). Here we validate against the XSD first and return bytes.
"""

from __future__ import annotations

from ksef_tui.ksef import authxml
from ksef_tui.ksef.certificates import Credential, check_usable


def sign_auth_request(xml: bytes, credential: Credential, *, check: bool = True) -> bytes:
    """Validate ``xml`` against its XSD, then sign it; returns the exact bytes to send."""
    from ksef_client.services.xades import sign_xades_enveloped

    if check:
        check_usable(credential.facts)
    authxml.validate(xml, ignore_signature=False)
    signed = sign_xades_enveloped(
        xml.decode("utf-8"),
        credential.certificate_pem.decode("ascii"),
        credential.private_key_pem.reveal().decode("ascii"),
    )
    return signed.encode("utf-8")
