"""KSeF permissions (``/permissions/*``, spec 2.9.0; PROTOCOL.md §17): grants, withdrawals, the
asynchronous operation status and the queries the office needs.

Reached as ``gateway.permissions`` (:class:`KsefPermissions`); every request goes through the
gateway's :class:`~ksef_tui.ksef.http.KsefHttp`, so the limiter paces it in the "other" group
(10/s, 30/min, 120/h per context and IP). Each query reads every page (``pageOffset`` is the page
number, ``pageSize`` 10–100, ``hasMore``). Only what the client uses is parsed; anything KSeF adds
is ignored, anything it leaves out that the spec requires raises :class:`KsefProtocolError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ksef_tui.i18n import N_, _
from ksef_tui.ksef.errors import KsefInputError, KsefOperationFailed, KsefProtocolError
from ksef_tui.ksef.http import KsefHttp, Retry, json_body
from ksef_tui.ksef.models import AuthSession, StatusInfo, parse_datetime

#: What may be granted to a person in a context (``PersonPermissionType``).
PERSON_PERMISSIONS = ("CredentialsManage", "CredentialsRead", "InvoiceWrite", "InvoiceRead", "Introspection",
                      "SubunitManage", "EnforcementOperations", "CollectiveIdentifierManage")
#: What an entity (the office) may receive (``EntityPermissionType``).
ENTITY_PERMISSIONS = ("InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage")
#: What an intermediary may pass on, and may grant indirectly (PROTOCOL.md §17: only these two).
DELEGABLE = ("InvoiceRead", "InvoiceWrite")
IDENTIFIER_TYPES = ("Nip", "Pesel", "Fingerprint")
ACTIVE, INACTIVE = "Active", "Inactive"
PAGE_SIZE = 100
MAX_PAGES = 50

#: ``GET /permissions/operations/{ref}`` status codes (spec table; catalog source text: ``operation_meaning``).
OPERATION_CODES = {
    100: N_("accepted, in progress"),
    200: N_("done"),
    400: N_("failed"),
    410: N_("the identifiers do not match or are in the wrong relation"),
    420: N_("the credentials used may not do this"),
    430: N_("the context does not have the required role or permissions"),
    440: N_("not allowed for these identifiers"),
    450: N_("not allowed for this identifier or its type"),
    500: N_("unknown error"),
    550: N_("cancelled by the system"),
}


def operation_meaning(code: int) -> str | None:
    """The meaning of a permission operation status code in the current UI language, or None."""
    return _(OPERATION_CODES[code]) if code in OPERATION_CODES else None


@dataclass(frozen=True)
class Identifier:
    """A KSeF identifier: ``Identifier("Pesel", "44051401359")``; ``value`` is ``None`` for ``AllPartners``."""

    type: str
    value: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "value": self.value} if self.value is not None else {"type": self.type}

    def same(self, other: Identifier | None) -> bool:
        """Equal, fingerprints compared without regard to case."""
        if other is None or other.type != self.type:
            return False
        if self.type == "Fingerprint":
            return (self.value or "").upper() == (other.value or "").upper()
        return self.value == other.value

    def __str__(self) -> str:
        return self.type if self.value is None else f"{self.type} {self.value}"


@dataclass(frozen=True)
class PermissionGrant:
    """One permission record of a query answer (no secrets; ``description`` is untrusted text)."""

    id: str
    scope: str
    state: str  # Active | Inactive (entity grants have no state: Active)
    can_delegate: bool
    description: str
    start_date: dt.datetime | None
    #: who holds it (the persons query always; the personal query when it is not the caller)
    authorized: Identifier | None = None
    #: the context it applies in / that granted it (personal: the intermediary for indirect grants)
    context: Identifier | None = None
    #: an indirect grant's client (``Nip``/``InternalId``) or ``AllPartners``
    target: Identifier | None = None
    author: Identifier | None = None
    #: the holder's name as the grant recorded it (``subjectPersonDetails``/``subjectEntityDetails``)
    subject_name: str | None = None

    @property
    def indirect(self) -> bool:
        return self.target is not None


@dataclass(frozen=True)
class PersonalPermissions:
    """``personal/grants``: what the caller may do here; ``owner`` lists the owner's permissions (2.9)."""

    grants: tuple[PermissionGrant, ...]
    owner: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityGrant:
    """``entities/grants`` seen from the receiving entity: a client (``context``) granted ``scope``."""

    id: str
    context: Identifier
    scope: str
    can_delegate: bool
    description: str
    start_date: dt.datetime | None


