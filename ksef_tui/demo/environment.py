"""`ksef-tui demo`: a throwaway database with realistic data and local KSeF simulators.

One simulator per environment (TEST in test mode, DEMO and PRODUCTION in strict
mode, each with its own keys and state, so a DEMO credential does not work on
PRODUCTION) runs in-process on loopback; the demo database points its
environments at them. Ready-made demo credentials are issued by the simulators.

Profil Zaufany is simulated too: an unsigned AuthTokenRequest saved in the demo's
Downloads folder is "signed on gov.pl" within a second, as ``<name>-signed.xml``
beside it, like a file downloaded after signing.

``ksef-tui demo --login`` (:func:`add_demo_logins`) adds three accounts with published
passwords (:data:`DEMO_LOGINS`: an administrator, a client allowed to configure KSeF
and a blocked one) and starts at the login screen, which lists them (demo only).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ksef_tui.demo.logins import DEMO_LOGINS, DemoLogin
from ksef_tui.demo.seed import seed_demo
from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.store.models import Company, Membership, User

MODES = {Environment.TEST: "test", Environment.DEMO: "strict", Environment.PRODUCTION: "strict"}
DEMO_PESEL = "44051401359"


@dataclass
class DemoKsef:
    servers: dict[Environment, object]
    downloads: Path
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def sim(self, env: Environment):
        return self.servers[env].sim  # type: ignore[attr-defined]

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(2)
        for server in self.servers.values():
            server.stop()  # type: ignore[attr-defined]

    def watch_downloads(self) -> None:
        """Simulated gov.pl: sign every unsigned AuthTokenRequest that appears in Downloads."""

        def loop() -> None:
            done: set[Path] = set()
            while not self._stop.wait(0.5):
                for path in sorted(self.downloads.glob("*.xml")):
                    if path in done or path.stem.endswith("-signed"):
                        continue
                    done.add(path)
                    self.sign_file(path)

        self._watcher = threading.Thread(target=loop, name="demo-profil-zaufany", daemon=True)
        self._watcher.start()

    def sign_file(self, path: Path) -> Path | None:
        signed = self.sign_bytes(path.read_bytes(), path.name)
        if signed is None:
            return None
        out = path.with_name(path.stem + "-signed.xml")
        out.write_bytes(signed)
        return out

    def sign_bytes(self, data: bytes, name: str) -> bytes | None:
        """Simulated gov.pl: an unsigned AuthTokenRequest signed with Profil Zaufany (None: not one).
        The environment comes from the file's name (``…-DEMO.xml``), as the panel names it."""
        if b"AuthTokenRequest" not in data or b"Signature" in data:
            return None
        env = Environment.PRODUCTION if "PRODUCTION" in name else (
            Environment.TEST if "TEST" in name else Environment.DEMO)
        return self.sim(env).sign_as_trusted_profile(data, pesel=DEMO_PESEL, given_name="Jan", surname="Demo")


def start_simulators(status_delay_s: float = 0.4) -> dict[Environment, object]:
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    servers = {}
    for env, mode in MODES.items():
        app = create_app(SimulatorConfig(mode=mode, status_delay_s=status_delay_s, token_activation_delay_s=0.5,
                                         enrollment_delay_s=0.5))
        servers[env] = start_in_thread(app)
    return servers


def prepare(ctx: AppContext, downloads: Path, *, companies: int = 300, users: int = 900,
            credentials: int = 24) -> DemoKsef:
    """Seed the database, start the simulators, point the environments at them, issue demo credentials."""
    seed_demo(ctx.db, ctx.actor, companies=companies, users=users)
    servers = start_simulators()
    demo = DemoKsef(servers, downloads)
    downloads.mkdir(parents=True, exist_ok=True)
    for env, server in servers.items():
        ctx.credentials.connections.set_endpoint(ctx.actor, env, server.base_url)  # type: ignore[attr-defined]
    _register_demo_person(ctx, demo)
    _issue_credentials(ctx, demo, credentials)
    demo.watch_downloads()
    ctx.options["downloads_dir"] = str(downloads)
    ctx.options["demo"] = True
    ctx.options["demo_ksef"] = demo  # `demo --serve` offers its simulated gov.pl signing page
    return demo


def _register_demo_person(ctx: AppContext, demo: DemoKsef) -> None:
    """The person who signs with the simulated Profil Zaufany has rights in every demo company."""
    with ctx.db.engine.connect() as conn:
        nips = list(conn.execute(select(Company.nip)).scalars())
    for env in demo.servers:
        sim = demo.sim(env)
        for nip in nips:
            sim.testdata_person({"nip": nip, "pesel": DEMO_PESEL, "isBailiff": False,
                                 "description": "demo: Jan Demo"})


