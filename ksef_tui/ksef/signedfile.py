"""Local checks of an externally signed AuthTokenRequest (e.g. Profil Zaufany at gov.pl).

The file is parsed safely (no DTD, no entities, no network, size cap) and checked for a
``ds:Signature``, the expected challenge (and that it has not expired) and the expected
context. The caller then sends the original bytes unchanged.

Signature wrapping is refused before anything is sent: the AuthTokenRequest that is read (its
challenge and context) must be exactly the document the signature covers as a whole, and the only
one in the file. Enveloped: the request is the root, its ``ds:Signature`` a child of it, and exactly
one reference (``URI=""`` or the root's Id, with the enveloped transform) covers it; every other
reference points inside the signature. Enveloping: the signature is the root and exactly one
reference covers the request inside its ``ds:Object``. A second AuthTokenRequest anywhere (e.g. a
signed one for another company inside ``ds:Object``), a reference to an element of the document other
than the whole, or an unsigned root is refused with the reason KSeF (and our simulator) give: 9105,
"Dokument musi być podpisany w całości jako jeden AuthTokenRequest (element główny)."
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ksef_tui.domain.clock import system_clock
from ksef_tui.i18n import _, ngettext
from ksef_tui.ksef.authxml import DSIG_NS, VERSION_BY_NS, safe_parser
from ksef_tui.ksef.errors import SignedFileError
from ksef_tui.ksef.models import CHALLENGE_LIFETIME, Challenge, Context

MAX_SIGNED_FILE_BYTES = 1024 * 1024
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_CHALLENGE_DATE = re.compile(r"^(\d{8})-CR-")


@dataclass(frozen=True)
class SignedFileFacts:
    challenge: str
    context: Context
    subject_type: str
    schema_version: str
    signatures: int


def _to_scan(data: bytes) -> bytes:
    """The text to look for DTDs in, whatever Unicode encoding the file claims."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace").encode("utf-8")
    if len(data) > 1 and (data[0] == 0 or data[1] == 0):
        return data.replace(b"\x00", b"")
    return data


def check_signed_file(
    data: bytes,
    *,
    expected_challenge: Challenge | str | None = None,
    expected_context: Context | None = None,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> SignedFileFacts:
    """Raise :class:`SignedFileError` unless ``data`` looks sendable; never modifies it."""
    from lxml import etree

    if len(data) > MAX_SIGNED_FILE_BYTES:
        raise SignedFileError(ngettext(
            "The signed file has {size} byte; at most {limit} are accepted.",
            "The signed file has {size} bytes; at most {limit} are accepted.", len(data),
        ).format(size=len(data), limit=MAX_SIGNED_FILE_BYTES), code="too-large")
    if _FORBIDDEN.search(_to_scan(data)):
        raise SignedFileError(_("The signed file contains a DTD or entity declarations; refused unread."),
                              code="unsafe-xml")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SignedFileError(_("The signed file is not well-formed XML ({reason}).").format(reason=exc.msg),
                              code="not-xml") from None
    if root.getroottree().docinfo.internalDTD is not None:  # belt and braces
        raise SignedFileError(_("The signed file contains a DTD; refused."), code="unsafe-xml")

    request, signatures = _signed_request(root)
    ns = etree.QName(request).namespace
    q = lambda name: f"{{{ns}}}{name}"  # noqa: E731

    challenge = (request.findtext(q("Challenge")) or "").strip()
    ctx_el = request.find(q("ContextIdentifier"))
    if not challenge or ctx_el is None or len(ctx_el) != 1:
        raise SignedFileError(_("The AuthTokenRequest lacks its challenge or context."), code="not-auth-request")
    ctx_child = ctx_el[0]
    try:
        context = Context(etree.QName(ctx_child).localname, (ctx_child.text or "").strip())
    except ValueError:
        raise SignedFileError(_("The AuthTokenRequest names an unknown context type."),
                              code="not-auth-request") from None
    subject_type = (request.findtext(q("SubjectIdentifierType")) or "").strip()

    now = now or system_clock()
    if expected_challenge is not None:
        exp = expected_challenge.challenge if isinstance(expected_challenge, Challenge) else expected_challenge
        if challenge != exp:
            raise SignedFileError(_("The file was signed for challenge {challenge}, not for the expected {expected}.")
                                  .format(challenge=challenge, expected=exp), code="challenge-mismatch")
        if isinstance(expected_challenge, Challenge):
            expires_at = expected_challenge.expires_at
        if expires_at is not None and now >= expires_at:
            raise SignedFileError(_("The challenge {challenge} expired at {when} UTC.").format(
                challenge=challenge, when=f"{expires_at:%Y-%m-%d %H:%M:%S}"), code="challenge-expired")
    m = _CHALLENGE_DATE.match(challenge)
    if m:
        try:
            day = dt.datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=dt.UTC)
        except ValueError:
            day = None
        if day is not None and now >= day + dt.timedelta(days=1) + CHALLENGE_LIFETIME:
            raise SignedFileError(_("The challenge {challenge} is from {day} and has expired.").format(
                challenge=challenge, day=f"{day:%Y-%m-%d}"), code="challenge-expired")
    if expected_context is not None and context != expected_context:
        raise SignedFileError(_("The signed file is for {context}, not for the expected {expected}.").format(
            context=context, expected=expected_context), code="context-mismatch")
    return SignedFileFacts(challenge, context, subject_type, VERSION_BY_NS[ns], signatures)


ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_WHOLE_DOCUMENT_TRANSFORMS = (ENVELOPED, "http://www.w3.org/TR/1999/REC-xpath-19991116",
                              "http://www.w3.org/2002/06/xmldsig-filter2")