@dataclass(frozen=True)
class PersonName:
    first: str
    last: str

    @classmethod
    def split(cls, full_name: str) -> PersonName:
        """First and last name from a full name (KSeF wants 2–30 and 2–81 characters)."""
        parts = " ".join((full_name or "").split()).split(" ")
        first = parts[0] if parts and parts[0] else "Nieznane"
        last = " ".join(parts[1:]) or first
        first, last = first[:30], last[:81]
        return cls(first if len(first) >= 2 else (first + "-")[:2], last if len(last) >= 2 else (last + "-")[:2])


Poll = Callable[[Callable[[], Awaitable[tuple[int, Any]]], float, str], Awaitable[tuple[int, Any]]]


class KsefPermissions:
    """The ``/permissions/*`` calls of one gateway (``gateway.permissions``)."""

    def __init__(self, http: KsefHttp, poll: Poll, *, operation_bound_s: float = 120.0) -> None:
        self._http = http
        self._poll = poll
        self.operation_bound_s = operation_bound_s

    # ------------------------------------------------------------------ grants

    async def grant_person(self, session: AuthSession, subject: Identifier, permissions: Iterable[str],
                           description: str, name: PersonName) -> str:
        """``POST /permissions/persons/grants`` in the session's context; the operation's reference number."""
        perms = _checked(permissions, PERSON_PERMISSIONS)
        body = {"subjectIdentifier": _subject(subject).as_json(), "permissions": perms,
                "description": _description(description), "subjectDetails": _person_details(name)}
        return await self._start("POST", "/permissions/persons/grants", body, N_("the person permission grant"), session)

    async def grant_entity(self, session: AuthSession, nip: str, permissions: Iterable[tuple[str, bool]],
                           description: str, full_name: str) -> str:
        """``POST /permissions/entities/grants``: ``(scope, canDelegate)`` pairs for the entity ``nip``."""
        pairs = list(permissions)
        _checked([p for p, _d in pairs], ENTITY_PERMISSIONS)
        if any(d and p not in DELEGABLE for p, d in pairs):
            raise KsefInputError("Only InvoiceRead and InvoiceWrite can be passed on (canDelegate).", code=21405)
        name = " ".join((full_name or "").split())[:90]
        if len(name) < 5:
            name = (name + " (podmiot)")[:90]
        body = {"subjectIdentifier": {"type": "Nip", "value": nip},
                "permissions": [{"type": p, "canDelegate": bool(d)} for p, d in pairs],
                "description": _description(description), "subjectDetails": {"fullName": name}}
        return await self._start("POST", "/permissions/entities/grants", body, N_("the entity permission grant"), session)

    async def grant_indirect(self, session: AuthSession, subject: Identifier, permissions: Iterable[str],
                             description: str, name: PersonName, *, client_nip: str | None = None) -> str:
        """``POST /permissions/indirect/grants`` from the intermediary's context, for ``client_nip`` or all clients."""
        perms = _checked(permissions, DELEGABLE)
        body: dict[str, Any] = {"subjectIdentifier": _subject(subject).as_json()}
        body["targetIdentifier"] = {"type": "Nip", "value": client_nip} if client_nip else {"type": "AllPartners"}
        body.update(permissions=perms, description=_description(description),
                    subjectDetails=_person_details(name))
        return await self._start("POST", "/permissions/indirect/grants", body, N_("the indirect permission grant"),
                                 session)

    async def revoke(self, session: AuthSession, permission_id: str) -> str:
        """``DELETE /permissions/common/grants/{permissionId}``; the operation's reference number."""
        if len(permission_id) != 36:
            raise KsefInputError("A permission id has 36 characters.", code=21405)
        return await self._start("DELETE", f"/permissions/common/grants/{permission_id}", None,
                                 N_("the permission withdrawal"), session)

    async def _start(self, method: str, path: str, body: Any, what: str, session: AuthSession) -> str:
        r = await self._http.call(method, path, bearer=session.access_token, json=body, expected=(202, 200),
                                  operation=what, retry=Retry.RATE_LIMIT_ONLY)
        b = json_body(r, what)
        ref = b.get("referenceNumber") if isinstance(b, dict) else None
        if not isinstance(ref, str) or not ref:
            raise KsefProtocolError(_("KSeF did not return a reference number for {operation}.").format(operation=_(what)))
        return ref

    # ------------------------------------------------------------------ operations

    async def operation_status(self, session: AuthSession, reference_number: str) -> StatusInfo:
        r = await self._http.call("GET", f"/permissions/operations/{reference_number}", bearer=session.access_token,
                                  operation=N_("the permission operation status request"), retry=Retry.IDEMPOTENT)
        return _status(json_body(r, N_("the permission operation status request")))

    async def wait_operation(self, session: AuthSession, reference_number: str, *,
                             bound_s: float | None = None) -> StatusInfo:
        """Poll until the operation ends; 200 is returned, any other final code raises
        :class:`KsefOperationFailed` (``code`` = ``permission-<code>``)."""
        async def fetch() -> tuple[int, StatusInfo]:
            st = await self.operation_status(session, reference_number)
            return st.code, st

        code, st = await self._poll(fetch, bound_s or self.operation_bound_s, N_("the permission operation"))
        if code != 200:
            meaning = operation_meaning(code) or st.description
            detail = f": {'; '.join(d.strip().rstrip('.') for d in st.details)}" if st.details else ""
            raise KsefOperationFailed(
                _("KSeF ended the permission operation with status {code} ({meaning}){detail}.").format(
                    code=code, meaning=meaning, detail=detail),
                code=f"permission-{code}", description=st.description, details=st.details,
                reference_number=reference_number)
        return st

    # ------------------------------------------------------------------ queries

    async def personal(self, session: AuthSession, *, state: str | None = None) -> PersonalPermissions:
        """``POST /permissions/query/personal/grants``: the caller's own permissions in this context."""
        body: dict[str, Any] = {}
        if state:
            body["permissionState"] = state
        grants: list[PermissionGrant] = []
        owner: list[str] = []

        def take(page: dict[str, Any]) -> None:
            grants.extend(_grant(p, personal=True) for p in _items(page, "permissions"))
            for scope in page.get("ownerPermissions") or ():
                if isinstance(scope, str) and scope not in owner:
                    owner.append(scope)

        await self._pages("/permissions/query/personal/grants", body, N_("the personal permission query"), session, take)
        return PersonalPermissions(tuple(grants), tuple(owner))

    async def persons(self, session: AuthSession, *, granted_here: bool = False,
                      authorized: Identifier | None = None, state: str | None = None) -> list[PermissionGrant]:
        """``POST /permissions/query/persons/grants``: who may work in this context, with the persons
        this context's entity authorized indirectly (``granted_here``: what the caller granted here)."""
        body: dict[str, Any] = {
            "queryType": "PermissionsGrantedInCurrentContext" if granted_here else "PermissionsInCurrentContext"}
        if authorized is not None:
            body["authorizedIdentifier"] = _subject(authorized).as_json()
        if state:
            body["permissionState"] = state
        out: list[PermissionGrant] = []
        await self._pages("/permissions/query/persons/grants", body, N_("the permission query"), session,
                          lambda page: out.extend(_grant(p, personal=False) for p in _items(page, "permissions")))
        return out

    async def entities(self, session: AuthSession, *, client: Identifier | None = None) -> list[EntityGrant]:
        """``POST /permissions/query/entities/grants``: invoice rights this context's entity received."""
        body: dict[str, Any] = {}
        if client is not None:
            body["contextIdentifier"] = client.as_json()
        out: list[EntityGrant] = []

        def take(page: dict[str, Any]) -> None:
            for p in _items(page, "permissions"):
                try:
                    out.append(EntityGrant(str(p["id"]), _identifier(p["contextIdentifier"]), str(p["permissionScope"]),
                                           bool(p.get("canDelegate")), str(p.get("description") or ""),
                                           parse_datetime(p.get("startDate"))))
                except (KeyError, TypeError, ValueError) as exc:
                    raise KsefProtocolError("KSeF sent a malformed entity permission.") from exc

        await self._pages("/permissions/query/entities/grants", body, N_("the entity permission query"), session, take)
        return out

    async def _pages(self, path: str, body: dict[str, Any], what: str, session: AuthSession,
                     take: Callable[[dict[str, Any]], None]) -> None:
        for page_no in range(MAX_PAGES):
            r = await self._http.call("POST", path, bearer=session.access_token, json=body,
                                      params={"pageOffset": page_no, "pageSize": PAGE_SIZE}, operation=what,
                                      retry=Retry.IDEMPOTENT)
            page = json_body(r, what)
            if not isinstance(page, dict):
                raise KsefProtocolError(_("KSeF answered {operation} with something that is not an object.")
                                        .format(operation=_(what)))
            take(page)
            if not page.get("hasMore"):
                return
        raise KsefProtocolError(_("KSeF kept sending pages for {operation} (more than {n}).").format(
            operation=_(what), n=MAX_PAGES))


