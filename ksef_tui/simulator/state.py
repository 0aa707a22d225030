"""In-memory state of the simulator, with optional JSON persistence."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from .ids import ksef_timestamp, parse_timestamp


@dataclass
class Challenge:
    value: str
    issued_at: datetime
    client_ip: str
    used: bool = False


@dataclass
class AuthOperation:
    reference_number: str
    start_date: datetime
    client_ip: str
    context_type: str
    context_value: str
    #: deprecated ``authenticationMethod`` value
    method: str
    method_category: str
    method_code: str
    method_display: str
    #: final status once ``ready_at`` has passed
    outcome_code: int
    outcome_details: list[str]
    ready_at: datetime
    authentication_token: str
    authentication_token_valid_until: datetime
    subject_type: str | None = None
    subject_value: str | None = None
    permissions: list[str] = field(default_factory=list)
    ksef_token_reference: str | None = None
    certificate_serial: str | None = None
    certificate_fingerprint: str | None = None
    #: DN attributes for ``/certificates/enrollments/data`` (XAdES only)
    enrollment_data: dict[str, str] | None = None
    allowed_ips: dict[str, list[str]] | None = None
    redeemed: bool = False
    refresh_token: str | None = None
    refresh_token_valid_until: datetime | None = None
    last_token_refresh: datetime | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    reference_number: str
    valid_until: datetime
    #: the permission set computed when it was issued (authentication or refresh)
    permissions: list[str] | None = None


@dataclass
class KsefToken:
    reference_number: str
    token: str
    context_type: str
    context_value: str
    author_type: str
    author_value: str
    permissions: list[str]
    description: str
    created: datetime
    active_from: datetime
    revoked: bool = False
    last_use: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.revoked:
            return "Revoked"
        return "Active" if now >= self.active_from else "Pending"


@dataclass
class IssuedCertificate:
    serial: str
    name: str
    certificate_type: str
    der_b64: str
    subject_type: str
    subject_value: str
    common_name: str
    valid_from: datetime
    valid_to: datetime
    request_date: datetime
    enrollment_reference: str
    revoked: bool = False
    revocation_reason: str | None = None
    last_use: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.revoked:
            return "Revoked"
        return "Expired" if now > self.valid_to else "Active"


@dataclass
class Enrollment:
    reference_number: str
    request_date: datetime
    ready_at: datetime
    subject_type: str
    subject_value: str
    certificate_serial: str | None
    rejection: str | None = None


@dataclass
class Person:
    nip: str
    pesel: str
    is_bailiff: bool
    description: str
    is_deceased: bool = False
    created: datetime | None = None


@dataclass
class Subject:
    nip: str
    subject_type: str
    description: str
    subunits: list[str] = field(default_factory=list)
    subunit_descriptions: list[str] = field(default_factory=list)
    created: datetime | None = None


@dataclass
class PermissionGrant:
    """One granted permission scope (KSeF lists and withdraws each scope by its own ``id``).

    ``grantor`` is the context in which it was granted; ``context`` the one where it applies (the
    same for person and entity grants; the subunit for a subunit administrator; ``None`` for an
    indirect grant, which applies in ``target``: a client's context, or every client's with
    ``AllPartners``). It exists from ``start`` (when its operation finished) until ``end``.
    """

    id: str
    #: person | entity | indirect | subunit | eu-admin | eu-rep | authorization
    kind: str
    grantor_type: str
    grantor_value: str
    context_type: str | None
    context_value: str | None
    subject_type: str
    subject_value: str
    scope: str
    description: str
    start: datetime
    #: who granted it (``System`` for test-data grants, value ``None``)
    author_type: str
    author_value: str | None = None
    can_delegate: bool = False
    target_type: str | None = None
    target_value: str | None = None
    #: ``PermissionsSubjectPersonDetails`` / ``PermissionsSubjectEntityDetails`` as listed
    person_details: dict[str, Any] | None = None
    entity_details: dict[str, Any] | None = None
    #: subunit name, or the EU entity's name (``euEntityName``) for EU grants
    name: str | None = None
    #: EU entity's ``{fullName, address}``
    eu_entity_details: dict[str, str] | None = None
    end: datetime | None = None

    def exists(self, now: datetime) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


@dataclass
class PermissionOperation:
    """An asynchronous grant or withdrawal (``GET /permissions/operations/{referenceNumber}``)."""

    reference_number: str
    context_type: str
    context_value: str
    requested: datetime
    ready_at: datetime
    code: int
    details: list[str] = field(default_factory=list)


@dataclass
class State:
    challenges: dict[str, Challenge] = field(default_factory=dict)
    operations: dict[str, AuthOperation] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    ksef_tokens: dict[str, KsefToken] = field(default_factory=dict)
    certificates: dict[str, IssuedCertificate] = field(default_factory=dict)
    enrollments: dict[str, Enrollment] = field(default_factory=dict)
    persons: list[Person] = field(default_factory=list)
    subjects: dict[str, Subject] = field(default_factory=dict)
    permission_grants: list[PermissionGrant] = field(default_factory=list)
    permission_operations: dict[str, PermissionOperation] = field(default_factory=dict)
    #: NIP -> end of its consent to invoices with attachments (``None``: no end)
    attachment_consents: dict[str, datetime | None] = field(default_factory=dict)
    blocked_contexts: list[str] = field(default_factory=list)
    #: context key -> group -> {perSecond, perMinute, perHour}
    rate_limit_overrides: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: context key -> group -> limit values (``/testdata/limits/context/session``)
    context_limit_overrides: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: "Type:value" of an identity -> {maxEnrollments?, maxCertificates?}
    subject_limit_overrides: dict[str, dict[str, int]] = field(default_factory=dict)
    #: key material (see pki.Pki.to_json) and the JWT secret
    pki: dict[str, Any] | None = None
    jwt_secret: str = ""

    # -- lookups -------------------------------------------------------------------------------
    def operation_by_auth_token(self, token: str) -> AuthOperation | None:
        return next((o for o in self.operations.values() if o.authentication_token == token), None)

    def operation_by_refresh_token(self, token: str) -> AuthOperation | None:
        return next((o for o in self.operations.values() if o.refresh_token == token), None)

    def ksef_token_by_value(self, token: str) -> KsefToken | None:
        return next((t for t in self.ksef_tokens.values() if t.token == token), None)

    # -- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return _encode(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return _decode(cls, data)

    def save(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, ensure_ascii=False, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path | str) -> State:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


T = TypeVar("T")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return ksef_timestamp(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode_as(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode_as(options[0], value)
    if tp is datetime:
        return parse_timestamp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode(tp, value)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_decode_as(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _decode_as(item, v) for k, v in value.items()}
    return value


def _decode(cls: type[T], data: dict[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _decode_as(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**kwargs)
