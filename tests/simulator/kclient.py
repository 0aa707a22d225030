"""Minimal test-side KSeF client written from the spec: builds every request itself.

cryptography for RSA-OAEP and keys, lxml for XML; two XAdES producers: signxml's ``XAdESSigner``
(:func:`sign`, 3 references, with KeyValue) and this module's own XMLDSig code (:func:`xades_sign`,
exclusive C14N, any references and ds:Object content, e.g. signature-wrapped documents).
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


class TestCa:
    """A certification authority of the client's own (a trust service stand-in), or one below it."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "Kclient Test CA", *, issuer: TestCa | None = None) -> None:
        self.key = new_key("ec")
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                               x509.NameAttribute(NameOID.COUNTRY_NAME, "PL")])
        if issuer is not None:
            self.cert = issuer.issue(self.name, self.key, ca=True)
            return
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, name: x509.Name, key: Any, *, ca: bool = False) -> x509.Certificate:
        """A certificate for ``key`` signed by this CA (``ca=True``: an intermediate CA)."""
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )


def auth_xml(challenge: str, context_value: str, *, context_tag: str = "Nip",
             subject_type: str = "certificateSubject", namespace: str = NS20) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<AuthTokenRequest xmlns="{namespace}">\n'
        f"  <Challenge>{challenge}</Challenge>\n"
        f"  <ContextIdentifier><{context_tag}>{context_value}</{context_tag}></ContextIdentifier>\n"
        f"  <SubjectIdentifierType>{subject_type}</SubjectIdentifierType>\n</AuthTokenRequest>"
    ).encode()


