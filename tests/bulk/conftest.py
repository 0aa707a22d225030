"""Fixtures of the bulk tests: a fresh strict simulator (production limits on) per test."""

from __future__ import annotations

import pytest

from ksef_tui.services.ksef.views import CertificateFiles

PESEL = "44051401359"


@pytest.fixture
def limited_sim():
    from ksef_tui.simulator import SimulatorConfig, create_app
    from ksef_tui.simulator.server import start_in_thread

    server = start_in_thread(create_app(SimulatorConfig(
        mode="strict", rate_limits=True, status_delay_s=0.0, token_activation_delay_s=0.0,
        enrollment_delay_s=0.0)))
    server.sim.faults._random.seed(5)
    yield server
    server.stop()


@pytest.fixture
def bulk_ctx(ctx, limited_sim):
    from ksef_tui.domain.environments import Environment

    ctx.credentials.connections.set_endpoint(ctx.actor, Environment.DEMO, limited_sim.base_url)
    return ctx


def seed(ctx, sim, count, **kw):
    from benchmarks.bench_bulk import seed_token_users
    from ksef_tui.domain.environments import Environment

    return seed_token_users(ctx, sim, count, Environment.DEMO, **kw)


def give_rights(sim, targets, ctx) -> None:
    """The Profil Zaufany person has rights in every target's company."""
    from ksef_tui.store.models import Company

    with ctx.db.session() as s:
        nips = {s.get(Company, t.company_id).nip for t in targets}
    for nip in nips:
        sim.testdata_person({"nip": nip, "pesel": PESEL, "isBailiff": False, "description": "bulk test person"})


def pesel_for(index: int) -> str:
    """A valid PESEL per test person (born 1944-05-14, serial = index)."""
    base = f"440514{index:04d}"
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 10) % 10
    return base + str(check)


def give_each_rights(sim, targets, ctx) -> dict[int, str]:
    """Every user is a different person (a PESEL may hold only 6 KSeF certificates)."""
    from ksef_tui.store.models import Company, User

    out = {}
    with ctx.db.session() as s:
        for i, t in enumerate(targets):
            nip, login = s.get(Company, t.company_id).nip, s.get(User, t.user_id).login
            pesel = pesel_for(i)
            sim.testdata_person({"nip": nip, "pesel": pesel, "isBailiff": False, "description": f"person {login}"})
            out[login] = pesel
    return out


class GovPl:
    """Simulated gov.pl Profil Zaufany, outside the app: signs every unsigned ``AuthTokenRequest-*.xml``
    that appears in ``folder`` (each version once) and saves it as ``<name>-podpisany.xml``, or with
    ``in_place`` over the unsigned file (any name works: the watch matches by challenge).

    ``people`` maps a login (the file name's last part) to the signer's PESEL; ``with GovPl(...)``
    runs the signer in a thread; :attr:`errors` holds what went wrong in it."""

    def __init__(self, sim, folder, people: dict[str, str] | None = None, *, in_place: bool = False) -> None:
        import threading

        self.sim, self.folder, self.people, self.in_place = sim, folder, people or {}, in_place
        self.stop = threading.Event()
        self.signed: list = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="gov.pl", daemon=True)

    def __enter__(self) -> GovPl:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)

    def _run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:
            self.errors.append(exc)

    def loop(self) -> None:
        import hashlib

        done: set[tuple[str, str]] = set()
        while not self.stop.wait(0.02):
            if not self.folder.is_dir():
                continue
            for path in sorted(self.folder.glob("AuthTokenRequest-*.xml")):
                if path.stem.endswith("-podpisany"):
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                mark = (path.name, hashlib.sha256(data).hexdigest())
                if b"Signature" in data or mark in done or not _whole_xml(data):
                    continue  # signed already, seen, or still being written
                done.add(mark)
                login = path.stem.rsplit("-", 1)[-1]
                signed = self.sim.sign_as_trusted_profile(data, pesel=self.people.get(login, PESEL),
                                                          given_name="Jan", surname="Kowalski")
                out = path if self.in_place else path.with_name(path.stem + "-podpisany.xml")
                tmp = out.with_name(out.name + ".part")
                tmp.write_bytes(signed)
                tmp.replace(out)
                self.signed.append(out)


