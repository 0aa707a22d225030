"""SQLModel tables. Services read and write them; nothing else does.

Every mutable row carries ``version`` for optimistic locking. ``audit_entry``
is append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ksef_tui.domain.clock import system_clock


def utcnow() -> dt.datetime:
    """Column defaults only (rows made outside a service); services stamp rows with their clock."""
    return system_clock()


class Company(SQLModel, table=True):
    __tablename__ = "company"
    __table_args__ = (
        UniqueConstraint("nip", name="uq_company_nip"),
        Index("ix_company_sort", "sort_key", "id"),
        Index("ix_company_ksef", "ksef_enabled", "sort_key", "id"),
        # SQLite: counting a filtered list ("name or NIP contains") scans this narrow index, not
        # the table. Not on PostgreSQL: there it would not speed the count and would double the
        # cost of a serial operation's UPDATE (every updated row is re-indexed in every index).
        Index("ix_company_search", "search_key", "nip").ddl_if(dialect="sqlite"),
        # SQLite with FTS5 (migration 0009, beside the trigram table company_search): the filter's
        # matches put in order by name without reading each match's row
        Index("ix_company_id_sort", "id", "sort_key").ddl_if(dialect="sqlite"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=250)
    nip: str = Field(max_length=10)
    regon: str | None = Field(default=None, max_length=14)
    address: str | None = Field(default=None, max_length=500)
    ksef_enabled: bool = Field(default=False)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # how the office works with the company in KSeF (migration 0007): "A".."D" (PROTOCOL.md §17), None: not chosen
    ksef_model: str | None = Field(default=None, max_length=1)
    # derived keys for searching (diacritics folded, with the NIP) and Polish sorting
    search_key: str = Field(default="", max_length=300)
    sort_key: str = Field(default="", max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    version: int = Field(default=1)


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        UniqueConstraint("login", name="uq_user_login"),
        Index("ix_user_sort", "sort_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=100)
    full_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    role: str = Field(default="client", max_length=20)  # "admin" | "client"
    active: bool = Field(default=True)
    may_configure_ksef: bool = Field(default=False)
    # sign-in (migration 0004): a salted scrypt hash, never the password
    password_hash: str | None = Field(default=None, max_length=300)
    password_set_at: dt.datetime | None = Field(default=None)
    failed_logins: int = Field(default=0)
    locked_until: dt.datetime | None = Field(default=None)
    one_time_code_hash: str | None = Field(default=None, max_length=300)
    one_time_code_expires: dt.datetime | None = Field(default=None)
    search_key: str = Field(default="", max_length=600)
    sort_key: str = Field(default="", max_length=400)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    version: int = Field(default=1)


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_company", "company_id", "user_id"),)

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    company_id: int = Field(foreign_key="company.id", primary_key=True, ondelete="CASCADE")


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_object", "object_type", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None)
    actor_login: str = Field(max_length=100)
    action: str = Field(max_length=60)
    object_type: str = Field(max_length=30)
    object_id: int | None = Field(default=None)
    object_label: str = Field(default="", max_length=300)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class VaultCheck(SQLModel, table=True):
    """A known value sealed with the master key: a wrong key is told at start."""

    __tablename__ = "vault_check"

    id: int = Field(default=1, primary_key=True)
    key_id: str = Field(max_length=32)
    check: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)


class KsefEndpoint(SQLModel, table=True):
    """Where an environment's KSeF lives, when not at its official address (e.g. the simulator)."""

    __tablename__ = "ksef_endpoint"

    environment: str = Field(primary_key=True, max_length=20)
    base_url: str = Field(max_length=300)


# The credential's version is also the ORM's version counter: every UPDATE or DELETE of a
# loaded row says "WHERE version = <the version read>", so a write based on a stale read
# (another administrator or process saved in between) matches nothing and is refused
# (StaleDataError, turned into ConflictError by Database.session) instead of overwriting.
# The services still raise the version themselves (version_id_generator=False).
_credential_version = Column("version", Integer, nullable=False, server_default="1", default=1)


class KsefCredential(SQLModel, table=True):
    """How one user logs in to KSeF for one company in one environment.

    Secret material is sealed by the vault (bound to user, company, environment
    and field); only facts are kept in clear.
    """

    __tablename__ = "ksef_credential"
    __table_args__ = (
        UniqueConstraint("user_id", "company_id", "environment", name="uq_credential"),
        Index("ix_credential_company", "company_id"),
        Index("ix_credential_env_method", "environment", "method"),
    )
    __mapper_args__ = {"version_id_col": _credential_version, "version_id_generator": False}

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE")
    environment: str = Field(max_length=20)
    method: str = Field(max_length=20)  # "token" | "certificate"
    api_version: str = Field(default="2.0", max_length=5)
    # KSeF token
    token_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    token_last4: str | None = Field(default=None, max_length=4)
    token_reference: str | None = Field(default=None, max_length=36)
    token_permissions: str | None = Field(default=None, max_length=300)
    token_status: str | None = Field(default=None, max_length=20)
    #: the token's own end of validity from KSeF (migration 0008); None: the office's token policy decides
    token_valid_to: dt.datetime | None = Field(default=None)
    # certificate and its private key
    cert_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    key_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    cert_subject: str | None = Field(default=None, max_length=500)
    cert_identifier: str | None = Field(default=None, max_length=60)
    cert_serial: str | None = Field(default=None, max_length=64)
    cert_valid_from: dt.datetime | None = Field(default=None)
    cert_valid_to: dt.datetime | None = Field(default=None)
    cert_fingerprint: str | None = Field(default=None, max_length=64)
    #: the login certificate's KSeF type (migration 0008): "Authentication", or None when KSeF did not issue it
    cert_type: str | None = Field(default=None, max_length=20)
    # the last authorization
    last_auth_at: dt.datetime | None = Field(default=None)
    last_auth_ok: bool | None = Field(default=None)
    last_auth_method: str | None = Field(default=None, max_length=20)
    last_auth_reference: str | None = Field(default=None, max_length=36)
    last_auth_valid_until: dt.datetime | None = Field(default=None)
    last_auth_error: str | None = Field(default=None, max_length=500)
    # the last permission check (migration 0007): a diagnosis cause ("ok", "no-permission", "chain-broken", ...)
    # and the permissions found, comma separated; facts from KSeF, like the last authorization
    permission_cause: str | None = Field(default=None, max_length=30)
    permission_scopes: str | None = Field(default=None, max_length=300)
    permission_checked_at: dt.datetime | None = Field(default=None)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, sa_column=_credential_version)


