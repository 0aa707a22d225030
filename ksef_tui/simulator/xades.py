"""Reading and verifying a signed ``AuthTokenRequest`` (``POST /auth/xades-signature``).

Safe parsing (size cap, no DTD, no entities, no network), XSD validation against the official
schemas, and XAdES verification with signxml. Producers differ in layout (ksef-client and the
official C# client write 2 references, signxml's XAdESSigner writes 3; PROTOCOL.md §16), so the
number of references is taken from the document while the enveloped whole-document reference and
a signed ``SignedProperties`` with a matching ``SigningCertificate`` digest stay mandatory.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from .errors import KsefApiError

AUTH_NS = ("http://ksef.mf.gov.pl/auth/token/2.0", "http://ksef.mf.gov.pl/auth/token/2.1")
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11_NS = "http://www.w3.org/2009/xmldsig11#"
XADES_NS = ("http://uri.etsi.org/01903/v1.3.2#", "http://uri.etsi.org/01903/v1.4.1#")
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XPATH_TRANSFORM = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
_C14N = (
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
)

_SCHEMA_FILES = {AUTH_NS[0]: "schemat_auth_v2-0.xsd", AUTH_NS[1]: "schemat_auth_v2-1.xsd"}
_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)

UNSUPPORTED_ALGORITHM = "Podpis złożony z użyciem niewspieranego algorytmu kryptograficznego."
NEGATIVE = "Podpis zweryfikowany negatywnie."
PROFILE = "Format podpisu niezgodny z akceptowanymi profilami XAdES."

_ALLOWED_SIGNATURE_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
    "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1",
    "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
_ALLOWED_DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
}


@dataclass
class AuthTokenRequest:
    """The verified content of a signed AuthTokenRequest."""

    namespace: str
    challenge: str
    context_type: str
    context_value: str
    subject_identifier_type: str
    allowed_ips: dict[str, list[str]] = field(default_factory=dict)
    signing_certificate: x509.Certificate | None = None
    extra_certificates: list[x509.Certificate] = field(default_factory=list)


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def safe_parse(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse untrusted XML: reject oversize input, DTDs and entity declarations before parsing."""
    if len(data) > max_bytes:
        raise KsefApiError(21001, [f"Dokument przekracza dopuszczalny rozmiar {max_bytes} bajtów."])
    if not data.strip():
        raise KsefApiError(21001, ["Pusta treść żądania."])
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KsefApiError(21217, [f"Treść nie jest poprawnym UTF-8: {exc.reason}."]) from exc
    if _DTD_MARKERS.search(data):
        raise KsefApiError(21001, ["Deklaracje DTD i encje nie są dozwolone."])
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise KsefApiError(21001, [str(exc)]) from exc
    if root.getroottree().docinfo.doctype:
        raise KsefApiError(21001, ["Deklaracje DTD i encje nie są dozwolone."])
    return root


@cache
def auth_schema(namespace: str) -> etree.XMLSchema:
    """The official AuthTokenRequest XSD for a namespace (copies in ``simulator/schemas``)."""
    text = resources.files(__package__).joinpath("schemas", _SCHEMA_FILES[namespace]).read_bytes()
    return etree.XMLSchema(etree.fromstring(text))


def validate_unsigned(root: etree._Element) -> None:
    """Validate an AuthTokenRequest (its ds:Signature removed) against the XSD (21401)."""
    namespace = etree.QName(root).namespace
    schema = auth_schema(namespace)  # type: ignore[arg-type]
    if not schema.validate(root):
        raise KsefApiError(21401, [str(err.message) for err in schema.error_log][:5])


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _read_fields(root: etree._Element) -> AuthTokenRequest:
    ns = etree.QName(root).namespace or ""

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}"

    context = root.find(q("ContextIdentifier"))
    assert context is not None and len(context)
    ctx_el = context[0]
    allowed: dict[str, list[str]] = {}
    policy = root.find(f"{q('AuthorizationPolicy')}/{q('AllowedIps')}")
    if policy is not None:
        for child in policy:
            allowed.setdefault(etree.QName(child).localname, []).append(_text(child))
    return AuthTokenRequest(
        namespace=ns,
        challenge=_text(root.find(q("Challenge"))),
        context_type=etree.QName(ctx_el).localname,
        context_value=_text(ctx_el),
        subject_identifier_type=_text(root.find(q("SubjectIdentifierType"))),
        allowed_ips=allowed,
    )