def _issue_credentials(ctx: AppContext, demo: DemoKsef, count: int) -> None:
    """Give the first users of KSeF-enabled companies working demo credentials."""
    with ctx.db.engine.connect() as conn:
        pairs = conn.execute(
            select(User.id, Company.id, Company.nip)
            .join(Membership, Membership.user_id == User.id)
            .join(Company, Company.id == Membership.company_id)
            .where(Company.ksef_enabled.is_(True))
            .order_by(User.sort_key, User.id)
            .limit(count)
        ).all()
    for i, (uid, cid, nip) in enumerate(pairs):
        token = demo.sim(Environment.DEMO).issue_ksef_token(nip, description=f"demo token {nip}")
        ctx.credentials.save_token(ctx.actor, uid, cid, Environment.DEMO, token,
                                   permissions=("InvoiceRead", "InvoiceWrite"), status="Active")
        if i % 2 == 0:
            cert_pem, key_pem = demo.sim(Environment.PRODUCTION).issue_ksef_certificate(
                nip=nip, given_name="Jan", surname="Demo", key="ec")
            cred = CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())
            ctx.credentials.save_certificate(ctx.actor, uid, cid, Environment.PRODUCTION, cred)


def add_demo_logins(ctx: AppContext, demo: DemoKsef | None = None, *, accounts=None) -> list[DemoLogin]:
    """Create the :data:`DEMO_LOGINS` users with their passwords, for ``ksef-tui demo --login``.

    The clients belong to companies with KSeF on (and the first also to one with KSeF off);
    with the simulators (``demo``) each client gets a working DEMO token for their first
    company, so the client view shows a configured credential. The list lands in
    ``ctx.options["demo_logins"]``: the login screen shows it only when it is there.
    """
    from ksef_tui.services.accounts import AccountService
    from ksef_tui.services.users import UserInput

    accounts = accounts or AccountService(ctx.db)
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(select(Company.id, Company.nip, Company.ksef_enabled)
                            .order_by(Company.sort_key, Company.id)).all()
    on = [(cid, nip) for cid, nip, enabled in rows if enabled]
    off = [cid for cid, _nip, enabled in rows if not enabled]
    companies: dict[str, list[tuple[int, str | None]]] = {
        "admin": [],
        "client": on[:2] + [(cid, None) for cid in off[:1]],
        "blocked": on[2:3] or on[:1],
    }
    for item in DEMO_LOGINS:
        mine = companies[item.login]
        user = ctx.users.create(ctx.actor, UserInput(
            login=item.login, full_name=item.full_name, email=f"{item.login}@biuro-demo.example.pl",
            role=item.role, may_configure_ksef=item.may_configure_ksef), [cid for cid, _nip in mine])
        accounts.set_password(ctx.actor, user.id, item.password)
        if demo is not None and mine and mine[0][1] is not None:
            cid, nip = mine[0]
            token = demo.sim(Environment.DEMO).issue_ksef_token(nip, description=f"demo token of {item.login}")
            ctx.credentials.save_token(ctx.actor, user.id, cid, Environment.DEMO, token,
                                       permissions=("InvoiceRead", "InvoiceWrite"), status="Active")
    ctx.options["demo_logins"] = list(DEMO_LOGINS)
    return list(DEMO_LOGINS)


def wait_ready(path: Path, timeout: float = 5.0) -> Path | None:  # pragma: no cover - helper for manual use
    deadline = time.monotonic() + timeout
    signed = path.with_name(path.stem + "-signed.xml")
    while time.monotonic() < deadline:
        if signed.exists():
            return signed
        time.sleep(0.1)
    return None


@contextlib.contextmanager
def demo_session(*, companies: int = 300, users: int = 900, simulator: bool = True,
                 logins: bool = False) -> Iterator[AppContext]:
    """A throwaway demo: a database and a master key of its own in a temporary folder (the user's key
    file is never touched), demo data, the local KSeF simulators unless ``simulator`` is off, and the
    demo accounts with ``logins``. Everything stops and is removed on exit."""
    import os
    import tempfile

    from ksef_tui.services.actor import Actor
    from ksef_tui.store.engine import open_database
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key

    with tempfile.TemporaryDirectory(prefix="ksef-tui-demo-") as tmp:
        os.environ[MASTER_KEY_ENV] = encode_key(MasterKey.generate().raw())
        db = open_database(f"sqlite:///{Path(tmp) / 'demo.sqlite3'}")
        ctx = AppContext(db, Actor.local_admin())
        demo = None
        try:
            if simulator:
                demo = prepare(ctx, Path(tmp) / "Downloads", companies=companies, users=users)
            else:
                seed_demo(db, ctx.actor, companies=companies, users=users)
            if logins:
                add_demo_logins(ctx, demo)
            yield ctx
        finally:
            if demo is not None:
                demo.stop()
            db.dispose()
