"""The append-only audit log: written inside the caller's transaction, never a secret."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import AuditEntry, utcnow

_SECRET_WORDS = ("token", "password", "key", "secret", "pkcs12", "passphrase")


def _clean(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    for k in data:
        if any(w in k.lower() for w in _SECRET_WORDS) and not k.endswith(("_set", "_last4", "_fingerprint", "_reference", "_id")):
            raise ValueError(f"audit data must not carry the secret field {k!r}")
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor_login: str
    action: str
    object_type: str
    object_id: int | None
    object_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit_values(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    label: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    return {
        "at": at or utcnow(),
        "actor_id": actor.id,
        "actor_login": actor.login,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_label": label[:300],
        "before": _clean(before),
        "after": _clean(after),
    }


def record(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert audit rows (from :func:`audit_values`) in the caller's transaction."""
    batch = list(rows)
    if batch:
        session.execute(insert(AuditEntry), batch)
    return len(batch)


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self, actor: Actor, *, action: str | None = None, object_type: str | None = None) -> int:
        require_admin(actor)
        q = select(func.count()).select_from(AuditEntry)
        if action:
            q = q.where(AuditEntry.action == action)
        if object_type:
            q = q.where(AuditEntry.object_type == object_type)
        with self.db.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def entries(
        self,
        actor: Actor,
        *,
        action: str | None = None,
        object_type: str | None = None,
        object_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[AuditRow]:
        require_admin(actor)
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
        if action:
            q = q.where(AuditEntry.action == action)
        if object_type:
            q = q.where(AuditEntry.object_type == object_type)
        if object_id is not None:
            q = q.where(AuditEntry.object_id == object_id)
        with self.db.session() as s:
            return [
                AuditRow(
                    id=e.id, at=e.at, actor_login=e.actor_login, action=e.action,
                    object_type=e.object_type, object_id=e.object_id, object_label=e.object_label,
                    before=json.loads(e.before) if e.before else None,
                    after=json.loads(e.after) if e.after else None,
                )
                for e in s.scalars(q)
            ]