def _wrapping(detail: str) -> SignedFileError:
    """The reason KSeF gives (code 9105), in Polish word for word as KSeF (and our simulator) say it."""
    return SignedFileError(
        _("The document must be signed as a whole, as one AuthTokenRequest (the root element).") + " " + detail,
        code="wrapping")


def _localname(el: object) -> str:
    tag = getattr(el, "tag", None)
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _signed_request(root: object) -> tuple[object, int]:
    """The one AuthTokenRequest of the file, checked to be what its one signature covers whole."""
    from lxml import etree

    requests = [el for el in root.iter() if _localname(el) == "AuthTokenRequest"]  # type: ignore[attr-defined]
    if not requests:
        raise SignedFileError(_("The file is not a KSeF AuthTokenRequest (root element {root}).").format(
            root=_localname(root)), code="not-auth-request")
    if len(requests) > 1:
        inner = next(r for r in requests if r is not root)
        where = _localname(inner.getparent()) if inner.getparent() is not None else "-"  # type: ignore[attr-defined]
        raise _wrapping(_("The file holds a second AuthTokenRequest (inside {where}).").format(where=where))
    request = requests[0]
    if etree.QName(request).namespace not in VERSION_BY_NS:
        raise SignedFileError(_("The AuthTokenRequest is in an unknown namespace; it is not a KSeF request."),
                              code="not-auth-request")
    signatures = [el for el in root.iter(f"{{{DSIG_NS}}}Signature")]  # type: ignore[attr-defined]
    if not signatures:
        raise SignedFileError(_("The file has no XML signature (ds:Signature); sign it first."), code="unsigned")
    if len(signatures) > 1:
        raise SignedFileError(_("The file has more than one XML signature; KSeF accepts one."), code="signatures")
    signature = signatures[0]
    if request is root:
        if signature.getparent() is not root:
            raise _wrapping(_("The signature must be a child of the AuthTokenRequest."))
    elif signature is not root or signature not in request.iterancestors():  # type: ignore[attr-defined]
        raise _wrapping(_("The AuthTokenRequest must be the root element (or inside the enveloping signature)."))
    covering = 0
    for ref in signature.iterfind(f"{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference"):
        uri = ref.get("URI")
        if uri is None or not (uri == "" or uri.startswith("#")):
            raise SignedFileError(_("The signature is detached (it points at another file); KSeF accepts only an "
                                    "enveloped or enveloping signature."), code="detached")
        if uri == "":
            target = root
        else:
            found = [el for el in root.iter() if isinstance(el.tag, str)  # type: ignore[attr-defined]
                     and uri[1:] in (el.get("Id"), el.get("ID"), el.get("id"))]
            if len(found) != 1:
                raise _wrapping(_("The reference {uri} points at {n} elements.").format(uri=uri, n=len(found)))
            target = found[0]
        if request is root:  # enveloped: the whole document is the root
            covers = target is root
        else:  # enveloping: the request itself or the ds:Object holding it (URI="" would be the signature)
            covers = target is not root and (target is request or target in request.iterancestors())  # type: ignore[attr-defined]
        if covers:
            transforms = [t.get("Algorithm") for t in ref.iterfind(f"{{{DSIG_NS}}}Transforms/{{{DSIG_NS}}}Transform")]
            if request is root and not any(t in _WHOLE_DOCUMENT_TRANSFORMS for t in transforms):
                raise _wrapping(_("The reference to the document lacks the enveloped transform."))
            covering += 1
            continue
        if target is not signature and signature not in target.iterancestors():
            raise _wrapping(_("The reference {uri} points at an element of the document, not the whole document.")
                            .format(uri=uri))
    if covering == 0:
        raise _wrapping(_('No reference (URI="") covers the whole document.'))
    if covering > 1:
        raise _wrapping(_("The document is covered by {n} references.").format(n=covering))
    return request, len(signatures)