def _load_certificates(signature: etree._Element) -> list[x509.Certificate]:
    certs = []
    for node in signature.iterfind(f"{_ds('KeyInfo')}/{_ds('X509Data')}/{_ds('X509Certificate')}"):
        b64 = re.sub(r"\s+", "", node.text or "")
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(b64, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise KsefApiError(21115, [f"Nie można odczytać certyfikatu z KeyInfo: {exc}"]) from exc
    return certs


def _check_algorithms(signature: etree._Element, cert: x509.Certificate) -> None:
    method = signature.find(f"{_ds('SignedInfo')}/{_ds('SignatureMethod')}")
    algorithm = method.get("Algorithm") if method is not None else None
    if algorithm not in _ALLOWED_SIGNATURE_METHODS:
        raise KsefApiError(9105, [UNSUPPORTED_ALGORITHM, f"SignatureMethod: {algorithm}"])
    for digest in signature.iter(_ds("DigestMethod")):
        if digest.get("Algorithm") not in _ALLOWED_DIGESTS:
            raise KsefApiError(9105, [UNSUPPORTED_ALGORITHM, f"DigestMethod: {digest.get('Algorithm')}"])
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise KsefApiError(21115, [f"Nieobsługiwany klucz publiczny certyfikatu: {exc}"]) from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048 or "ecdsa" in algorithm:
            raise KsefApiError(9105, [UNSUPPORTED_ALGORITHM, f"RSA {key.key_size} / {algorithm}"])
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256 or "ecdsa" not in algorithm:
            raise KsefApiError(9105, [UNSUPPORTED_ALGORITHM, f"EC {key.curve.name} / {algorithm}"])
    else:
        raise KsefApiError(9105, [UNSUPPORTED_ALGORITHM, type(key).__name__])


WRAPPING = "Dokument musi być podpisany w całości jako jeden AuthTokenRequest (element główny)."
_DOCUMENT_TRANSFORMS = {ENVELOPED, XPATH_TRANSFORM, XPATH_FILTER2, *_C14N}


@dataclass
class _References:
    count: int
    #: index (in SignedInfo) of the one reference that covers the whole document
    document: int


def _by_id(root: etree._Element, target_id: str) -> list[etree._Element]:
    return [
        el for el in root.iter()
        if isinstance(el.tag, str) and target_id in (el.get("Id"), el.get("ID"), el.get("id"))
    ]


def _check_single_document(root: etree._Element) -> None:
    """No second AuthTokenRequest anywhere (e.g. in ds:Object): only the root may be the document."""
    others = [
        el for el in root.iter()
        if el is not root and isinstance(el.tag, str) and etree.QName(el).localname == "AuthTokenRequest"
    ]
    if others:
        where = etree.QName(others[0].getparent()).localname if others[0].getparent() is not None else "-"
        raise KsefApiError(9105, [WRAPPING, f"Plik zawiera drugi element AuthTokenRequest (wewnątrz {where})."])


def _check_references(root: etree._Element, signature: etree._Element) -> _References:
    """Exactly one reference covers the whole document (URI="" or the root's Id, enveloped), one
    covers SignedProperties, and every other one points inside ds:Signature (e.g. KeyInfo)."""
    references = signature.findall(f"{_ds('SignedInfo')}/{_ds('Reference')}")
    documents: list[int] = []
    has_properties = False
    for index, ref in enumerate(references):
        uri = ref.get("URI")
        transforms = [t.get("Algorithm") for t in ref.iterfind(f"{_ds('Transforms')}/{_ds('Transform')}")]
        if uri is None or not (uri == "" or uri.startswith("#")):
            raise KsefApiError(9105, ["Podpis zewnętrzny (detached) nie jest akceptowany.", f"URI={uri}"])
        if uri == "":
            target = root
        else:
            targets = _by_id(root, uri[1:])
            if len(targets) != 1:
                problem = "nie wskazuje żadnego elementu" if not targets else "wskazuje więcej niż jeden element"
                raise KsefApiError(9105, [PROFILE, f"Referencja {uri} {problem}."])
            target = targets[0]
        if target is root:
            if ENVELOPED not in transforms and XPATH_TRANSFORM not in transforms and XPATH_FILTER2 not in transforms:
                raise KsefApiError(9105, [PROFILE, "Referencja do dokumentu bez transformacji enveloped."])
            unknown = [t for t in transforms if t not in _DOCUMENT_TRANSFORMS]
            if unknown:
                raise KsefApiError(9105, [PROFILE, f"Niedozwolona transformacja referencji do dokumentu: {unknown[0]}."])
            documents.append(index)
            continue
        if signature not in target.iterancestors() and target is not signature:
            raise KsefApiError(9105, [WRAPPING, f"Referencja {uri} wskazuje element dokumentu, a nie cały dokument."])
        qname = etree.QName(target)
        if qname.localname == "SignedProperties" and qname.namespace in XADES_NS:
            has_properties = True
        elif ref.get("Type") == SIGNED_PROPERTIES_TYPE:
            raise KsefApiError(9105, [PROFILE, f"Referencja {uri} nie wskazuje SignedProperties."])
    if not documents:
        raise KsefApiError(9105, [WRAPPING, 'Brak referencji (URI="") obejmującej cały dokument.'])
    if len(documents) > 1:
        raise KsefApiError(9105, [WRAPPING, f"Dokument jest wskazany przez {len(documents)} referencje."])
    if not has_properties:
        raise KsefApiError(9105, [PROFILE, "Brak podpisanych właściwości XAdES (SignedProperties)."])
    return _References(count=len(references), document=documents[0])


def _check_key_value(signature: etree._Element, cert: x509.Certificate) -> None:
    """A ds:KeyValue next to the certificate must name the certificate's key (it is never used)."""
    key = cert.public_key()
    for rsa_value in signature.iterfind(f"{_ds('KeyInfo')}/{_ds('KeyValue')}/{_ds('RSAKeyValue')}"):
        modulus, exponent = (_b64_int(rsa_value.find(_ds(tag))) for tag in ("Modulus", "Exponent"))
        numbers = key.public_numbers() if isinstance(key, rsa.RSAPublicKey) else None
        if numbers is None or (modulus, exponent) != (numbers.n, numbers.e):
            raise KsefApiError(9105, [PROFILE, "KeyValue i certyfikat w KeyInfo wskazują różne klucze."])
    for value in signature.iterfind(f"{_ds('KeyInfo')}/{_ds('KeyValue')}/{{{DSIG11_NS}}}ECKeyValue"):
        point = _b64_bytes(value.find(f"{{{DSIG11_NS}}}PublicKey"))
        expected = (
            key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
            if isinstance(key, ec.EllipticCurvePublicKey) else None
        )
        if point != expected:
            raise KsefApiError(9105, [PROFILE, "KeyValue i certyfikat w KeyInfo wskazują różne klucze."])


def _b64_bytes(element: etree._Element | None) -> bytes:
    try:
        return base64.b64decode(re.sub(r"\s+", "", (element.text or "") if element is not None else ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KsefApiError(9105, [PROFILE, "KeyValue nie jest poprawnym Base64."]) from exc


def _b64_int(element: etree._Element | None) -> int:
    return int.from_bytes(_b64_bytes(element), "big")


def _verification_time(cert: x509.Certificate, now: datetime) -> datetime:
    """Certificate validity is judged later (status 460), so verify the maths at a valid instant."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if start <= now <= end:
        return now
    return start + (end - start) / 2 if end > start else start + timedelta(seconds=0)


def read_signed_request(data: bytes, *, max_bytes: int, now: datetime) -> AuthTokenRequest:
    """Parse, validate and cryptographically verify a signed AuthTokenRequest.

    Raises :class:`KsefApiError` with the codes of PROTOCOL.md §3.2. Trust decisions about the
    certificate (chain, validity, revocation) are left to the caller.
    """
    root = safe_parse(data, max_bytes=max_bytes)
    qname = etree.QName(root)
    if qname.localname == "Signature" and qname.namespace == DS_NS:
        raise KsefApiError(9101, ["Podpis otaczający (enveloping) nie jest obsługiwany przez symulator."])
    if qname.localname != "AuthTokenRequest" or qname.namespace not in AUTH_NS:
        raise KsefApiError(9101, [f"Nieoczekiwany element główny {root.tag}."])

    signatures = list(root.iter(_ds("Signature")))
    if not signatures:
        raise KsefApiError(9102)
    if len(signatures) > 1:
        raise KsefApiError(9103)
    signature = signatures[0]
    if signature.getparent() is not root:
        raise KsefApiError(9101, ["Element ds:Signature musi być dzieckiem AuthTokenRequest."])

    _check_single_document(root)
    unsigned = etree.fromstring(etree.tostring(root))
    for sig in unsigned.findall(_ds("Signature")):
        unsigned.remove(sig)
    validate_unsigned(unsigned)

    certs = _load_certificates(signature)
    if not certs:
        raise KsefApiError(9105, ["Brak certyfikatu podpisującego w KeyInfo/X509Data."])
    _check_algorithms(signature, certs[0])
    references = _check_references(root, signature)

    signing_cert, results = _verify_with_signxml(data, certs, references.count, now)
    _check_key_value(signature, signing_cert)
    # Read the fields from what signxml verified as the whole document, not from the raw tree.
    document = _verified_document(results, references.document)
    validate_unsigned(document)
    request = _read_fields(document)
    request.signing_certificate = signing_cert
    request.extra_certificates = [c for c in certs if c is not signing_cert]
    return request


def _verify_with_signxml(
    data: bytes, certs: list[x509.Certificate], expected_references: int, now: datetime
) -> tuple[x509.Certificate, list[Any]]:
    from signxml import InvalidInput, InvalidSignature
    from signxml.exceptions import InvalidCertificate, InvalidDigest, SignXMLException
    from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

    last_error: Exception | None = None
    # The signing certificate is usually the first one; try each to support chains in any order.
    for cert in certs:
        config = XAdESSignatureConfiguration(
            expect_references=expected_references,
            verification_time=_verification_time(cert, now),
            # KeyValue is checked against the certificate by _check_key_value (signxml cannot for RSA-PSS)
            ignore_ambiguous_key_info=True,
        )
        try:
            results = XAdESVerifier().verify(data, x509_cert=cert, expect_config=config)
        except InvalidDigest as exc:
            raise KsefApiError(9105, [NEGATIVE, f"Nieprawidłowa wartość skrótu: {exc}"]) from exc
        except (InvalidSignature, InvalidCertificate) as exc:
            last_error = exc
            continue
        # signxml reads hostile input: whatever else it raises is a malformed signature, never a 500
        except (InvalidInput, SignXMLException, ValueError, KeyError, TypeError, AttributeError, IndexError,
                NotImplementedError, UnsupportedAlgorithm, etree.LxmlError) as exc:
            raise KsefApiError(9105, [PROFILE, str(exc) or type(exc).__name__]) from exc
        return cert, list(results)
    raise KsefApiError(9105, [NEGATIVE, str(last_error)])


def _verified_document(results: list[Any], document_index: int) -> etree._Element:
    """The document signxml verified for the whole-document reference (and SignedProperties verified too)."""
    names = [etree.QName(r.signed_xml).localname for r in results if r.signed_xml is not None]
    if "SignedProperties" not in names or document_index >= len(results):
        raise KsefApiError(9105, [PROFILE, f"Zweryfikowane referencje: {sorted(names)}"])
    document = results[document_index].signed_xml
    if document is None or etree.QName(document).localname != "AuthTokenRequest" or (
        etree.QName(document).namespace not in AUTH_NS
    ):
        raise KsefApiError(9105, [WRAPPING, "Podpisany dokument nie jest elementem AuthTokenRequest."])
    return document
