"""Where each KSeF environment lives (the official address, or another server such as the simulator),
and the gateways to it: every one paced by the process-wide limiter of its host (PROTOCOL.md §8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ksef_tui.domain.clock import Clock, system_clock
from ksef_tui.domain.environments import Environment
from ksef_tui.services import audit
from ksef_tui.services.actor import Actor, require_admin
from ksef_tui.store.engine import Database
from ksef_tui.store.models import KsefEndpoint

if TYPE_CHECKING:
    from ksef_tui.ksef.endpoints import Endpoint
    from ksef_tui.ksef.gateway import GatewayPolicy, KsefGateway
    from ksef_tui.ksef.limits import RateLimiter


def paced_gateway(endpoint: Endpoint, *, policy: GatewayPolicy | None = None,
                  limiter: RateLimiter | None = None, clock: Clock = system_clock) -> KsefGateway:
    """The one way the services make a gateway: paced by ``limiter``, by default the process-wide
    limiter of the endpoint's host (KSeF counts requests per IP, so per process and host)."""
    from ksef_tui.ksef.gateway import KsefGateway
    from ksef_tui.ksef.limits import limiter_for

    return KsefGateway(endpoint, policy=policy, limiter=limiter or limiter_for(endpoint.base_url), clock=clock)


class Connections:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def endpoint_url(self, env: Environment) -> str:
        with self.db.engine.connect() as conn:
            url = conn.execute(select(KsefEndpoint.base_url).where(KsefEndpoint.environment == env.value)).scalar()
        return url or env.base_url

    def set_endpoint(self, actor: Actor, env: Environment, url: str | None) -> None:
        """Point an environment at another server (e.g. the simulator); ``None``: the official one."""
        require_admin(actor)
        if url:
            from ksef_tui.ksef.endpoints import Endpoint

            url = Endpoint.custom(url).base_url
        with self.db.session() as s:
            row = s.get(KsefEndpoint, env.value)
            before = row.base_url if row else None
            if url:
                if row:
                    row.base_url = url
                else:
                    s.add(KsefEndpoint(environment=env.value, base_url=url))
            elif row:
                s.delete(row)
            if before != url:
                audit.record(s, [audit.audit_values(actor, "ksef.endpoint", "environment", None, env.value,
                                                    {"base_url": before}, {"base_url": url})])

    def endpoint(self, env: Environment, override: str | None = None) -> Endpoint:
        from ksef_tui.ksef.endpoints import Endpoint

        url = override or self.endpoint_url(env)
        if url == env.base_url:
            return Endpoint.for_environment(env)
        return Endpoint(Endpoint.custom(url).base_url, env)

    def gateway(self, env: Environment, base_url: str | None = None, *,
                limiter: RateLimiter | None = None) -> KsefGateway:
        """A gateway to ``env`` (or ``base_url``), paced by the host's limiter (or ``limiter``)."""
        return paced_gateway(self.endpoint(env, base_url), limiter=limiter, clock=self.clock)


class RunGateways:
    """The gateways of one serial run, one per environment, made on first use (through the host's
    limiter, or by ``factory`` in tests), their KSeF warnings gathered, closed together at the end."""

    def __init__(self, connections: Connections, *, limiter: Any = None,
                 factory: Callable[[Environment], KsefGateway] | None = None) -> None:
        self._connections = connections
        self._limiter = limiter
        self._factory = factory
        self._gateways: dict[Environment, KsefGateway] = {}

    def gateway(self, env: Environment) -> KsefGateway:
        gw = self._gateways.get(env)
        if gw is None:
            gw = (self._factory(env) if self._factory is not None
                  else self._connections.gateway(env, limiter=self._limiter))
            self._gateways[env] = gw
        return gw

    def warnings(self) -> tuple[str, ...]:
        """KSeF's distinct ``X-System-Warning``s over every gateway of this run (plain texts)."""
        from ksef_tui.services.ksef.credentials import warning_texts

        seen: dict[str, None] = {}
        for gw in self._gateways.values():
            seen.update(dict.fromkeys(warning_texts(gw.warnings)))
        return tuple(seen)

    async def aclose(self) -> None:
        gateways, self._gateways = list(self._gateways.values()), {}
        for gw in gateways:
            await gw.aclose()