def _whole_xml(data: bytes) -> bool:
    from lxml import etree

    try:
        etree.fromstring(data)
    except etree.XMLSyntaxError:
        return False
    return True


def give_expiring_certificate(ctx, sim, target, *, days: int = 20, pesel: str = PESEL):
    """``target`` logs in with a KSeF certificate (of ``pesel``, who needs rights in the company) that
    expires in ``days`` days; its token stays saved. Returns the certificate's serial."""
    import datetime as dt

    from ksef_tui.domain.auth import AuthMethod

    ends = sim.now() + dt.timedelta(days=days)
    cert_pem, key_pem = sim.issue_ksef_certificate(pesel=pesel, given_name="Jan", surname="Kowalski",
                                                   valid_from=ends.replace(year=ends.year - 2))
    cred = CertificateFiles(cert_data=cert_pem.encode(), key_data=key_pem.encode())
    ctx.credentials.save_certificate(ctx.actor, target.user_id, target.company_id, target.environment, cred)
    view = ctx.credentials.get(ctx.actor, target.user_id, target.company_id, target.environment)
    serial = ctx.credentials.inspect_certificate(cred).serial_number
    assert view.method is AuthMethod.CERTIFICATE and view.cert_serial == serial
    return serial


# ---- driving the panel with the keyboard ----------------------------------------------------
from tests.pilot import wait_until as wait_for  # noqa: E402  (the one polling helper; the tests import it from here)


def shown(screen, selector: str) -> str:
    """The plain text a Static shows."""
    from textual.widgets import Static

    return str(screen.query_one(selector, Static).render())


def counts(screen, env=None) -> dict[str, int]:
    """The dashboard's count per bucket of one environment (DEMO)."""
    from ksef_tui.domain.environments import Environment

    env = env or Environment.DEMO
    return {r.bucket: r.count for r in screen.counts_table().loaded_rows() if r.environment is env}


async def choose_types(pilot) -> None:
    """The dashboard's enrollment asks which KSeF certificates: Enter takes what is ticked (Authentication)."""
    from ksef_tui.ui.ksef.cert_types import CertificateTypesDialog

    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CertificateTypesDialog), "the certificate types")
    await pilot.press("enter")


async def open_bucket(pilot, bucket: str, env=None) -> None:
    """On the dashboard: focus the counts (shift+tab), walk to ``bucket`` of ``env`` with the arrow
    keys and press Enter; the rows table gets the focus."""
    from ksef_tui.domain.environments import Environment

    env = env or Environment.DEMO
    screen = pilot.app.screen
    if not screen.showing_numbers:
        await pilot.press("n")  # from the picture to the numbers
    table = screen.counts_table()
    for _ in range(3):
        if pilot.app.focused is table:
            break
        await pilot.press("shift+tab")
    assert pilot.app.focused is table, pilot.app.focused
    await pilot.press("home")
    for _ in range(len(table.loaded_rows()) + 1):
        row = table.cursor_row
        if row is not None and row.environment is env and row.bucket == bucket:
            break
        await pilot.press("down")
    else:
        raise AssertionError(f"no {env.value} · {bucket} count on the dashboard")
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.opened is not None and screen.opened.bucket == bucket
                   and pilot.app.focused is screen.rows_table(), f"{bucket} rows opened")


def same_serial(a: str | None, b: str | None) -> bool:
    """Certificate serials compared as numbers (KSeF writes 16 hex digits, leading zeros included)."""
    return a is not None and b is not None and int(a, 16) == int(b, 16)
