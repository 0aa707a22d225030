"""AuthTokenRequest XML: building it and validating it against the official XSDs.

The official ``schemat_auth_v2-0.xsd`` uses ``\\b`` in its three IP-address patterns, which is
not XML Schema regex syntax, so libxml2 refuses to compile it. We load it with exactly
those three patterns replaced by their XSD-legal counterparts from ``schemat_auth_v2-1.xsd``
(the only difference between the two schemas besides the namespace, PROTOCOL.md §3.2).

Both schemas also write ``^…$`` around the NipVatUe and PeppolId patterns. In XML Schema
regexes ``^`` and ``$`` are literal characters, so read literally the schemas would refuse
every NipVatUe/PeppolId value, including the official NipVatUe sample; KSeF (.NET) treats
them as anchors. We drop a leading ``^`` and a trailing ``$`` of a pattern, which is what the
schema authors meant (XSD patterns are always anchored).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ksef_tui.i18n import _
from ksef_tui.ksef.errors import KsefInputError
from ksef_tui.ksef.models import Context

SCHEMA_DIR = Path(__file__).parent / "schemas"
NAMESPACES = {
    "2.0": "http://ksef.mf.gov.pl/auth/token/2.0",
    "2.1": "http://ksef.mf.gov.pl/auth/token/2.1",
}
VERSION_BY_NS = {ns: v for v, ns in NAMESPACES.items()}
SUBJECT_TYPES = ("certificateSubject", "certificateFingerprint")
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_PATTERN = re.compile(rb'<xsd:pattern value="([^"]*)"')
_ANCHORED = re.compile(rb'<xsd:pattern value="\^?([^"]*?)(?<!\\)\$?"')


def safe_parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False,
    )


@functools.lru_cache(maxsize=2)
def schema(version: str) -> Any:
    from lxml import etree

    if version not in NAMESPACES:
        raise ValueError(f"unknown AuthTokenRequest schema version {version!r}")
    text = (SCHEMA_DIR / f"schemat_auth_v{version.replace('.', '-')}.xsd").read_bytes()
    if version == "2.0":
        legal = [p for p in _PATTERN.findall((SCHEMA_DIR / "schemat_auth_v2-1.xsd").read_bytes())
                 if p.startswith(b"((25")]
        broken = [p for p in _PATTERN.findall(text) if b"\\b" in p]
        for old, new in zip(broken, legal, strict=False):
            text = text.replace(b'value="' + old + b'"', b'value="' + new + b'"', 1)
    text = _ANCHORED.sub(rb'<xsd:pattern value="\1"', text)
    return etree.XMLSchema(etree.fromstring(text, safe_parser()))


def build_auth_token_request(
    challenge: str,
    context: Context,
    *,
    subject_type: str = "certificateSubject",
    schema_version: str = "2.0",
    allowed_ips: dict[str, list[str]] | None = None,
) -> bytes:
    """The unsigned AuthTokenRequest (UTF-8, with declaration), validated against its XSD.

    ``allowed_ips`` may hold ``{"Ip4Address": [...], "Ip4Range": [...], "Ip4Mask": [...]}``.
    """
    from lxml import etree

    if subject_type not in SUBJECT_TYPES:
        raise KsefInputError(_("Unknown subject identifier type {type}.").format(type=repr(subject_type)), code="schema")
    ns = NAMESPACES[schema_version]
    q = lambda name: f"{{{ns}}}{name}"  # noqa: E731
    root = etree.Element(q("AuthTokenRequest"), nsmap={None: ns})
    etree.SubElement(root, q("Challenge")).text = challenge
    ctx = etree.SubElement(root, q("ContextIdentifier"))
    etree.SubElement(ctx, q(context.type)).text = context.value
    etree.SubElement(root, q("SubjectIdentifierType")).text = subject_type
    if allowed_ips:
        policy = etree.SubElement(root, q("AuthorizationPolicy"))
        allowed = etree.SubElement(policy, q("AllowedIps"))
        for kind in ("Ip4Address", "Ip4Range", "Ip4Mask"):
            for value in allowed_ips.get(kind, []):
                etree.SubElement(allowed, q(kind)).text = value
    etree.indent(root, space="  ")
    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    validate(xml)
    return xml


def validate(xml: bytes | Any, *, ignore_signature: bool = True) -> str:
    """Validate an AuthTokenRequest (bytes or element) against its XSD; return the version.

    A ``ds:Signature`` child (not part of the XSD) is ignored on a copy.
    """
    import copy

    from lxml import etree

    root = etree.fromstring(xml, safe_parser()) if isinstance(xml, bytes) else xml
    ns = etree.QName(root).namespace or ""
    version = VERSION_BY_NS.get(ns)
    if version is None or etree.QName(root).localname != "AuthTokenRequest":
        raise KsefInputError(_("The document is not a KSeF AuthTokenRequest."), code="not-auth-request")
    if ignore_signature:
        root = copy.deepcopy(root)
        for sig in root.findall(f"{{{DSIG_NS}}}Signature"):
            root.remove(sig)
    xsd = schema(version)
    if not xsd.validate(root):
        err = xsd.error_log.last_error
        raise KsefInputError(
            _("The AuthTokenRequest does not match the official XSD {version}: {reason}.").format(
                version=version, reason=err.message if err else _("invalid")),
            code="schema",
        )
    return version
