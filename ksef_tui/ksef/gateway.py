"""The KSeF API 2.0 gateway: authorization, sessions, KSeF tokens and KSeF certificates.

The rest of the app depends only on :class:`KsefGateway` and the types in
:mod:`ksef_tui.ksef.models`. All network I/O goes through :class:`KsefHttp`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.secret import Secret
from ksef_tui.i18n import N_, _
from ksef_tui.ksef import authxml
from ksef_tui.ksef.certificates import Credential, check_usable
from ksef_tui.ksef.endpoints import Endpoint
from ksef_tui.ksef.errors import (
    KsefAuthFailed,
    KsefError,
    KsefHttpError,
    KsefInputError,
    KsefOperationFailed,
    KsefProtocolError,
    KsefTimeout,
    code_meaning,
)
from ksef_tui.ksef.gateway_certificates import CertificateCalls, _join, _status
from ksef_tui.ksef.http import HttpPolicy, KsefHttp, RequestObserver, Retry, json_body
from ksef_tui.ksef.models import (
    AuthSession,
    Challenge,
    Context,
    GeneratedToken,
    Progress,
    RateLimit,
    RateLimits,
    SessionInfo,
    SystemWarning,
    TokenInfo,
    UnsignedRequest,
    parse_datetime,
)
from ksef_tui.ksef.public_keys import KEY_CACHE, TOKEN_ENCRYPTION, KeyCache, PublicKeyCert, encrypt_token, select_key

if TYPE_CHECKING:
    from ksef_tui.ksef.permissions import KsefPermissions
    from ksef_tui.ksef.signedfile import SignedFileFacts

#: ``TokenPermissionType`` of API 2.9.0 (``CollectiveIdentifierManage`` since 2.7.0)
TOKEN_PERMISSIONS = (
    "InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage",
    "SubunitManage", "EnforcementOperations", "Introspection", "CollectiveIdentifierManage",
)


@dataclass(frozen=True)
class GatewayPolicy:
    http: HttpPolicy = field(default_factory=HttpPolicy)
    #: Overall bound for an authentication to leave status 100 (None: by environment,
    #: 10 min on DEMO/PRODUCTION, 2 min elsewhere).
    status_bound_s: float | None = None
    poll_initial_s: float = 0.25
    poll_factor: float = 1.6
    poll_cap_s: float = 2.0
    token_active_bound_s: float = 120.0
    enrollment_bound_s: float = 300.0
    #: Send ``verifyCertificateChain`` with XAdES (None: leave it out, KSeF's default).
    verify_certificate_chain: bool | None = None


class KsefGateway(CertificateCalls):
    """Async client of one KSeF endpoint. Use ``async with KsefGateway(endpoint) as gw:``.

    Its /certificates/* calls are in :class:`~ksef_tui.ksef.gateway_certificates.CertificateCalls`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        policy: GatewayPolicy | None = None,
        transport: Any = None,
        observer: RequestObserver | None = None,
        key_cache: KeyCache = KEY_CACHE,
        clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        limiter: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy or GatewayPolicy()
        self._sleep = sleep
        #: optional :class:`ksef_tui.ksef.limits.RateLimiter` pacing every request (PROTOCOL.md §8)
        self.limiter = limiter
        self._http = KsefHttp(endpoint, self.policy.http, transport=transport, observer=observer, sleep=sleep,
                              limiter=limiter)
        self._keys = key_cache
        self._clock = clock or system_clock

    async def __aenter__(self) -> KsefGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def warnings(self) -> tuple[SystemWarning, ...]:
        """The distinct non-blocking warnings KSeF sent (``X-System-Warning``) through this gateway."""
        return tuple(self._http.warnings)

    @property
    def permissions(self) -> KsefPermissions:
        """The ``/permissions/*`` calls (grants, withdrawals, their status, the queries)."""
        from ksef_tui.ksef.permissions import KsefPermissions

        return KsefPermissions(self._http, self._poll)

    # ------------------------------------------------------------------ basics

    async def challenge(self) -> Challenge:
        r = await self._http.call("POST", "/auth/challenge", operation=N_("the authorization challenge request"),
                                  retry=Retry.RATE_LIMIT_ONLY)
        body = json_body(r, N_("the challenge request"))
        try:
            ts = parse_datetime(body["timestamp"])
            ms = body.get("timestampMs")
            ms = int(ms) if ms is not None else int(ts.timestamp() * 1000)  # type: ignore[union-attr]
            return Challenge(str(body["challenge"]), ts, ms, body.get("clientIp"))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise KsefProtocolError(_("KSeF sent a malformed authorization challenge.")) from exc

    async def public_keys(self, *, refresh: bool = False) -> list[PublicKeyCert]:
        cached = None if refresh else self._keys.get(self.endpoint.base_url)
        if cached is not None:
            return cached
        r = await self._http.call("GET", "/security/public-key-certificates",
                                  operation=N_("the public key list request"), retry=Retry.IDEMPOTENT)
        items = json_body(r, N_("the public key list request"))
        if not isinstance(items, list):
            raise KsefProtocolError(_("KSeF sent a malformed public key list."))
        certs = [PublicKeyCert.from_json(i) for i in items if isinstance(i, dict)]
        self._keys.put(self.endpoint.base_url, certs)
        return certs

    # ------------------------------------------------------------ authorization

    async def authorize_with_token(
        self,
        context: Context,
        token: Secret[str],
        *,
        progress: Progress | None = None,
        allowed_ips: dict[str, list[str]] | None = None,
    ) -> AuthSession:
        """KSeF token: RSA-OAEP of ``token|timestampMs`` with the MF key, then status and redeem."""
        if not token or not token.reveal().strip():
            raise KsefInputError(_("The KSeF token is empty."), code="bad-file")
        ch = await self.challenge()
        _step(progress, "challenge")
        init: dict[str, Any] | None = None
        for attempt in (1, 2):
            key = select_key(await self.public_keys(refresh=attempt == 2), TOKEN_ENCRYPTION, self._clock())
            body: dict[str, Any] = {
                "challenge": ch.challenge,
                "contextIdentifier": context.as_json(),
                "encryptedToken": encrypt_token(token, ch.timestamp_ms, key),
            }
            if key.public_key_id:
                body["publicKeyId"] = key.public_key_id
            if allowed_ips:
                body["authorizationPolicy"] = {"allowedIps": {
                    "ip4Addresses": allowed_ips.get("Ip4Address", []),
                    "ip4Ranges": allowed_ips.get("Ip4Range", []),
                    "ip4Masks": allowed_ips.get("Ip4Mask", []),
                }}
            if attempt == 1:
                _step(progress, "encrypted")
            try:
                r = await self._http.call("POST", "/auth/ksef-token", json=body, expected=(202,),
                                          operation=N_("the KSeF token authorization"), retry=Retry.RATE_LIMIT_ONLY)
            except KsefHttpError as exc:
                if exc.code == 21470 and attempt == 1:
                    self._keys.forget(self.endpoint.base_url)
                    continue
                raise
            init = json_body(r, N_("the KSeF token authorization"))
            break
        assert init is not None
        _step(progress, "sent")
        return await self._finish(init, "token", context, progress)

    async def authorize_with_certificate(
        self,
        context: Context,
        credential: Credential,
        *,
        subject_type: str = "certificateSubject",
        schema_version: str = "2.0",
        progress: Progress | None = None,
    ) -> AuthSession:
        """XAdES: AuthTokenRequest for a fresh challenge, XSD check, sign, send, poll, redeem."""
        check_usable(credential.facts, self._clock())
        ch = await self.challenge()
        _step(progress, "challenge")

        def signed_request() -> bytes:  # XML, XSD and XAdES (and their first import): in a thread
            from ksef_tui.ksef.xades import sign_auth_request

            xml = authxml.build_auth_token_request(ch.challenge, context, subject_type=subject_type,
                                                   schema_version=schema_version)
            return sign_auth_request(xml, credential, check=False)

        signed = await asyncio.to_thread(signed_request)
        _step(progress, "signed")
        init = await self._send_xades(signed)
        _step(progress, "sent")
        return await self._finish(init, "certificate", context, progress)

    async def prepare_signed_file_request(
        self,
        context: Context,
        *,
        subject_type: str = "certificateSubject",
        schema_version: str = "2.0",
    ) -> UnsignedRequest:
        """An unsigned AuthTokenRequest for a fresh challenge, to be signed outside (Profil Zaufany)."""
        ch = await self.challenge()
        xml = await asyncio.to_thread(authxml.build_auth_token_request, ch.challenge, context,
                                      subject_type=subject_type, schema_version=schema_version)
        return UnsignedRequest(xml, ch, context)

    async def authorize_with_signed_file(
        self,
        data: bytes,
        *,
        expected_challenge: Challenge | str | None = None,
        expected_context: Context | None = None,
        progress: Progress | None = None,
    ) -> AuthSession:
        """Check an externally signed file locally (in a thread: XML and signatures), then send its
        bytes unchanged."""

        def checked() -> SignedFileFacts:
            from ksef_tui.ksef.signedfile import check_signed_file

            return check_signed_file(data, expected_challenge=expected_challenge,
                                     expected_context=expected_context, now=self._clock())

        facts = await asyncio.to_thread(checked)
        _step(progress, "signed")
        init = await self._send_xades(data)
        _step(progress, "sent")
        return await self._finish(init, "signed-file", facts.context, progress)

    async def _send_xades(self, data: bytes) -> dict[str, Any]:
        params = None
        if self.policy.verify_certificate_chain is not None:
            params = {"verifyCertificateChain": str(self.policy.verify_certificate_chain).lower()}
        r = await self._http.call("POST", "/auth/xades-signature", content=data, content_type="application/xml",
                                  params=params, expected=(202,), operation=N_("the signed authorization request"),
                                  retry=Retry.RATE_LIMIT_ONLY)
        return json_body(r, N_("the signed authorization request"))

    async def _finish(self, init: dict[str, Any], method: str, context: Context,
                      progress: Progress | None) -> AuthSession:
        try:
            ref = str(init["referenceNumber"])
            auth_token: Secret[str] = Secret(str(init["authenticationToken"]["token"]))
        except (KeyError, TypeError) as exc:
            raise KsefProtocolError(_("KSeF did not return a reference number and authentication token.")) from exc
        self._bind(auth_token, context)
        status = await self.wait_for_authentication(ref, auth_token, progress=progress)
        tokens = await self._redeem(auth_token)
        _step(progress, "redeemed")
        try:
            access, refresh = tokens["accessToken"], tokens["refreshToken"]
            self._bind(Secret(str(access["token"])), context)
            self._bind(Secret(str(refresh["token"])), context)
            return AuthSession(
                reference_number=ref,
                method=method,
                context=context,
                access_token=Secret(str(access["token"])),
                access_valid_until=parse_datetime(access["validUntil"]),  # type: ignore[arg-type]
                refresh_token=Secret(str(refresh["token"])),
                refresh_valid_until=parse_datetime(refresh["validUntil"]),  # type: ignore[arg-type]
                ksef_method=_method_name(status),
                endpoint_url=self.endpoint.base_url,
                ksef_method_category=_method_category(status),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KsefProtocolError(_("KSeF returned malformed access and refresh tokens.")) from exc

    def _bind(self, token: Secret[str], context: Context) -> None:
        """Requests made with this bearer count against ``context``'s limits (per context and IP)."""
        if self.limiter is not None:
            self.limiter.bind(token.reveal(), str(context))

    async def auth_status(self, reference_number: str, authentication_token: Secret[str]) -> dict[str, Any]:
        r = await self._http.call("GET", f"/auth/{reference_number}", bearer=authentication_token,
                                  operation=N_("the authentication status request"), retry=Retry.IDEMPOTENT)
        return json_body(r, N_("the authentication status request"))

    async def wait_for_authentication(
        self, reference_number: str, authentication_token: Secret[str], *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Poll ``GET /auth/{ref}`` with backoff until 200; raise on any code >= 400 or the bound."""
        bound = self.policy.status_bound_s or self.endpoint.default_status_bound_s()

        async def fetch() -> tuple[int, dict[str, Any]]:
            body = await self.auth_status(reference_number, authentication_token)
            _step(progress, "status")
            return _status(body).code, body

        code, body = await self._poll(fetch, bound, N_("the authentication"))
        if code >= 400:
            st = _status(body)
            meaning = code_meaning(code) or st.description
            detail = f": {_join(st.details)}" if st.details else ""
            raise KsefAuthFailed(
                _("KSeF authentication failed with status {code} ({meaning}){detail}.").format(
                    code=code, meaning=meaning, detail=detail),
                code=code, description=st.description, details=st.details, reference_number=reference_number,
                problem=body,
            )
        return body

    async def _poll(self, fetch: Callable[[], Any], bound_s: float, what: str) -> tuple[int, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound_s
        delay = self.policy.poll_initial_s
        waited = 0.0  # counted too, so an injected fake sleep also meets the bound
        while True:
            code, body = await fetch()
            if code != 100:
                return code, body
            if loop.time() + delay > deadline or waited + delay > bound_s:
                raise KsefTimeout(_("KSeF did not finish {operation} within {seconds} s (still in progress, "
                                    "status 100).").format(operation=_(what), seconds=f"{bound_s:g}"))
            await self._sleep(delay)
            waited += delay
            delay = min(self.policy.poll_cap_s, delay * self.policy.poll_factor)

    async def _redeem(self, authentication_token: Secret[str]) -> dict[str, Any]:
        r = await self._http.call("POST", "/auth/token/redeem", bearer=authentication_token,
                                  operation=N_("the token redeem request"), retry=Retry.NEVER)
        return json_body(r, N_("the token redeem request"))

    # ----------------------------------------------------------------- sessions

    async def refresh(self, session: AuthSession) -> AuthSession:
        """A new access token from the refresh token (the refresh token stays)."""
        r = await self._http.call("POST", "/auth/token/refresh", bearer=session.refresh_token,
                                  operation=N_("the access token refresh"), retry=Retry.RATE_LIMIT_ONLY)
        body = json_body(r, N_("the access token refresh"))
        try:
            access = body["accessToken"]
            self._bind(Secret(str(access["token"])), session.context)
            return session.with_access(Secret(str(access["token"])), parse_datetime(access["validUntil"]))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise KsefProtocolError(_("KSeF returned a malformed access token.")) from exc

    async def revoke_current(self, session: AuthSession) -> None:
        await self._http.call("DELETE", "/auth/sessions/current", bearer=session.access_token, expected=(204,),
                              operation=N_("the session revocation"), retry=Retry.RATE_LIMIT_ONLY)

    async def revoke_session(self, session: AuthSession, reference_number: str) -> None:
        await self._http.call("DELETE", f"/auth/sessions/{reference_number}", bearer=session.access_token,
                              expected=(204,), operation=N_("the session revocation"), retry=Retry.RATE_LIMIT_ONLY)

    async def list_sessions(self, session: AuthSession, *, page_size: int = 10, max_pages: int = 20) -> list[SessionInfo]:
        out: list[SessionInfo] = []
        cont: str | None = None
        for _page in range(max_pages):
            headers = {"x-continuation-token": cont} if cont else None
            r = await self._http.call("GET", "/auth/sessions", bearer=session.access_token, headers=headers,
                                      params={"pageSize": page_size}, operation=N_("the session list request"),
                                      retry=Retry.IDEMPOTENT)
            body = json_body(r, N_("the session list request"))
            for item in body.get("items") or []:
                out.append(SessionInfo(
                    reference_number=item.get("referenceNumber", ""),
                    is_current=bool(item.get("isCurrent")),
                    start_date=parse_datetime(item.get("startDate")),
                    method=_method_name(item),
                    status=_status(item) if isinstance(item.get("status"), dict) else None,
                    is_token_redeemed=item.get("isTokenRedeemed"),
                    refresh_token_valid_until=parse_datetime(item.get("refreshTokenValidUntil")),
                ))
            cont = body.get("continuationToken")
            if not cont:
                break
        return out

    # ------------------------------------------------------------------ limits

    async def rate_limits(self, session: AuthSession) -> RateLimits:
        """``GET /rate-limits``: the effective limits of the session's context, every group KSeF lists
        (2.9.0: also ``anonymous``, ``global``, the session-close groups and ``collectiveIdentifier``)."""
        r = await self._http.call("GET", "/rate-limits", bearer=session.access_token,
                                  operation=N_("the rate limits request"), retry=Retry.IDEMPOTENT)
        return _rate_limits(json_body(r, N_("the rate limits request")))

    # ------------------------------------------------------------------ tokens

    async def generate_token(self, session: AuthSession, permissions: list[str] | tuple[str, ...],
                             description: str) -> GeneratedToken:
        perms = [p.strip() for p in permissions if p.strip()]
        bad = [p for p in perms if p not in TOKEN_PERMISSIONS]
        if not perms or bad:
            raise KsefInputError(_("Unknown token permissions {bad}; use {known}.").format(
                bad=", ".join(bad) or _("(none given)"), known=", ".join(TOKEN_PERMISSIONS)), code=21405)
        if not 5 <= len(description) <= 256:
            raise KsefInputError(_("A token description must have 5 to 256 characters."), code=21405)
        r = await self._http.call("POST", "/tokens", bearer=session.access_token, expected=(202,),
                                  json={"permissions": perms, "description": description},
                                  operation=N_("the token generation request"), retry=Retry.RATE_LIMIT_ONLY)
        body = json_body(r, N_("the token generation request"))
        try:
            generated = GeneratedToken(str(body["referenceNumber"]), Secret(str(body["token"])))
        except KeyError as exc:
            raise KsefProtocolError(_("KSeF did not return the new token.")) from exc
        await self._refuse_foreign_token(session, generated)
        return generated

    async def _refuse_foreign_token(self, session: AuthSession, generated: GeneratedToken) -> None:
        """A token KSeF made in another context than the one this session was opened for (a signed file
        that authenticated another company) is revoked at once, and the caller is told; never kept."""
        from ksef_tui.domain.token import InvalidToken, parse_token

        try:
            made_for = parse_token(generated.token.reveal()).nip
        except InvalidToken:
            return
        wanted = session.context.value if session.context.type in ("Nip", "nip") else None
        if made_for is None or wanted is None or made_for == wanted:
            return
        try:
            await self.revoke_token(session, generated.reference_number)
            fate = _("It was revoked at once; nothing was saved.")
        except KsefError:
            fate = _("It could not be revoked: revoke the token {ref} in KSeF now.").format(
                ref=generated.reference_number)
        raise KsefOperationFailed(_(
            "KSeF made the new token for NIP {made_for}, not for {wanted}: the authorization was for another "
            "company. {fate}").format(made_for=made_for, wanted=wanted, fate=fate),
            code="wrong-context", reference_number=generated.reference_number)

    async def token_status(self, session: AuthSession, reference_number: str) -> TokenInfo:
        r = await self._http.call("GET", f"/tokens/{reference_number}", bearer=session.access_token,
                                  operation=N_("the token status request"), retry=Retry.IDEMPOTENT)
        return _token_info(json_body(r, N_("the token status request")))

    async def wait_token_active(self, session: AuthSession, reference_number: str,
                                *, bound_s: float | None = None) -> TokenInfo:
        """Poll until the token is ``Active``; ``Failed``/``Revoked``/``Revoking`` raise."""
        async def fetch() -> tuple[int, TokenInfo]:
            info = await self.token_status(session, reference_number)
            code = {"Pending": 100, "Active": 200}.get(info.status, 400)
            return code, info

        code, info = await self._poll(fetch, bound_s or self.policy.token_active_bound_s, N_("the token activation"))
        if code != 200:
            detail = f": {_join(info.status_details)}" if info.status_details else ""
            raise KsefOperationFailed(_("The KSeF token did not become active; its status is {status}{detail}.")
                                      .format(status=info.status, detail=detail),
                                      code="token-" + info.status.lower(), details=info.status_details,
                                      reference_number=reference_number)
        return info

    async def list_tokens(self, session: AuthSession, *, statuses: list[str] | None = None,
                          description: str | None = None, page_size: int = 100, max_pages: int = 20) -> list[TokenInfo]:
        out: list[TokenInfo] = []
        cont: str | None = None
        params: list[tuple[str, str | int]] = [("pageSize", page_size)]
        params += [("status", s) for s in statuses or []]
        if description:
            params.append(("description", description))
        for _page in range(max_pages):
            headers = {"x-continuation-token": cont} if cont else None
            r = await self._http.call("GET", "/tokens", bearer=session.access_token, headers=headers,
                                      params=params, operation=N_("the token list request"),  # type: ignore[arg-type]
                                      retry=Retry.IDEMPOTENT)
            body = json_body(r, N_("the token list request"))
            out.extend(_token_info(t) for t in body.get("tokens") or [])
            cont = body.get("continuationToken")
            if not cont:
                break
        return out

    async def revoke_token(self, session: AuthSession, reference_number: str) -> None:
        await self._http.call("DELETE", f"/tokens/{reference_number}", bearer=session.access_token, expected=(204,),
                              operation=N_("the token revocation"), retry=Retry.RATE_LIMIT_ONLY)


# ---------------------------------------------------------------------- helpers


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _method_name(body: dict[str, Any]) -> str | None:
    """How the person logged in, as KSeF names it: ``authenticationMethodInfo`` (2.1+; the display
    name, else its code) wins over the older ``authenticationMethod`` (kept beyond 16 Nov 2026)."""
    info = body.get("authenticationMethodInfo")
    if isinstance(info, dict):
        for key in ("displayName", "code"):
            if info.get(key):
                return str(info[key])
    method = body.get("authenticationMethod")
    return str(method) if method else None


def _method_category(body: dict[str, Any]) -> str | None:
    info = body.get("authenticationMethodInfo")
    if isinstance(info, dict) and info.get("category"):
        return str(info["category"])
    return None


def _rate_limits(body: Any) -> RateLimits:
    if not isinstance(body, dict):
        raise KsefProtocolError(_("KSeF sent malformed rate limits."))
    groups: dict[str, RateLimit] = {}
    for name, values in body.items():
        if not isinstance(values, dict):
            continue
        try:
            groups[str(name)] = RateLimit(int(values["perSecond"]), int(values["perMinute"]), int(values["perHour"]))
        except (KeyError, TypeError, ValueError):
            raise KsefProtocolError(_("KSeF sent a malformed rate limit group {name}.").format(
                name=repr(str(name)[:40]))) from None
    return RateLimits(groups)


def _token_info(t: dict[str, Any]) -> TokenInfo:
    ctx = t.get("contextIdentifier") or {}
    author = t.get("authorIdentifier") or {}
    context = None
    if ctx.get("type") in ("Nip", "InternalId", "NipVatUe", "PeppolId"):
        context = Context(ctx["type"], str(ctx.get("value", "")))
    return TokenInfo(
        reference_number=str(t.get("referenceNumber", "")),
        status=str(t.get("status", "")),
        description=str(t.get("description", "")),
        permissions=tuple(t.get("requestedPermissions") or ()),
        context=context,
        author=f"{author.get('type')} {author.get('value')}" if author else None,
        date_created=parse_datetime(t.get("dateCreated")),
        last_use_date=parse_datetime(t.get("lastUseDate")),
        status_details=tuple(str(d) for d in t.get("statusDetails") or ()),
        valid_to=_optional_datetime(t.get("validTo")),
    )


def _optional_datetime(value: Any) -> dt.datetime | None:
    """A date-time KSeF may add later (a token's ``validTo``): parsed when readable, else None."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


__all__ = ["TOKEN_PERMISSIONS", "GatewayPolicy", "KsefError", "KsefGateway"]
