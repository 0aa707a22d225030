"""`ksef-tui demo`: a throwaway database with realistic data and local KSeF simulators.

Everything the demo writes lives in its own folder (:func:`demo_session`: ``ksef-tui-demo-XXXX``
in the system's temporary folder, printed at start, shown in the panel's Help, removed on exit):
the database, and ``Downloads/`` where the panel saves files (Profil Zaufany files, CSV exports)
and where the demo puts the files a newcomer needs (:data:`DEMO_KSEF_USERS`: a token to paste,
certificate and key files).

One simulator per environment (TEST in test mode, DEMO and PRODUCTION in strict
mode, each with its own keys and state, so a DEMO credential does not work on
PRODUCTION) runs in-process on loopback; the demo database points its
environments at them. Ready-made demo credentials are issued by the simulators.

Profil Zaufany is simulated too: an unsigned AuthTokenRequest saved anywhere under the demo's
Downloads folder (the user's screen, the client's view and the dashboard's enrollment all save
there) is "signed on gov.pl" within a second, as ``<name>-signed.xml`` beside it, like a file
downloaded after signing; the environment is the one that gave out its challenge.

``ksef-tui demo --login`` (:func:`add_demo_logins`) adds three accounts with published
passwords (:data:`DEMO_LOGINS`: an administrator, a client allowed to configure KSeF
and a blocked one) and starts at the login screen, which lists them (demo only).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ksef_tui.demo.logins import DEMO_KSEF_USERS, DEMO_LOGINS, DemoKsefUser, DemoLogin
from ksef_tui.demo.seed import seed_demo
from ksef_tui.domain.environments import Environment
from ksef_tui.services.context import AppContext
from ksef_tui.services.ksef.views import CertificateFiles
from ksef_tui.store.models import Company, Membership, User

MODES = {Environment.TEST: "test", Environment.DEMO: "strict", Environment.PRODUCTION: "strict"}
DEMO_PESEL = "44051401359"
#: the simulated gov.pl looks at the Downloads folder this often (seconds)
SIGN_POLL_S = 0.3
_CHALLENGE = re.compile(rb"<(?:[A-Za-z0-9_]+:)?Challenge>\s*([^<\s]+)\s*</")


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), whole or not at all."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    part.replace(path)


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

    def watch_downloads(self, poll_s: float = SIGN_POLL_S) -> None:
        """Simulated gov.pl: sign every unsigned AuthTokenRequest that appears under Downloads
        (its subfolders too: the dashboard's enrollment writes into one)."""

        def loop() -> None:
            seen: set[tuple[Path, int, int]] = set()
            while not self._stop.wait(poll_s):
                self.sign_new(seen)

        self._watcher = threading.Thread(target=loop, name="demo-profil-zaufany", daemon=True)
        self._watcher.start()

    def sign_new(self, seen: set[tuple[Path, int, int]]) -> list[Path]:
        """One look at Downloads: sign the files not seen in this version yet (a file generated again
        under the same name is a new file)."""
        signed = []
        for path in sorted(self.downloads.rglob("*.xml")):
            if path.stem.endswith("-signed"):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            mark = (path, st.st_mtime_ns, st.st_size)
            if mark in seen:
                continue
            seen.add(mark)
            try:
                out = self.sign_file(path)
            except Exception:  # a half-written or foreign file: not ours to sign
                out = None
            if out is not None:
                signed.append(out)
        return signed

    def environment_of(self, data: bytes, name: str) -> Environment:
        """The environment that gave out the file's challenge (else guessed from the file's name)."""
        match = _CHALLENGE.search(data)
        if match:
            challenge = match.group(1).decode("ascii", "replace")
            for env in self.servers:
                if self.sim(env).issued_challenge(challenge):
                    return env
        return Environment.PRODUCTION if "PRODUCTION" in name else (
            Environment.TEST if "TEST" in name else Environment.DEMO)

    def sign_file(self, path: Path) -> Path | None:
        signed = self.sign_bytes(path.read_bytes(), path.name)
        if signed is None:
            return None
        out = path.with_name(path.stem + "-signed.xml")
        write_private(out, signed)
        return out

    def sign_bytes(self, data: bytes, name: str) -> bytes | None:
        """Simulated gov.pl: an unsigned AuthTokenRequest signed with Profil Zaufany (None: not one),
        by the environment that gave out its challenge (else the one its name says: ``…-DEMO.xml``)."""
        if b"AuthTokenRequest" not in data or b"Signature" in data:
            return None
        env = self.environment_of(data, name)
        return self.sim(env).sign_as_trusted_profile(data, pesel=DEMO_PESEL, given_name="Jan", surname="Demo")


def start_simulators(status_delay_s: float = 0.4, *, token_activation_delay_s: float = 0.5,
                     enrollment_delay_s: float = 0.5) -> dict[Environment, Any]:
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    servers = {}
    for env, mode in MODES.items():
        app = create_app(SimulatorConfig(mode=mode, status_delay_s=status_delay_s,
                                         token_activation_delay_s=token_activation_delay_s,
                                         enrollment_delay_s=enrollment_delay_s))
        servers[env] = start_in_thread(app)
    return servers


def prepare(ctx: AppContext, downloads: Path, *, companies: int = 300, users: int = 900,
            credentials: int = 24, fast: bool = False) -> DemoKsef:
    """Seed the database, start the simulators, point the environments at them, issue demo credentials
    and the :data:`DEMO_KSEF_USERS` with their files in ``downloads``. ``fast``: simulators without
    the pauses of real KSeF (tests)."""
    seed_demo(ctx.db, ctx.actor, companies=companies, users=users)
    servers = start_simulators(0.0, token_activation_delay_s=0.0, enrollment_delay_s=0.0) if fast \
        else start_simulators()
    demo = DemoKsef(servers, downloads)
    downloads.mkdir(parents=True, exist_ok=True)
    for env, server in servers.items():
        ctx.credentials.connections.set_endpoint(ctx.actor, env, server.base_url)  # type: ignore[attr-defined]
    _register_demo_person(ctx, demo)
    _issue_credentials(ctx, demo, credentials)
    add_demo_ksef_users(ctx, demo)
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


# ---------------------------------------------------------------- users to try KSeF with

def demo_file_names(login: str, env: Environment) -> dict[str, str]:
    """The files the demo puts in Downloads for a user: a certificate, its key, a token to paste."""
    return {"certificate": f"{login}-{env.value}.crt", "key": f"{login}-{env.value}.key",
            "token": f"{login}-{env.value}-token.txt"}


def add_demo_ksef_users(ctx: AppContext, demo: DemoKsef) -> list[DemoKsefUser]:
    """Create the :data:`DEMO_KSEF_USERS`, each in a company of their own with KSeF on, with what
    :meth:`DemoKsefUser.describe` says; list them in ``ctx.options["demo_ksef_users"]``."""
    from ksef_tui.services.users import UserInput

    with ctx.db.engine.connect() as conn:
        on = conn.execute(select(Company.id, Company.nip).where(Company.ksef_enabled.is_(True))
                          .order_by(Company.sort_key, Company.id)).all()
    if not on:
        return []
    made = []
    for i, item in enumerate(DEMO_KSEF_USERS):
        cid, nip = on[(3 + i) % len(on)]  # after the companies of the --login clients
        user = ctx.users.create(ctx.actor, UserInput(
            login=item.login, full_name=item.full_name, email=f"{item.login}@biuro-demo.example.pl",
            role="client", may_configure_ksef=True), [cid])
        _ready(ctx, demo, item, user.id, cid, nip)
        made.append(item)
    ctx.options["demo_ksef_users"] = made
    return made


def _ready(ctx: AppContext, demo: DemoKsef, item: DemoKsefUser, uid: int, cid: int, nip: str) -> None:
    creds, actor = ctx.credentials, ctx.actor

    def token(env: Environment) -> str:
        return demo.sim(env).issue_ksef_token(nip, description=f"demo token of {item.login}")

    def certificate_files(env: Environment) -> CertificateFiles:
        cert_pem, key_pem = demo.sim(env).issue_ksef_certificate(nip=nip, given_name="Jan", surname="Demo", key="ec")
        names = demo_file_names(item.login, env)
        write_private(demo.downloads / names["certificate"], cert_pem.encode())
        write_private(demo.downloads / names["key"], key_pem.encode())
        return CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())

    if item.kind == "token":
        creds.save_token(actor, uid, cid, Environment.DEMO, token(Environment.DEMO),
                         permissions=("InvoiceRead", "InvoiceWrite"), status="Active")
    elif item.kind == "certificate":
        creds.save_certificate(actor, uid, cid, Environment.PRODUCTION, certificate_files(Environment.PRODUCTION))
        certificate_files(Environment.DEMO)  # for "Perform certificate authorization" on the DEMO row
    elif item.kind == "failing":
        value = token(Environment.DEMO)
        creds.save_token(actor, uid, cid, Environment.DEMO, value, permissions=("InvoiceRead",), status="Active")
        demo.sim(Environment.DEMO).revoke_ksef_token(value.split("|", 1)[0])
        asyncio.run(creds.test_authorization(actor, uid, cid, Environment.DEMO))  # recorded as failing
    elif item.kind == "test":
        creds.save_token(actor, uid, cid, Environment.TEST, token(Environment.TEST),
                         permissions=("InvoiceRead", "InvoiceWrite"), status="Active")
    elif item.kind == "new":
        name = demo_file_names(item.login, Environment.DEMO)["token"]
        write_private(demo.downloads / name, (token(Environment.DEMO) + "\n").encode())


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