def sign(xml: bytes, key: Any, cert: x509.Certificate, *, pss: bool = False) -> bytes:
    from signxml import DigestAlgorithm, SignatureMethod
    from signxml.xades import XAdESSigner

    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = SignatureMethod.ECDSA_SHA256
    else:
        method = SignatureMethod.SHA256_RSA_MGF1 if pss else SignatureMethod.RSA_SHA256
    root = etree.fromstring(xml)
    signed = XAdESSigner(signature_algorithm=method, digest_algorithm=DigestAlgorithm.SHA256).sign(
        root, key=key, cert=[cert]
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = DS + "enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SIGNED_PROPERTIES = "http://uri.etsi.org/01903#SignedProperties"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


@dataclass(frozen=True)
class Ref:
    """One ds:Reference: ``uri`` is "" (the document) or "#Id"; ``enveloped`` adds that transform."""

    uri: str
    enveloped: bool = False
    type: str | None = None


def _c14n(element: Any) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def _digest_b64(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return base64.b64encode(digest.finalize()).decode()


def _ds(tag: str) -> str:
    return f"{{{DS}}}{tag}"


def xades_sign(
    xml: bytes,
    key: Any,
    cert: x509.Certificate,
    *,
    pss: bool = False,
    references: list[Ref] | None = None,
    objects: list[Any] = (),  # type: ignore[assignment]
    der_ecdsa: bool = False,
    chain: list[x509.Certificate] = (),  # type: ignore[assignment]
) -> bytes:
    """Enveloped XAdES-BES signature written here from XMLDSig/XAdES, exclusive C14N and SHA-256.

    By default two references, like the official clients: the document (``URI=""``, enveloped) and
    SignedProperties. ``references`` replaces the document reference(s) (SignedProperties is always
    added); ``objects`` are extra ds:Object children (e.g. a second AuthTokenRequest).
    ``der_ecdsa`` writes an ECDSA SignatureValue DER-encoded instead of the required R||S;
    ``chain`` adds intermediate CA certificates to X509Data after the signing certificate.
    """
    root = etree.fromstring(xml)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = ECDSA_SHA256
    else:
        method = RSA_PSS_SHA256 if pss else RSA_SHA256
    signature = etree.SubElement(root, _ds("Signature"), {"Id": "kclient-sig"}, nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), {"Algorithm": EXC_C14N})
    etree.SubElement(signed_info, _ds("SignatureMethod"), {"Algorithm": method})
    value = etree.SubElement(signature, _ds("SignatureValue"))
    key_info = etree.SubElement(signature, _ds("KeyInfo"))
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    der = cert.public_bytes(serialization.Encoding.DER)
    etree.SubElement(x509_data, _ds("X509Certificate")).text = base64.b64encode(der).decode()
    for extra_cert in chain:
        extra_der = extra_cert.public_bytes(serialization.Encoding.DER)
        etree.SubElement(x509_data, _ds("X509Certificate")).text = base64.b64encode(extra_der).decode()

    qualifying = etree.SubElement(
        etree.SubElement(signature, _ds("Object")),
        f"{{{XADES}}}QualifyingProperties", {"Target": "#kclient-sig"}, nsmap={"xades": XADES},
    )
    props = etree.SubElement(
        etree.SubElement(qualifying, f"{{{XADES}}}SignedProperties", {"Id": "kclient-props"}),
        f"{{{XADES}}}SignedSignatureProperties",
    )
    etree.SubElement(props, f"{{{XADES}}}SigningTime").text = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cert_digest = etree.SubElement(
        etree.SubElement(etree.SubElement(props, f"{{{XADES}}}SigningCertificateV2"), f"{{{XADES}}}Cert"),
        f"{{{XADES}}}CertDigest",
    )
    etree.SubElement(cert_digest, _ds("DigestMethod"), {"Algorithm": SHA256})
    etree.SubElement(cert_digest, _ds("DigestValue")).text = _digest_b64(der)
    for extra in objects:
        etree.SubElement(signature, _ds("Object")).append(extra)

    refs = [*(references if references is not None else [Ref("", enveloped=True)]),
            Ref("#kclient-props", type=SIGNED_PROPERTIES)]
    for ref in refs:
        element = etree.SubElement(signed_info, _ds("Reference"), {"URI": ref.uri})
        if ref.type:
            element.set("Type", ref.type)
        transforms = etree.SubElement(element, _ds("Transforms"))
        if ref.enveloped:
            etree.SubElement(transforms, _ds("Transform"), {"Algorithm": ENVELOPED})
        etree.SubElement(transforms, _ds("Transform"), {"Algorithm": EXC_C14N})
        etree.SubElement(element, _ds("DigestMethod"), {"Algorithm": SHA256})
        target = root if ref.uri == "" else root.xpath("//*[@Id=$id]", id=ref.uri[1:])[0]
        if ref.enveloped:  # the digest of the target without the signature in it
            copy = etree.fromstring(etree.tostring(target))
            for sig in copy.iter(_ds("Signature")):
                sig.getparent().remove(sig)
            data = _c14n(copy)
        else:
            data = _c14n(target)
        etree.SubElement(element, _ds("DigestValue")).text = _digest_b64(data)

    to_sign = _c14n(signed_info)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature_der = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        if der_ecdsa:
            raw = signature_der
        else:
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

            r, s = decode_dss_signature(signature_der)
            size = (key.curve.key_size + 7) // 8
            raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif pss:
        raw = key.sign(to_sign, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        raw = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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

    def final_status(self, started: httpx.Response, timeout_s: float = 10.0) -> dict[str, Any]:
        """Poll ``GET /auth/{ref}`` while the status is 100 (in progress), as the spec asks clients to."""
        import time

        deadline = time.monotonic() + timeout_s
        body = self.status(started)
        while body["status"]["code"] == 100 and time.monotonic() < deadline:
            time.sleep(0.05)
            body = self.status(started)
        return body

    def redeem(self, started: httpx.Response) -> httpx.Response:
        token = started.json()["authenticationToken"]["token"]
        return self.http.post("/auth/token/redeem", headers={"Authorization": f"Bearer {token}"})

    def login_token(self, token: str, nip: str) -> dict[str, Any]:
        started = self.start_token(token, nip)
        assert self.final_status(started)["status"]["code"] == 200
        r = self.redeem(started)
        assert r.status_code == 200, r.text
        return r.json()

    def login_xades(self, key: Any, cert: x509.Certificate, nip: str, **kw: Any) -> dict[str, Any]:
        return self.login_xades_with(sign, key, cert, nip, **kw)

    def login_xades_with(self, signer: Any, key: Any, cert: x509.Certificate, nip: str, **kw: Any) -> dict[str, Any]:
        """Challenge, sign with ``signer(xml, key, cert)``, start, expect 200, redeem."""
        ch = self.challenge()
        started = self.start_xades(signer(auth_xml(ch["challenge"], nip, **kw), key, cert))
        status = self.final_status(started)
        assert status["status"]["code"] == 200, status
        r = self.redeem(started)
        assert r.status_code == 200, r.text
        return r.json()


    # -- after login (``session`` is the redeem answer) -----------------------------------------
    def call(self, method: str, path: str, session: dict[str, Any] | None = None, *, expect: int | None = None,
             warning: str | None = None, **kw: Any) -> httpx.Response:
        """Any request; ``warning`` sends ``X-Test-System-Warning`` (TEST echoes it as ``X-System-Warning``)."""
        headers = dict(kw.pop("headers", None) or {})
        if session is not None:
            headers.update(bearer(session))
        if warning is not None:
            headers["X-Test-System-Warning"] = warning.encode("utf-8")
        r = self.http.request(method, path, headers=headers, **kw)
        assert expect is None or r.status_code == expect, r.text
        return r

    def generate_token(self, session: dict[str, Any], permissions: list[str], description: str) -> dict[str, Any]:
        """``POST /tokens``: ``{referenceNumber, token}``; the token is usable once ``Active``."""
        body = {"permissions": permissions, "description": description}
        return self.call("POST", "/tokens", session, json=body, expect=202).json()

    def token(self, session: dict[str, Any], reference_number: str) -> dict[str, Any]:
        return self.call("GET", f"/tokens/{reference_number}", session, expect=200).json()

    def rate_limits(self, session: dict[str, Any]) -> dict[str, dict[str, int]]:
        return self.call("GET", "/rate-limits", session, expect=200).json()

    def context_limits(self, session: dict[str, Any]) -> dict[str, dict[str, int]]:
        return self.call("GET", "/limits/context", session, expect=200).json()

    def subject_limits(self, session: dict[str, Any]) -> dict[str, dict[str, int]]:
        return self.call("GET", "/limits/subject", session, expect=200).json()


def exception_code(response: httpx.Response) -> int:
    """The first exception code of a 400 (legacy ``ExceptionResponse`` or Problem Details)."""
    body = response.json()
    if "exception" in body:
        return int(body["exception"]["exceptionDetailList"][0]["exceptionCode"])
    return int(body["errors"][0]["code"])


def bearer(tokens: dict[str, Any], kind: str = "accessToken") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[kind]['token']}"}


class Permissions:
    """``/permissions/*`` from the spec (2.9.0): builds each request, checks its body against the spec's
    request schema before sending, and returns the httpx response (the conftest hook validates it)."""

    def __init__(self, http: httpx.Client, tokens: dict[str, Any]) -> None:
        self.http = http
        self.headers = bearer(tokens)

    def _send(self, method: str, path: str, template: str, body: Any = None, **params: int) -> httpx.Response:
        from tests.contract.openapi import validate_request

        if body is not None:
            validate_request(method, template, body)
        return self.http.request(method, path, json=body, headers=self.headers, params=params or None)

    # -- grants ----------------------------------------------------------------------------------
    def grant_person(self, identifier: tuple[str, str], permissions: list[str], *, description: str = "Uprawnienie",
                     first_name: str = "Anna", last_name: str = "Nowak") -> httpx.Response:
        details: dict[str, Any]
        if identifier[0] == "Fingerprint":
            details = {"subjectDetailsType": "PersonByFingerprintWithoutIdentifier", "personByFpNoId": {
                "firstName": first_name, "lastName": last_name, "birthDate": "1990-01-01",
                "idDocument": {"type": "Paszport", "number": "AB123456", "country": "DE"}}}
        else:
            details = {"subjectDetailsType": "PersonByIdentifier",
                       "personById": {"firstName": first_name, "lastName": last_name}}
        body = {"subjectIdentifier": {"type": identifier[0], "value": identifier[1]}, "permissions": permissions,
                "description": description, "subjectDetails": details}
        return self._send("POST", "/permissions/persons/grants", "/permissions/persons/grants", body)

    def grant_entity(self, nip: str, permissions: dict[str, bool], *, description: str = "Obsługa faktur",
                     full_name: str = "Biuro Rachunkowe Sp. z o.o.") -> httpx.Response:
        body = {"subjectIdentifier": {"type": "Nip", "value": nip},
                "permissions": [{"type": p, "canDelegate": d} for p, d in permissions.items()],
                "description": description, "subjectDetails": {"fullName": full_name}}
        return self._send("POST", "/permissions/entities/grants", "/permissions/entities/grants", body)

    def grant_indirect(self, identifier: tuple[str, str], permissions: list[str], *, client_nip: str | None = None,
                       all_partners: bool = False, description: str = "Praca dla klienta") -> httpx.Response:
        body: dict[str, Any] = {"subjectIdentifier": {"type": identifier[0], "value": identifier[1]}}
        if client_nip:
            body["targetIdentifier"] = {"type": "Nip", "value": client_nip}
        elif all_partners:
            body["targetIdentifier"] = {"type": "AllPartners"}
        body.update(permissions=permissions, description=description, subjectDetails={
            "subjectDetailsType": "PersonByIdentifier", "personById": {"firstName": "Piotr", "lastName": "Lis"}})
        return self._send("POST", "/permissions/indirect/grants", "/permissions/indirect/grants", body)

    def grant_authorization(self, nip: str, permission: str) -> httpx.Response:
        body = {"subjectIdentifier": {"type": "Nip", "value": nip}, "permission": permission,
                "description": "Samofakturowanie", "subjectDetails": {"fullName": "Kontrahent S.A."}}
        return self._send("POST", "/permissions/authorizations/grants", "/permissions/authorizations/grants", body)

    def revoke(self, permission_id: str) -> httpx.Response:
        return self._send("DELETE", f"/permissions/common/grants/{permission_id}",
                          "/permissions/common/grants/{permissionId}")

    def revoke_authorization(self, permission_id: str) -> httpx.Response:
        return self._send("DELETE", f"/permissions/authorizations/grants/{permission_id}",
                          "/permissions/authorizations/grants/{permissionId}")

    def operation(self, reference_number: str) -> httpx.Response:
        return self._send("GET", f"/permissions/operations/{reference_number}",
                          "/permissions/operations/{referenceNumber}")

    def done(self, started: httpx.Response) -> dict[str, Any]:
        """The final status of a grant or withdrawal that answered 202."""
        assert started.status_code == 202, started.text
        r = self.operation(started.json()["referenceNumber"])
        assert r.status_code == 200, r.text
        return r.json()["status"]

    # -- queries ---------------------------------------------------------------------------------
    def query(self, kind: str, body: dict[str, Any] | None = None, **paging: int) -> httpx.Response:
        path = f"/permissions/query/{kind}"
        return self._send("POST", path, path, body if body is not None else {}, **paging)

    def personal(self, **filters: Any) -> dict[str, Any]:
        r = self.query("personal/grants", filters)
        assert r.status_code == 200, r.text
        return r.json()

    def persons(self, query_type: str = "PermissionsInCurrentContext", **filters: Any) -> dict[str, Any]:
        r = self.query("persons/grants", {"queryType": query_type, **filters})
        assert r.status_code == 200, r.text
        return r.json()

    def entities(self, **filters: Any) -> dict[str, Any]:
        r = self.query("entities/grants", filters)
        assert r.status_code == 200, r.text
        return r.json()

    def roles(self, **paging: int) -> httpx.Response:
        return self._send("GET", "/permissions/query/entities/roles", "/permissions/query/entities/roles", **paging)
