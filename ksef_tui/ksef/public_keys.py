"""MF public keys: choosing the token-encryption key and encrypting a KSeF token.

Choice (PROTOCOL.md §4): ``usage`` contains the purpose, valid now, latest ``validFrom``.
The list is cached per endpoint (24 h) and fetched again once on 400 code 21470.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from ksef_tui.domain.clock import system_clock
from ksef_tui.domain.secret import Secret
from ksef_tui.i18n import _
from ksef_tui.ksef.errors import KsefError, KsefProtocolError
from ksef_tui.ksef.models import parse_datetime

TOKEN_ENCRYPTION = "KsefTokenEncryption"
SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"
CACHE_TTL_S = 24 * 3600.0


@dataclass(frozen=True)
class PublicKeyCert:
    certificate_der: bytes
    public_key_id: str | None
    valid_from: dt.datetime
    valid_to: dt.datetime
    usage: tuple[str, ...]

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> PublicKeyCert:
        try:
            der = base64.b64decode(item["certificate"])
            vf = parse_datetime(item["validFrom"])
            vt = parse_datetime(item["validTo"])
        except (KeyError, ValueError, TypeError) as exc:
            raise KsefProtocolError(_("KSeF published a malformed public key certificate.")) from exc
        assert vf is not None and vt is not None
        return cls(der, item.get("publicKeyId"), vf, vt, tuple(item.get("usage") or ()))


def select_key(
    certs: list[PublicKeyCert], usage: str = TOKEN_ENCRYPTION, now: dt.datetime | None = None
) -> PublicKeyCert:
    now = now or system_clock()
    usable = [c for c in certs if usage in c.usage and c.valid_from <= now < c.valid_to]
    if not usable:
        raise KsefError(_("KSeF published no valid public key for {usage}.").format(usage=usage), code="no-public-key")
    return max(usable, key=lambda c: c.valid_from)


def encrypt_token(token: Secret[str], timestamp_ms: int, key: PublicKeyCert) -> str:
    """RSA-OAEP (SHA-256, MGF1-SHA-256, no label) of ``token|timestampMs``, Base64."""
    from ksef_client.services.crypto import encrypt_ksef_token_rsa

    ciphertext = encrypt_ksef_token_rsa(
        base64.b64encode(key.certificate_der), token.reveal().strip(), int(timestamp_ms)
    )
    return base64.b64encode(ciphertext).decode("ascii")


class KeyCache:
    """Public key lists per base URL, shared by all gateways in the process."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, list[PublicKeyCert]]] = {}

    def get(self, base_url: str) -> list[PublicKeyCert] | None:
        entry = self._entries.get(base_url)
        if entry is None or time.monotonic() - entry[0] > CACHE_TTL_S:
            return None
        return entry[1]

    def put(self, base_url: str, certs: list[PublicKeyCert]) -> None:
        self._entries[base_url] = (time.monotonic(), certs)

    def forget(self, base_url: str) -> None:
        self._entries.pop(base_url, None)


KEY_CACHE = KeyCache()
