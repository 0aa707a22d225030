"""After the start: status polling, redeem, refresh, bearer resolution and ``/auth/sessions``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from . import validation as v
from .core import Area, Caller, SimulatorCore, context_key, locked
from .errors import KsefApiError, ProblemError
from .permissions import PermissionsArea
from .state import AccessToken, AuthOperation

# Status texts of the spec (AuthenticationOperationStatusResponse).
AUTH_STATUS = {
    100: "Uwierzytelnianie w toku",
    200: "Uwierzytelnianie zakończone sukcesem",
    415: "Uwierzytelnianie zakończone niepowodzeniem",
    425: "Uwierzytelnienie unieważnione",
    450: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    460: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    470: "Uwierzytelnianie zakończone niepowodzeniem",
    480: "Uwierzytelnienie zablokowane",
    500: "Nieznany błąd",
    550: "Operacja została anulowana przez system",
}
REVOKED_BY_USER = "Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika"


class SessionsArea(Area):
    """Operation status, the token pair, who is calling, and the list of sessions of a context."""

    def __init__(self, core: SimulatorCore, permissions: PermissionsArea | None = None) -> None:
        super().__init__(core)
        #: recomputes the permission set at refresh (KSeF: "with the current permission set")
        self.permissions = permissions

    # -- status --------------------------------------------------------------------------------
    def _status_of(self, op: AuthOperation) -> tuple[int, list[str]]:
        if self.now() < op.ready_at:
            return 100, []
        if op.revoked:
            return 425, [REVOKED_BY_USER]
        return op.outcome_code, list(op.outcome_details)

    def _status_json(self, op: AuthOperation) -> dict[str, Any]:
        code, details = self._status_of(op)
        status: dict[str, Any] = {"code": code, "description": AUTH_STATUS[code]}
        if details:
            status["details"] = details
        return status

    @staticmethod
    def _method_info(op: AuthOperation) -> dict[str, str]:
        return {"category": op.method_category, "code": op.method_code, "displayName": op.method_display}

    def _operation_by_auth_token(self, bearer: str | None) -> AuthOperation:
        op = self.state.operation_by_auth_token(bearer) if bearer else None
        if op is None or self.now() > op.authentication_token_valid_until:
            raise ProblemError(401, "Brak lub nieprawidłowy token uwierzytelniania (authenticationToken).")
        return op

    @locked
    def auth_status(self, reference_number: str, bearer: str | None) -> dict[str, Any]:
        caller_op = self._operation_by_auth_token(bearer)
        op = self.state.operations.get(reference_number)
        if op is None:
            raise KsefApiError(
                21304,
                [f"Operacja uwierzytelniania o numerze referencyjnym {reference_number} nie została znaleziona."],
            )
        if op is not caller_op:
            raise ProblemError(403, "Token nie dotyczy tej operacji uwierzytelniania.",
                               reason_code="insufficient-resource-access")
        if self.now() > op.start_date + timedelta(seconds=self.config.auth_status_retention_s):
            raise ProblemError(410, "Status operacji uwierzytelniania nie jest już dostępny.")
        body: dict[str, Any] = {
            "startDate": self.ts(op.start_date),
            "authenticationMethod": op.method,
            "authenticationMethodInfo": self._method_info(op),
            "status": self._status_json(op),
        }
        body.update(self._session_flags(op))
        return body

    def _session_flags(self, op: AuthOperation) -> dict[str, Any]:
        flags: dict[str, Any] = {}
        if op.redeemed:
            flags["isTokenRedeemed"] = True
        if op.last_token_refresh:
            flags["lastTokenRefreshDate"] = self.ts(op.last_token_refresh)
        if op.refresh_token_valid_until:
            flags["refreshTokenValidUntil"] = self.ts(op.refresh_token_valid_until)
        return flags

    # -- redeem, refresh -----------------------------------------------------------------------
    def _ksef_token_revoked(self, op: AuthOperation) -> bool:
        if not op.ksef_token_reference:
            return False
        token = self.state.ksef_tokens.get(op.ksef_token_reference)
        return token is None or token.revoked

    def _issue_access_token(self, op: AuthOperation, permissions: list[str]) -> dict[str, str]:
        valid_until = self.now() + timedelta(seconds=self.config.access_token_ttl_s)
        token = self.core.jwt("ContextToken", op, valid_until)
        self.state.access_tokens[token] = AccessToken(token, op.reference_number, valid_until, list(permissions))
        self._purge_access_tokens()
        return {"token": token, "validUntil": self.ts(valid_until)}

    def _purge_access_tokens(self) -> None:
        now = self.now()
        for key in [k for k, t in self.state.access_tokens.items() if t.valid_until < now]:
            del self.state.access_tokens[key]

    @locked
    def redeem(self, bearer: str | None) -> dict[str, Any]:
        op = self._operation_by_auth_token(bearer)
        code, _ = self._status_of(op)
        if op.redeemed:
            raise KsefApiError(
                21301, [f"Tokeny dla operacji uwierzytelniania {op.reference_number} zostały już pobrane."]
            )
        if code == 470:
            raise KsefApiError(21308)
        if code != 200:
            raise KsefApiError(21301, [f"Status uwierzytelniania ({code}) nie pozwala na pobranie tokenów."])
        if self._ksef_token_revoked(op):
            raise KsefApiError(21301, ["Token KSeF został unieważniony."])
        op.redeemed = True
        refresh_until = self.now() + timedelta(seconds=self.config.refresh_token_ttl_s)
        op.refresh_token = self.core.jwt("RefreshToken", op, refresh_until)
        op.refresh_token_valid_until = refresh_until
        return {
            "accessToken": self._issue_access_token(op, op.permissions),
            "refreshToken": {"token": op.refresh_token, "validUntil": self.ts(refresh_until)},
        }

    def _operation_by_refresh_token(self, bearer: str | None) -> AuthOperation:
        op = self.state.operation_by_refresh_token(bearer) if bearer else None
        if op is None or op.refresh_token_valid_until is None or self.now() > op.refresh_token_valid_until:
            raise ProblemError(401, "Brak lub nieprawidłowy refresh token.")
        return op

    @locked
    def refresh(self, bearer: str | None) -> dict[str, Any]:
        op = self._operation_by_refresh_token(bearer)
        code, _ = self._status_of(op)
        if code != 200:
            raise KsefApiError(
                21301, [f"Status uwierzytelniania ({code}) nie pozwala na odświeżenie tokenu dostępowego."]
            )
        if self._ksef_token_revoked(op):
            raise KsefApiError(21301, ["Token KSeF został unieważniony."])
        op.last_token_refresh = self.now()
        current = self.permissions.current_for(op) if self.permissions is not None else op.permissions
        return {"accessToken": self._issue_access_token(op, current)}

    # -- protected endpoints: who is calling ---------------------------------------------------
    @locked
    def authenticate(self, bearer: str | None, client_ip: str, *, allow_refresh: bool = False) -> Caller:
        """Resolve the bearer token of a protected endpoint (401/403 problem details)."""
        if not bearer:
            raise ProblemError(401, "Brak tokenu dostępowego w nagłówku Authorization.")
        op: AuthOperation | None = None
        granted: list[str] | None = None
        access = self.state.access_tokens.get(bearer)
        if access is not None and self.now() <= access.valid_until:
            op = self.state.operations.get(access.reference_number)
            granted = access.permissions
        elif allow_refresh:
            candidate = self.state.operation_by_refresh_token(bearer)
            if (
                candidate is not None
                and candidate.refresh_token_valid_until is not None
                and self.now() <= candidate.refresh_token_valid_until
            ):
                op = candidate
        if op is None:
            raise ProblemError(401, "Token dostępowy jest nieprawidłowy lub wygasł.")
        if op.allowed_ips and not ip_allowed(client_ip, op.allowed_ips):
            raise ProblemError(
                403,
                "Adres IP nie jest dozwolony przez politykę autoryzacji.",
                reason_code="ip-not-allowed",
                security={"clientIp": client_ip},
            )
        return Caller(op, client_ip, granted)

    @locked
    def context_key_for_bearer(self, bearer: str | None) -> str | None:
        """Context of any token (access, refresh or authentication) for per-context rate limits."""
        if not bearer:
            return None
        access = self.state.access_tokens.get(bearer)
        op = self.state.operations.get(access.reference_number) if access else None
        op = op or self.state.operation_by_refresh_token(bearer) or self.state.operation_by_auth_token(bearer)
        return context_key(op.context_type, op.context_value) if op else None

    # -- /auth/sessions ------------------------------------------------------------------------
    @locked
    def list_sessions(self, caller: Caller, page_size: int, continuation: str | None) -> dict[str, Any]:
        now = self.now()
        sessions = [
            op
            for op in self.state.operations.values()
            if (op.context_type, op.context_value) == caller.context
            and op.redeemed
            and not op.revoked
            and op.refresh_token_valid_until is not None
            and op.refresh_token_valid_until > now
        ]
        sessions.sort(key=lambda op: op.start_date, reverse=True)
        offset = v.continuation_offset(continuation)
        page = sessions[offset : offset + page_size]
        items = []
        for op in page:
            item: dict[str, Any] = {
                "referenceNumber": op.reference_number,
                "isCurrent": op is caller.operation,
                "startDate": self.ts(op.start_date),
                "authenticationMethod": op.method,
                "authenticationMethodInfo": self._method_info(op),
                "status": self._status_json(op),
            }
            item.update(self._session_flags(op))
            items.append(item)
        body: dict[str, Any] = {"items": items}
        if offset + page_size < len(sessions):
            body["continuationToken"] = v.continuation_token(offset + page_size)
        return body

    @locked
    def revoke_current_session(self, caller: Caller) -> None:
        caller.operation.revoked = True

    @locked
    def revoke_session(self, caller: Caller, reference_number: str) -> None:
        op = self.state.operations.get(reference_number)
        if op is None or (op.context_type, op.context_value) != caller.context:
            # 2.9 lists only 21405 for this operation
            raise v.invalid(f"Sesja uwierzytelniania o numerze referencyjnym {reference_number} nie została znaleziona.")
        op.revoked = True


def ip_allowed(client_ip: str, allowed: dict[str, list[str]]) -> bool:
    """Whether an IPv4 address passes an ``AuthorizationPolicy.AllowedIps``."""
    try:
        ip = ipaddress.IPv4Address(client_ip)
    except ValueError:
        return False
    if client_ip in allowed.get("Ip4Address", []):
        return True
    for text in allowed.get("Ip4Range", []):
        low, _, high = text.partition("-")
        try:
            if ipaddress.IPv4Address(low) <= ip <= ipaddress.IPv4Address(high):
                return True
        except ValueError:
            continue
    for text in allowed.get("Ip4Mask", []):
        try:
            if ip in ipaddress.IPv4Network(text, strict=False):
                return True
        except ValueError:
            continue
    return False
