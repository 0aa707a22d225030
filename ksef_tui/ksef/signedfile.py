"""Local checks of an externally signed AuthTokenRequest (e.g. Profil Zaufany at gov.pl).

The file is parsed safely (no DTD, no entities, no network, size cap) and checked for a
``ds:Signature``, the expected challenge (and that it has not expired) and the expected
context. The caller then sends the original bytes unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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
        raise SignedFileError(
            f"The signed file has {len(data)} bytes; at most {MAX_SIGNED_FILE_BYTES} are accepted.",
            code="too-large",
        )
    if _FORBIDDEN.search(_to_scan(data)):
        raise SignedFileError("The signed file contains a DTD or entity declarations; refused unread.",
                              code="unsafe-xml")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SignedFileError(f"The signed file is not well-formed XML ({exc.msg}).", code="not-xml") from None
    if root.getroottree().docinfo.internalDTD is not None:  # belt and braces
        raise SignedFileError("The signed file contains a DTD; refused.", code="unsafe-xml")

    request = _find_request(root)
    ns = etree.QName(request).namespace
    q = lambda name: f"{{{ns}}}{name}"  # noqa: E731
    signatures = len(root.findall(f".//{{{DSIG_NS}}}Signature")) + (
        1 if etree.QName(root).namespace == DSIG_NS and etree.QName(root).localname == "Signature" else 0
    )
    if signatures == 0:
        raise SignedFileError("The file has no XML signature (ds:Signature); sign it first.", code="unsigned")

    challenge = (request.findtext(q("Challenge")) or "").strip()
    ctx_el = request.find(q("ContextIdentifier"))
    if not challenge or ctx_el is None or len(ctx_el) != 1:
        raise SignedFileError("The AuthTokenRequest lacks its challenge or context.", code="not-auth-request")
    ctx_child = ctx_el[0]
    try:
        context = Context(etree.QName(ctx_child).localname, (ctx_child.text or "").strip())
    except ValueError:
        raise SignedFileError("The AuthTokenRequest names an unknown context type.", code="not-auth-request") from None
    subject_type = (request.findtext(q("SubjectIdentifierType")) or "").strip()

    now = now or dt.datetime.now(dt.UTC)
    if expected_challenge is not None:
        exp = expected_challenge.challenge if isinstance(expected_challenge, Challenge) else expected_challenge
        if challenge != exp:
            raise SignedFileError(
                f"The file was signed for challenge {challenge}, not for the expected {exp}.",
                code="challenge-mismatch",
            )
        if isinstance(expected_challenge, Challenge):
            expires_at = expected_challenge.expires_at
        if expires_at is not None and now >= expires_at:
            raise SignedFileError(
                f"The challenge {challenge} expired at {expires_at:%Y-%m-%d %H:%M:%S} UTC.",
                code="challenge-expired",
            )
    m = _CHALLENGE_DATE.match(challenge)
    if m:
        try:
            day = dt.datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=dt.UTC)
        except ValueError:
            day = None
        if day is not None and now >= day + dt.timedelta(days=1) + CHALLENGE_LIFETIME:
            raise SignedFileError(f"The challenge {challenge} is from {day:%Y-%m-%d} and has expired.",
                                  code="challenge-expired")
    if expected_context is not None and context != expected_context:
        raise SignedFileError(
            f"The signed file is for {context}, not for the expected {expected_context}.",
            code="context-mismatch",
        )
    return SignedFileFacts(challenge, context, subject_type, VERSION_BY_NS[ns], signatures)


def _find_request(root: object) -> object:
    from lxml import etree

    for ns in VERSION_BY_NS:
        tag = f"{{{ns}}}AuthTokenRequest"
        if root.tag == tag:  # type: ignore[attr-defined]
            return root
        found = root.find(f".//{tag}")  # type: ignore[attr-defined]
        if found is not None:  # enveloping signature: the request inside ds:Object
            return found
    name = etree.QName(root).localname  # type: ignore[arg-type]
    raise SignedFileError(f"The file is not a KSeF AuthTokenRequest (root element {name}).",
                          code="not-auth-request")