@contextlib.contextmanager
def demo_session(*, companies: int = 300, users: int = 900, simulator: bool = True,
                 logins: bool = False, fast: bool = False) -> Iterator[AppContext]:
    """A throwaway demo: a database and a master key of its own in a folder of its own
    (``ctx.options["demo_folder"]``; the user's key file is never touched), demo data, the local KSeF
    simulators unless ``simulator`` is off, and the demo accounts with ``logins``. The panel writes
    its files into the folder's ``Downloads``. Everything stops and is removed on exit."""
    import tempfile

    from ksef_tui.services.actor import Actor
    from ksef_tui.store.engine import open_database
    from ksef_tui.vault.envelope import MASTER_KEY_ENV, MasterKey, encode_key

    with tempfile.TemporaryDirectory(prefix="ksef-tui-demo-") as tmp:
        folder = Path(tmp)
        # the demo's key for as long as the demo lasts; whatever the process had is put back on exit
        # (a key left behind would name a key that no longer exists, and take the key file's place)
        before = os.environ.get(MASTER_KEY_ENV)
        os.environ[MASTER_KEY_ENV] = encode_key(MasterKey.generate().raw())
        db = None
        demo = None
        try:
            db = open_database(f"sqlite:///{folder / 'demo.sqlite3'}")
            ctx = AppContext(db, Actor.local_admin())
            if simulator:
                demo = prepare(ctx, folder / "Downloads", companies=companies, users=users, fast=fast)
            else:
                seed_demo(db, ctx.actor, companies=companies, users=users)
                (folder / "Downloads").mkdir()
                ctx.options["downloads_dir"] = str(folder / "Downloads")
                ctx.options["demo"] = True
            ctx.options["demo_folder"] = str(folder)
            if logins:
                add_demo_logins(ctx, demo)
            yield ctx
        finally:
            if demo is not None:
                demo.stop()
            if db is not None:
                db.dispose()
            if before is None:
                os.environ.pop(MASTER_KEY_ENV, None)
            else:
                os.environ[MASTER_KEY_ENV] = before
