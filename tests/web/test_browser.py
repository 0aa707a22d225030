"""The portal in a real browser: headless Chromium (Debian's) driven by Playwright.

A client logs in, opens KSeF configuration, pastes a token (masked on screen, never sent back to
the browser), downloads the Profil Zaufany file, uploads it signed (by the simulator's trusted
profile signer), gets the token, logs out; a wrong password is refused and throttled.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.web.browser import CHROMIUM, FLAGS, BrowserTerminal, chromium_missing
from tests.web.conftest import CLIENT, CLIENT_PASSWORD, NIP

PESEL = "44051401359"


@pytest.fixture
def portal_office(office_db, ctx, ksef_servers):
    """The office database with its KSeF environments pointing at the loopback simulators."""
    for env, server in ksef_servers.items():
        ctx.credentials.connections.set_endpoint(ctx.actor, env, server.base_url)
    return office_db


@pytest.fixture
async def browser():
    missing = chromium_missing()
    if missing is not None:
        if os.environ.get("CI"):  # .ci/run installs Chromium: missing there is a failure, not a skip
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_portal(browser, url: str):
    context = await browser.new_context(viewport={"width": 1200, "height": 760}, accept_downloads=True)
    page = await context.new_page()
    term = BrowserTerminal(page)
    await page.goto(url + "/")
    await term.wait_for("ksef-tui: log in")
    await page.locator("#terminal").click()
    return context, page, term


async def log_in(term: BrowserTerminal, login: str, password: str) -> None:
    await term.type(login)
    await term.press("Enter")
    await asyncio.sleep(0.4)
    await term.type(password)
    await term.press("Enter")


async def test_a_client_configures_ksef_in_the_browser(portal_office, portal_factory, browser, ksef_servers, tmp_path):
    from ksef_tui.domain.environments import Environment
    from ksef_tui.simulator.errors import KsefApiError

    sim = ksef_servers[Environment.DEMO].app.state.sim  # the suite's simulators: other tests may have
    try:                                                # linked this person to this NIP already
        sim.testdata_person({"nip": NIP, "pesel": PESEL, "isBailiff": False, "description": "owner"})
    except KsefApiError as exc:
        assert exc.code == 30001  # "already exists"
    portal = portal_factory(portal_office)
    context, page, term = await open_portal(browser, portal.url)
    downloads = []
    context.on("page", lambda tab: tab.on("download", lambda d: downloads.append(d)))
    page.on("download", lambda d: downloads.append(d))

    # log in as a client: Profile → KSeF configuration of her company
    await log_in(term, CLIENT, CLIENT_PASSWORD)
    await term.wait_for("Profile → KSeF configuration")
    await term.wait_for("No KSeF token saved for DEMO.")

    # paste a token: masked on screen, and never sent back to the browser
    token = sim.issue_ksef_token(NIP, description="pasted in the browser")
    await term.click("paste the KSeF token")
    await term.paste(token)
    await asyncio.sleep(0.3)
    await term.press("Enter")
    await term.wait_for(f"…{token[-4:]}")
    await term.wait_for("Saved token:")  # the form repainted with the saved token
    assert "•" * 8 in term.text() or token[-4:] in term.text()
    secret_part = token[:-4].encode()
    assert secret_part not in term.received

    # Profil Zaufany: the file to sign comes as a download, the signed one goes up by upload
    await term.click_until("Get access token (Profil Zaufany)", "Step 1 of 3")
    await term.click_until("Generate the file", "Your browser downloads it", -1)  # the button, not the title
    await term.wait_for("Your browser downloads it")
    for _i in range(100):
        if downloads:
            break
        await asyncio.sleep(0.1)
    assert downloads, "no download arrived"
    download = downloads[0]
    assert download.suggested_filename == f"ksef-auth-{NIP}-DEMO.xml"
    unsigned = (tmp_path / "unsigned.xml")
    await download.save_as(unsigned)
    assert b"AuthTokenRequest" in unsigned.read_bytes()
    signed = tmp_path / "podpisany.xml"  # signed "at gov.pl" by the simulator's trusted profile signer
    signed.write_bytes(sim.sign_as_trusted_profile(unsigned.read_bytes(), pesel=PESEL, given_name="Klara",
                                                   surname="Klientka"))
    await term.click_until("Next →", "Step 2 of 3", -1)
    await term.click_until("Next →", "Step 3 of 3", -1)
    for attempt in range(3):  # "Upload…" opens the session's one-time link in a new tab
        try:
            async with context.expect_page(timeout=8000) as new_tab:
                await term.click("Upload…")
            break
        except Exception:
            if attempt == 2:
                raise
    upload = await new_tab.value
    await upload.wait_for_load_state()
    assert "/upload/" in upload.url
    await upload.set_input_files("#file", str(signed))
    await upload.click("#send")
    await upload.wait_for_selector("text=Received")
    await upload.close()
    await term.wait_for("Signed file OK")
    again = await context.new_page()  # the link is one-time
    response = await again.goto(upload.url)
    assert response.status == 404
    await again.close()
    await term.click_until("Get access token", "Getting the access token", -1)  # the button, not the title
    await term.wait_for("KSeF token saved for DEMO", timeout=60)
    assert secret_part not in term.received
    if os.environ.get("KSEF_TUI_PORTAL_SCREENSHOT"):  # screenshots/make_portal_screenshot.py
        await term.click("Close", -1)
        await term.wait_gone("Get access token —")
        await asyncio.sleep(0.5)
        await page.screenshot(path=os.environ["KSEF_TUI_PORTAL_SCREENSHOT"])

    # log out: the session ends, the page says so
    await term.press("Control+q")
    await page.wait_for_selector("#session-ended", state="visible", timeout=20000)
    await context.close()
    log = await portal.wait_log("end: logout")
    assert "a file of" in log and token not in log


async def test_a_wrong_password_is_refused_and_throttled(office_db, portal_factory, browser):
    portal = portal_factory(office_db)
    context, _page, term = await open_portal(browser, portal.url)
    await log_in(term, CLIENT, "not-her-password")
    await term.wait_for("Wrong login or password.")
    for _i in range(4):  # each wrong password costs a growing pause ("Checking…")
        await term.wait_gone("Checking…")
        await term.type("still-not-it")
        await term.press("Enter")
        await term.wait_for("Checking…")
    await term.wait_gone("Checking…")
    await term.wait_for("Too many wrong attempts: logging in from here is")
    await term.wait_for("blocked; try again in 30 s.")
    await term.type(CLIENT_PASSWORD)  # even the right password is refused from here for now
    await term.press("Enter")
    await term.wait_gone("Checking…")
    await term.wait_for("Too many wrong attempts")
    assert "Profile → KSeF configuration" not in term.text()
    await context.close()
