"""Layer rules: non-UI code never imports Textual; start-up stays light."""

import subprocess
import sys
from pathlib import Path

import ksef_tui

PKG = Path(ksef_tui.__file__).parent
NON_UI = ["domain", "store", "services", "ksef", "simulator"]


def _modules(sub: str) -> list[str]:
    return sorted(
        "ksef_tui." + ".".join(p.relative_to(PKG).with_suffix("").parts)
        for p in (PKG / sub).rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )


def test_non_ui_layers_never_import_textual():
    mods = [m.removesuffix(".__init__") for sub in NON_UI for m in _modules(sub)]
    code = (
        "import sys, importlib\n"
        f"mods = {mods!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "print('TEXTUAL' if bad else 'CLEAN')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "CLEAN"


def test_source_of_non_ui_layers_has_no_textual_import():
    for sub in NON_UI:
        for p in (PKG / sub).rglob("*.py"):
            src = p.read_text(encoding="utf-8")
            assert "import textual" not in src and "from textual" not in src, p


def test_help_imports_no_heavy_modules():
    code = (
        "import sys\n"
        "from ksef_tui.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = [m for m in ('textual','sqlmodel','sqlalchemy','httpx','cryptography','lxml','ksef_client','signxml','starlette','uvicorn') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