class KsefCertificate(SQLModel, table=True):
    """A KSeF certificate the office holds for a user × company × environment, by type (migration 0008).

    ``certificate_type`` is KSeF's: "Offline" signs QR code II of offline invoices and never logs in
    (the login certificate is the credential's). The certificate and key are sealed like a credential's
    (bound to user, company, environment and the type); ``status`` is KSeF's (Active, Revoked, ...)."""

    __tablename__ = "ksef_certificate"
    __table_args__ = (
        UniqueConstraint("user_id", "company_id", "environment", "certificate_type", name="uq_ksef_certificate"),
        Index("ix_ksef_certificate_company", "company_id", "environment", "certificate_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE")
    environment: str = Field(max_length=20)
    certificate_type: str = Field(max_length=20)
    serial: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, max_length=500)
    valid_from: dt.datetime | None = Field(default=None)
    valid_to: dt.datetime | None = Field(default=None)
    status: str | None = Field(default=None, max_length=20)
    cert_blob: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_blob: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    version: int = Field(default=1)


class OfficeCredential(SQLModel, table=True):
    """How the office's administrator (a person or the office's seal) logs in to the office's own KSeF
    context in one environment (migration 0007). Sealed like a user's credential, bound to the NIP."""

    __tablename__ = "office_credential"

    environment: str = Field(primary_key=True, max_length=20)
    nip: str = Field(max_length=10)
    method: str = Field(max_length=20)  # "token" | "certificate"
    token_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    token_last4: str | None = Field(default=None, max_length=4)
    token_reference: str | None = Field(default=None, max_length=36)
    cert_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    key_blob: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    cert_subject: str | None = Field(default=None, max_length=500)
    cert_identifier: str | None = Field(default=None, max_length=60)
    cert_serial: str | None = Field(default=None, max_length=64)
    cert_valid_to: dt.datetime | None = Field(default=None)
    cert_fingerprint: str | None = Field(default=None, max_length=64)
    last_auth_at: dt.datetime | None = Field(default=None)
    last_auth_ok: bool | None = Field(default=None)
    last_auth_error: str | None = Field(default=None, max_length=500)
    #: when the office's view (clients' grants to the office, its indirect grants) was last read
    permissions_read_at: dt.datetime | None = Field(default=None)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    version: int = Field(default=1)


class KsefPermission(SQLModel, table=True):
    """One permission as last read from KSeF, for a company and environment (migration 0007).

    ``holder``: "user" (``user_id``), "office" or "other"; ``source``: "direct", "indirect" (through the
    office), "owner" or "entity" (the client's grant to the office); ``seen_by``: which reading found it
    ("office", "client" or "user"), so a new reading replaces only what it covers. ``description`` and
    ``subject_name`` are KSeF's text (untrusted)."""

    __tablename__ = "ksef_permission"
    __table_args__ = (
        Index("ix_permission_company", "company_id", "environment", "user_id"),
        Index("ix_permission_user", "user_id", "environment"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE")
    environment: str = Field(max_length=20)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="CASCADE")
    holder: str = Field(max_length=10)
    identifier_type: str | None = Field(default=None, max_length=12)
    identifier_value: str | None = Field(default=None, max_length=64)
    scope: str = Field(max_length=40)
    source: str = Field(max_length=12)
    state: str = Field(max_length=10)
    can_delegate: bool = Field(default=False)
    target: str | None = Field(default=None, max_length=40)
    permission_id: str | None = Field(default=None, max_length=36)
    description: str | None = Field(default=None, max_length=256)
    subject_name: str | None = Field(default=None, max_length=200)
    seen_by: str = Field(max_length=10)
    read_at: dt.datetime = Field(default_factory=utcnow)


class KsefPermissionRead(SQLModel, table=True):
    """When a company's permission picture was last read in an environment, and what could not be read."""

    __tablename__ = "ksef_permission_read"

    company_id: int = Field(foreign_key="company.id", primary_key=True, ondelete="CASCADE")
    environment: str = Field(primary_key=True, max_length=20)
    read_at: dt.datetime = Field(default_factory=utcnow)
    note: str | None = Field(default=None, max_length=500)


class Setting(SQLModel, table=True):
    """Office-wide settings (migration 0004), e.g. the default of "may configure KSeF themselves"."""

    __tablename__ = "setting"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: dt.datetime | None = Field(default=None)
