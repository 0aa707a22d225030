"""Module sizes (issue 13): no module of ksef_tui over 600 lines; one over 400 states its reason in
DEVELOPERS.md ("Modules over 400 lines"), so a growing module is a decision someone wrote down."""

import re
from pathlib import Path

import ksef_tui

PKG = Path(ksef_tui.__file__).parent
ROOT = PKG.parent
LIMIT, EXPLAIN_ABOVE = 600, 400


def _sizes() -> dict[str, int]:
    return {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
            for p in PKG.rglob("*.py")}


def _stated_reasons() -> set[str]:
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    section = text.split("## Modules over 400 lines", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([^`]+\.py)` — \S", section, flags=re.M))


def test_no_module_over_600_lines():
    over = {path: n for path, n in _sizes().items() if n > LIMIT}
    assert not over, f"split these by what their parts do (limit {LIMIT} lines): {over}"


def test_every_module_over_400_lines_states_its_reason():
    sizes = _sizes()
    stated = _stated_reasons()
    unexplained = sorted(path for path, n in sizes.items() if n > EXPLAIN_ABOVE and path not in stated)
    assert not unexplained, f"state why each is over {EXPLAIN_ABOVE} lines in DEVELOPERS.md, or split it: {unexplained}"
    stale = sorted(path for path in stated if sizes.get(path, 0) <= EXPLAIN_ABOVE)
    assert not stale, f"these are no longer over {EXPLAIN_ABOVE} lines (or gone): drop them from DEVELOPERS.md: {stale}"


def test_the_check_sees_the_package():
    sizes = _sizes()
    assert "ksef_tui/ui/app.py" in sizes and len(sizes) > 100
    assert _stated_reasons(), "the DEVELOPERS.md section lists nothing"
