"""KSeF token management: ``/tokens`` (PROTOCOL.md §5)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from . import ids
from . import validation as v
from .core import Area, Caller, locked
from .errors import KsefApiError, ProblemError
from .state import KsefToken

TOKEN_STATUSES = ("Pending", "Active", "Revoking", "Revoked", "Failed")


class TokensArea(Area):
    """Generating, listing and revoking KSeF tokens of a context."""

    def _token_json(self, token: KsefToken) -> dict[str, Any]:
        body: dict[str, Any] = {
            "referenceNumber": token.reference_number,
            "authorIdentifier": {"type": token.author_type, "value": token.author_value},
            "contextIdentifier": {"type": token.context_type, "value": token.context_value},
            "description": token.description,
            "requestedPermissions": list(token.permissions),
            "dateCreated": self.ts(token.created),
            "status": token.status(self.now()),
        }
        if token.last_use:
            body["lastUseDate"] = self.ts(token.last_use)
        return body

    def create(
        self,
        *,
        context: tuple[str, str],
        author: tuple[str, str],
        permissions: list[str],
        description: str,
        activation_delay_s: float,
        issued_at: datetime | None = None,
    ) -> tuple[str, KsefToken]:
        """Store a new token (callers hold the lock); returns ``(secret token, record)``. ``issued_at``
        (seeding only): a token the office has had since that moment (its reference number's date)."""
        now = (issued_at or self.now()).astimezone(UTC)
        ref = ids.reference_number(ids.TOKEN, now)
        prefix = {"Nip": "nip", "InternalId": "internalId"}[context[0]]
        value = f"{ref}|{prefix}-{context[1]}|{secrets.token_hex(32)}"
        token = KsefToken(
            reference_number=ref,
            token=value,
            context_type=context[0],
            context_value=context[1],
            author_type=author[0],
            author_value=author[1],
            permissions=list(permissions),
            description=description,
            created=now,
            active_from=now + timedelta(seconds=activation_delay_s),
        )
        self.state.ksef_tokens[ref] = token
        return value, token

    @locked
    def issue(
        self,
        context_nip: str,
        permissions: list[str] | tuple[str, ...],
        description: str,
        *,
        context_type: str,
        author_nip: str | None,
        issued_at: datetime | None = None,
    ) -> str:
        """An already ``Active`` token (seeding, outside the API); returns the secret token."""
        if not 5 <= len(description) <= 256:
            raise ValueError("description must have 5 to 256 characters (GenerateTokenRequest)")
        for perm in permissions:
            if perm not in v.TOKEN_PERMISSIONS:
                raise ValueError(f"unknown permission {perm!r}")
        value, _ = self.create(
            context=(context_type, context_nip),
            author=("Nip", author_nip or context_nip.split("-", 1)[0]),
            permissions=list(permissions),
            description=description,
            activation_delay_s=0.0,
            issued_at=issued_at,
        )
        return value

    @locked
    def generate_token(self, caller: Caller, body: Any) -> dict[str, Any]:
        if caller.category != "XadesSignature" or caller.subject is None:
            raise ProblemError(
                403,
                "Generowanie tokena wymaga uwierzytelnienia podpisem XAdES.",
                reason_code="auth-method-not-allowed",
                security={"authenticationMethodCategory": caller.category},
            )
        body = v.require_object(body)
        permissions = body.get("permissions")
        if not isinstance(permissions, list) or not permissions:
            raise v.invalid("Pole 'permissions' musi być niepustą listą.")
        for perm in permissions:
            if perm not in v.TOKEN_PERMISSIONS:
                raise v.invalid(f"Nieznane uprawnienie '{perm}'.")
        description = v.string(body, "description", min_len=5, max_len=256)
        assert description is not None
        if caller.context[0] not in ("Nip", "InternalId"):
            raise KsefApiError(
                26002, [f"Typ kontekstu: {caller.context[0]}. Dozwolone typy kontekstu: Nip, InternalId."]
            )
        missing = [p for p in dict.fromkeys(permissions) if p not in caller.permissions]
        if missing:
            raise KsefApiError(26001, [f"Brakujące uprawnienia: {', '.join(missing)}."])
        value, token = self.create(
            context=caller.context,
            author=caller.subject,
            permissions=list(dict.fromkeys(permissions)),
            description=description,
            activation_delay_s=self.config.token_activation_delay_s,
        )
        return {"referenceNumber": token.reference_number, "token": value}

    def _visible_tokens(self, caller: Caller) -> list[KsefToken]:
        in_context = [
            t for t in self.state.ksef_tokens.values() if (t.context_type, t.context_value) == caller.context
        ]
        if {"CredentialsManage", "CredentialsRead"} & set(caller.permissions):
            return in_context
        if caller.category == "Token":
            return [t for t in in_context if t.reference_number == caller.operation.ksef_token_reference]
        return [t for t in in_context if (t.author_type, t.author_value) == caller.subject]

    @locked
    def query_tokens(
        self,
        caller: Caller,
        *,
        statuses: list[str],
        description: str | None,
        author_identifier: str | None,
        author_identifier_type: str | None,
        page_size: int,
        continuation: str | None,
    ) -> dict[str, Any]:
        now = self.now()
        for status in statuses:
            if status not in TOKEN_STATUSES:
                raise v.invalid(f"Nieznany status tokena '{status}'.")
        if description is not None and len(description) < 3:
            raise v.invalid("Parametr 'description' musi mieć co najmniej 3 znaki.")
        if author_identifier is not None and len(author_identifier) < 3:
            raise v.invalid("Parametr 'authorIdentifier' musi mieć co najmniej 3 znaki.")
        if author_identifier_type is not None and author_identifier_type not in ("Nip", "Pesel", "Fingerprint"):
            raise v.invalid("Parametr 'authorIdentifierType' ma nieprawidłową wartość.")
        tokens = self._visible_tokens(caller)
        if statuses:
            tokens = [t for t in tokens if t.status(now) in statuses]
        if description:
            tokens = [t for t in tokens if description.lower() in t.description.lower()]
        if author_identifier:
            tokens = [t for t in tokens if author_identifier.upper() in t.author_value.upper()]
        if author_identifier_type:
            tokens = [t for t in tokens if t.author_type == author_identifier_type]
        tokens.sort(key=lambda t: t.created, reverse=True)
        offset = v.continuation_offset(continuation)
        body: dict[str, Any] = {"tokens": [self._token_json(t) for t in tokens[offset : offset + page_size]]}
        if offset + page_size < len(tokens):
            body["continuationToken"] = v.continuation_token(offset + page_size)
        return body

    def _find_visible_token(self, caller: Caller, reference_number: str) -> KsefToken:
        token = next((t for t in self._visible_tokens(caller) if t.reference_number == reference_number), None)
        if token is None:
            raise v.invalid(f"Token o numerze referencyjnym {reference_number} nie został znaleziony.")
        return token

    @locked
    def token_status(self, caller: Caller, reference_number: str) -> dict[str, Any]:
        return self._token_json(self._find_visible_token(caller, reference_number))

    @locked
    def revoke_token(self, caller: Caller, reference_number: str) -> None:
        token = self._find_visible_token(caller, reference_number)
        if (
            "CredentialsManage" not in caller.permissions
            and caller.operation.ksef_token_reference != token.reference_number
            and (token.author_type, token.author_value) != caller.subject
        ):
            raise ProblemError(
                403,
                "Brak uprawnień do unieważnienia tokena.",
                reason_code="missing-permissions",
                security={"requiredAnyOfPermissions": ["CredentialsManage"], "presentPermissions": caller.permissions},
            )
        token.revoked = True
