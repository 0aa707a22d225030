"""What the permission services hand to the UI and the CLI (plain frozen dataclasses, no secrets):
the permission picture of a company in an environment, a diagnosis ("why can't this user log in for
this company"), and the result of a grant or a withdrawal. Texts from KSeF (descriptions, names) are
untrusted: front ends show them as plain text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _

#: the working models of PROTOCOL.md §17 (the company's setting; None: not chosen)
MODELS = ("A", "B", "C", "D")

# sources of a permission
DIRECT, INDIRECT, OWNER, ENTITY, TOKEN = "direct", "indirect", "owner", "entity", "token"
ACTIVE, INACTIVE, MISSING = "Active", "Inactive", "missing"

# states of a diagnosis step
STEP_OK, STEP_FAIL, STEP_SKIP, STEP_UNKNOWN = "ok", "fail", "skipped", "unknown"


def model_label(model: str | None) -> str:
    return {
        "A": _("A: the office's own identity (the client grants the office)"),
        "B": _("B: office employees through the office (the client grants the office, the office its employees)"),
        "C": _("C: direct grants (the client grants each employee)"),
        "D": _("D: the client's own credential (the client's token)"),
        None: _("not chosen"),
    }[model]


def source_label(source: str) -> str:
    return {
        DIRECT: _("direct from the client"),
        INDIRECT: _("indirect through the office"),
        OWNER: _("owner"),
        ENTITY: _("the client's grant to the office"),
        TOKEN: _("carried by the KSeF token"),
    }.get(source, source)


def state_label(state: str) -> str:
    return {ACTIVE: _("Active"), INACTIVE: _("Inactive"), MISSING: _("missing")}.get(state, state)


@dataclass(frozen=True)
class PermissionLine:
    scope: str
    source: str
    state: str
    can_delegate: bool = False
    target: str | None = None  # an indirect grant's client ("Nip 5265877635") or "AllPartners"
    permission_id: str | None = None
    description: str = ""
    identifier: str | None = None  # the identifier the grant is for ("Pesel 44051401359")
    read_at: dt.datetime | None = None


@dataclass(frozen=True)
class Holder:
    """A user of the company, the office, or someone else holding permissions in the company."""

    kind: str  # "user" | "office" | "other"
    name: str
    lines: tuple[PermissionLine, ...] = ()
    user_id: int | None = None
    login: str | None = None
    identifier: str | None = None
    method: str | None = None  # the user's login method in this environment ("token", "certificate")
    cause: str | None = None  # the last permission check of the user's credential
    checked_at: dt.datetime | None = None

    @property
    def state(self) -> str:
        if any(line.state == ACTIVE for line in self.lines):
            return ACTIVE
        return INACTIVE if self.lines else MISSING

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(sorted({line.scope for line in self.lines if line.state == ACTIVE}))


@dataclass(frozen=True)
class PermissionPicture:
    company_id: int
    company_name: str
    nip: str
    environment: Environment
    model: str | None
    office: Holder | None
    users: tuple[Holder, ...]
    others: tuple[Holder, ...] = ()
    read_at: dt.datetime | None = None
    note: str | None = None
    office_configured: bool = False


@dataclass(frozen=True)
class Step:
    """One item of the checklist: what was checked, what was found (evidence), and its outcome."""

    key: str
    title: str
    status: str
    evidence: str = ""
    code: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"step": self.key, "title": self.title, "status": self.status, "evidence": self.evidence,
                "code": self.code}


@dataclass(frozen=True)
class Action:
    """A fix the office may carry out itself from the panel (its credential holds the rights)."""

    kind: str  # "grant-indirect" | "grant-person"
    label: str
    user_id: int
    company_id: int
    environment: Environment
    identifier: str
    scopes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "user_id": self.user_id, "company_id": self.company_id,
                "environment": self.environment.value, "identifier": self.identifier, "scopes": list(self.scopes)}


@dataclass(frozen=True)
class Diagnosis:
    """Why user ``login`` can or cannot log in to KSeF for company ``nip`` in ``environment``."""

    cause: str
    login: str
    user_id: int
    company_id: int
    company_name: str
    nip: str
    environment: Environment
    model: str | None
    method: str | None
    steps: tuple[Step, ...]
    hint: str
    actions: tuple[Action, ...] = ()
    request: str | None = None  # the words to send the client, when only the client can fix it
    permissions: tuple[str, ...] = ()
    checked_at: dt.datetime | None = None
    final: bool = True  # False: KSeF could not answer (unavailable, rate limit); nothing was recorded

    @property
    def ok(self) -> bool:
        return self.cause == "ok"

    def as_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause, "ok": self.ok, "login": self.login, "nip": self.nip, "company": self.company_name,
            "environment": self.environment.value, "model": self.model, "method": self.method,
            "permissions": list(self.permissions), "steps": [s.as_json() for s in self.steps], "hint": self.hint,
            "actions": [a.as_json() for a in self.actions], "request": self.request,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None, "final": self.final,
        }


@dataclass(frozen=True)
class GrantOutcome:
    """The final status of a grant or a withdrawal KSeF carried out (or refused)."""

    ok: bool
    message: str
    reference_number: str | None = None
    code: str | None = None
    hint: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)
