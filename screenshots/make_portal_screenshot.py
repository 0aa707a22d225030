"""Write screenshots/portal.png: the client portal (``ksef-tui serve``) in headless Chromium.

    python screenshots/make_portal_screenshot.py

Runs the browser suite's client journey (tests/web/test_browser.py) and keeps the page as the
client sees it after getting a token through Profil Zaufany. Needs Debian's Chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    out = HERE / "portal.png"
    env = dict(os.environ, KSEF_TUI_PORTAL_SCREENSHOT=str(out))
    test = "tests/web/test_browser.py::test_a_client_configures_ksef_in_the_browser"
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", test], cwd=HERE.parent, env=env)
    print(f"wrote {out}" if code == 0 and out.exists() else "failed", file=sys.stderr)
    sys.exit(code)
