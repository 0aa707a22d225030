"""A tiny in-process fake of the KSeF auth endpoints for gateway unit tests (httpx.MockTransport).

The real end-to-end tests run against the project's simulator over loopback; this fake lets
unit tests script exact responses (429, 5xx, timeouts, status sequences) and count requests.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import Counter
from collections.abc import Callable

import httpx

from ksef_tui.domain.clock import system_clock  # the suite's now (KSEF_TUI_TEST_DAY moves it)

NOW = system_clock()


def _mf_key():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ministerstwo Finansów")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(NOW - dt.timedelta(days=10))
            .not_valid_after(NOW + dt.timedelta(days=300)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)


class FakeKsef:
    def __init__(self) -> None:
        self.key, self.der = _mf_key()
        self.counts: Counter[str] = Counter()
        self.statuses: list[dict] = [{"code": 200, "description": "Uwierzytelnianie zakończone sukcesem"}]
        self.overrides: dict[str, list[Callable[[httpx.Request], httpx.Response | None]]] = {}
        self.bodies: dict[str, list[bytes]] = {}
        self.auth_headers: list[str] = []

    def then(self, route: str, fn: Callable[[httpx.Request], httpx.Response | None]) -> None:
        self.overrides.setdefault(route, []).append(fn)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def decrypt(self, b64: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return self.key.decrypt(base64.b64decode(b64), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                                    algorithm=hashes.SHA256(), label=None)).decode()

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v2")
        route = f"{request.method} {path if not path.startswith('/auth/20') else '/auth/{ref}'}"
        self.counts[route] += 1
        self.bodies.setdefault(route, []).append(request.content)
        self.auth_headers.append(request.headers.get("X-Error-Format", ""))
        queue = self.overrides.get(route)
        if queue:
            resp = queue.pop(0)(request)
            if resp is not None:
                return resp
        if route == "POST /auth/challenge":
            return httpx.Response(200, json={"challenge": "20991231-CR-226FB7B000-3ACF9BE4C0-10",
                                             "timestamp": "2026-11-24T12:23:56.0154302+00:00",
                                             "timestampMs": 1795523036015, "clientIp": "127.0.0.1"})
        if route == "GET /security/public-key-certificates":
            return httpx.Response(200, json=[{"certificate": base64.b64encode(self.der).decode(),
                                              "publicKeyId": "A" * 43 + "=",
                                              "validFrom": (NOW - dt.timedelta(days=10)).isoformat(),
                                              "validTo": (NOW + dt.timedelta(days=300)).isoformat(),
                                              "usage": ["KsefTokenEncryption"]}])
        if route in ("POST /auth/ksef-token", "POST /auth/xades-signature"):
            return httpx.Response(202, json={"referenceNumber": "20991231-AU-1111111111-2222222222-33",
                                             "authenticationToken": {"token": "auth-jwt-secret",
                                                                     "validUntil": "2099-01-01T00:00:00Z"}})
        if route == "GET /auth/{ref}":
            st = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return httpx.Response(200, json={"startDate": NOW.isoformat(), "authenticationMethod": "Token",
                                             "status": st})
        if route == "POST /auth/token/redeem":
            return httpx.Response(200, json={
                "accessToken": {"token": "access-jwt-secret", "validUntil": "2099-01-01T00:15:00Z"},
                "refreshToken": {"token": "refresh-jwt-secret", "validUntil": "2099-01-08T00:00:00Z"}})
        if route == "POST /auth/token/refresh":
            return httpx.Response(200, json={"accessToken": {"token": "access-2", "validUntil": "2099-01-01T00:30:00Z"}})
        if route == "DELETE /auth/sessions/current":
            return httpx.Response(204)
        return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": route})


def legacy_error(code: int, desc: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"exception": {"exceptionDetailList": [
        {"exceptionCode": code, "exceptionDescription": desc, "details": []}]}})
