"""Every ``@work`` of the panel names its description (issue 13, no stall on the event loop).

Without one, Textual builds the worker's description on the event loop from ``repr()`` of every
argument: select all at 1,000,000 companies spent ~100 ms there on the repr of a million ids, and
the repr of a form's data would hold whatever it holds. The check reads the source (ast)."""

import ast
from pathlib import Path

import ksef_tui

PKG = Path(ksef_tui.__file__).parent


def _workers() -> dict[str, bool]:
    """Every function decorated with ``@work``: whether it names its description."""
    found = {}
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                if isinstance(target, ast.Name) and target.id == "work":
                    described = call is not None and any(k.arg == "description" for k in call.keywords)
                    found[f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name}"] = described
    return found


def test_every_worker_names_its_description():
    undescribed = [where for where, described in _workers().items() if not described]
    assert not undescribed, "give these @work(...) a description=: " + ", ".join(undescribed)


def test_the_check_sees_the_workers():
    names = {where.rsplit(" ", 1)[1] for where in _workers()}
    assert {"_load_rows", "_load_ids", "_apply_ids", "_export"} <= names
