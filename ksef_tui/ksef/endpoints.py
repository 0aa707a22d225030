"""Where KSeF lives: the three official environments or a custom base URL."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from ksef_tui.domain.environments import Environment
from ksef_tui.i18n import _
from ksef_tui.ksef.errors import EndpointError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


@dataclass(frozen=True)
class Endpoint:
    """A KSeF API 2.0 base URL (ending in ``/v2``) and, when official, its environment."""

    base_url: str
    environment: Environment | None = None

    @classmethod
    def for_environment(cls, env: Environment | str) -> Endpoint:
        env = env if isinstance(env, Environment) else Environment.parse(env)
        return cls(env.base_url, env)

    @classmethod
    def custom(cls, url: str) -> Endpoint:
        """A custom base URL: https anywhere, plain http only on loopback (e.g. the simulator)."""
        raw = (url or "").strip()
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EndpointError(_("The KSeF address {address} is not an http(s) URL.").format(address=repr(raw)))
        if parts.username or parts.password or parts.query or parts.fragment:
            raise EndpointError(_("The KSeF address must not contain a user name, password, query or fragment."))
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise EndpointError(
                _("Plain http is allowed only on this computer (loopback), not for {host}.").format(host=parts.hostname)
            )
        base = raw.rstrip("/")
        if not base.endswith("/v2"):
            base += "/v2"
        for env in Environment:
            if env.base_url == base:
                return cls(base, env)
        return cls(base, None)

    @classmethod
    def parse(cls, env: str | None = None, base_url: str | None = None) -> Endpoint:
        if bool(env) == bool(base_url):
            raise EndpointError(_("Give either an environment (TEST, DEMO, PRODUCTION) or a base URL."))
        if env:
            try:
                return cls.for_environment(env)
            except ValueError:
                raise EndpointError(_("Unknown KSeF environment {name}; use TEST, DEMO or PRODUCTION.").format(
                                    name=repr(env)),
                                    code="environment") from None
        return cls.custom(base_url or "")

    @property
    def label(self) -> str:
        return self.environment.value if self.environment else self.base_url

    @property
    def is_loopback(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        return _is_loopback(host)

    def default_status_bound_s(self) -> float:
        """How long to wait for an authentication to leave status 100 by default.

        DEMO and PRODUCTION check qualified certificates with OCSP/CRL, which can take
        minutes (PROTOCOL.md §3.4); TEST and local simulators answer quickly.
        """
        if self.environment in (Environment.DEMO, Environment.PRODUCTION):
            return 600.0
        return 120.0

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def __str__(self) -> str:
        return self.label