# ---------------------------------------------------------------------- helpers


def _checked(permissions: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    perms: list[str] = []
    for p in permissions:
        p = p.strip()
        if p and p not in perms:
            perms.append(p)
    bad = [p for p in perms if p not in allowed]
    if not perms or bad:
        raise KsefInputError(f"Permissions {', '.join(bad) or '(none given)'} cannot be granted here; "
                             f"use {', '.join(allowed)}.", code=21405)
    return perms


def _subject(subject: Identifier) -> Identifier:
    if subject.type not in IDENTIFIER_TYPES or not subject.value:
        raise KsefInputError(f"{subject} is not a NIP, PESEL or certificate fingerprint.", code=21405)
    return subject


def _description(text: str) -> str:
    text = " ".join((text or "").split())[:256]
    if len(text) < 5:
        raise KsefInputError("A permission description must have 5 to 256 characters.", code=21405)
    return text


def _person_details(name: PersonName) -> dict[str, Any]:
    return {"subjectDetailsType": "PersonByIdentifier", "personById": {"firstName": name.first, "lastName": name.last}}


def _items(page: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = page.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise KsefProtocolError(f"KSeF sent a malformed '{key}' list.")
    return [i for i in items if isinstance(i, dict)]


def _identifier(value: Any) -> Identifier:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise KsefProtocolError("KSeF sent a malformed identifier.")
    raw = value.get("value")
    return Identifier(value["type"], None if raw is None else str(raw))


def _optional_identifier(value: Any) -> Identifier | None:
    return None if value is None else _identifier(value)


def _name(p: dict[str, Any]) -> str | None:
    person = p.get("subjectPersonDetails")
    if isinstance(person, dict):
        name = " ".join(str(person.get(k) or "") for k in ("firstName", "lastName")).strip()
        if name:
            return name
    entity = p.get("subjectEntityDetails")
    if isinstance(entity, dict) and entity.get("fullName"):
        return str(entity["fullName"])
    return None


def _grant(p: dict[str, Any], *, personal: bool) -> PermissionGrant:
    try:
        return PermissionGrant(
            id=str(p["id"]), scope=str(p["permissionScope"]), state=str(p.get("permissionState") or ACTIVE),
            can_delegate=bool(p.get("canDelegate")), description=str(p.get("description") or ""),
            start_date=parse_datetime(p.get("startDate")),
            authorized=_optional_identifier(p.get("authorizedIdentifier")),
            context=_optional_identifier(p.get("contextIdentifier")),
            target=_optional_identifier(p.get("targetIdentifier")),
            author=None if personal else _optional_identifier(p.get("authorIdentifier")),
            subject_name=_name(p),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise KsefProtocolError("KSeF sent a malformed permission.") from exc


def _status(body: Any) -> StatusInfo:
    st = body.get("status") if isinstance(body, dict) else None
    if not isinstance(st, dict) or "code" not in st:
        raise KsefProtocolError("KSeF sent a permission operation status without a code.")
    try:
        return StatusInfo(int(st["code"]), str(st.get("description") or ""),
                          tuple(str(d) for d in st.get("details") or ()))
    except (TypeError, ValueError) as exc:
        raise KsefProtocolError("KSeF sent a malformed permission operation status.") from exc


__all__ = [
    "ACTIVE",
    "DELEGABLE",
    "ENTITY_PERMISSIONS",
    "INACTIVE",
    "PERSON_PERMISSIONS",
    "EntityGrant",
    "Identifier",
    "KsefPermissions",
    "PermissionGrant",
    "PersonName",
    "PersonalPermissions",
]
