"""SQLModel tables. Services read and write them; nothing else does.

Every mutable row carries ``version`` for optimistic locking. ``audit_entry``
is append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Company(SQLModel, table=True):
    __tablename__ = "company"
    __table_args__ = (
        UniqueConstraint("nip", name="uq_company_nip"),
        Index("ix_company_sort", "sort_key", "id"),
        Index("ix_company_ksef", "ksef_enabled", "sort_key", "id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=250)
    nip: str = Field(max_length=10)
    regon: Optional[str] = Field(default=None, max_length=14)
    address: Optional[str] = Field(default=None, max_length=500)
    ksef_enabled: bool = Field(default=False)
    notes: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
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

    id: Optional[int] = Field(default=None, primary_key=True)
    login: str = Field(max_length=100)
    full_name: str = Field(max_length=200)
    email: Optional[str] = Field(default=None, max_length=254)
    role: str = Field(default="client", max_length=20)  # "admin" | "client"
    active: bool = Field(default=True)
    may_configure_ksef: bool = Field(default=False)
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

    id: Optional[int] = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor_id: Optional[int] = Field(default=None)
    actor_login: str = Field(max_length=100)
    action: str = Field(max_length=60)
    object_type: str = Field(max_length=30)
    object_id: Optional[int] = Field(default=None)
    object_label: str = Field(default="", max_length=300)
    before: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    after: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
