"""Validate recorded gateway requests against the official spec, openapi-v2.9.0.json.

Uses the simulator engineer's ``tests/contract/openapi.py`` (``validate_request``) when it
exists; otherwise a small jsonschema-based check of the path, method and JSON body.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "openapi.py"
#: the spec the checks use: ``use_spec(shared_dir)`` first (the ``shared_dir`` fixture skips
#: the test when ../shared is not beside the checkout)
SPEC: Path | None = None


def use_spec(shared_dir: Path) -> None:
    global SPEC
    SPEC = shared_dir / "ksef" / "openapi-v2.9.0.json"
    _spec.cache_clear()
    _templates.cache_clear()
    _components.cache_clear()


@functools.lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    assert SPEC is not None, "call use_spec(shared_dir) first"
    return json.loads(SPEC.read_text("utf-8"))


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in _spec()["paths"]:
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((re.compile(rx), template))
    # literal paths first (e.g. /auth/sessions before /auth/{referenceNumber})
    out.sort(key=lambda p: p[1].count("{"))
    return out


def template_for(path: str) -> str:
    for rx, template in _templates():
        if rx.match(path):
            return template
    raise AssertionError(f"{path} is not a path of the KSeF API")


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@functools.lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    return _nullable(_spec()["components"])


def _own_validate(method: str, template: str, body: Any) -> None:
    import jsonschema

    op = _spec()["paths"][template].get(method.lower())
    assert op is not None, f"{method} {template} is not in the spec"
    content = (op.get("requestBody") or {}).get("content") or {}
    if body is None:
        assert not (op.get("requestBody") or {}).get("required"), f"{method} {template} needs a body"
        return
    schema = (content.get("application/json") or {}).get("schema")
    assert schema is not None, f"{method} {template} takes no JSON body"
    root = {"components": _components(), **_nullable(schema)}
    jsonschema.Draft7Validator(root).validate(body)


def validate_request(method: str, path: str, body: Any, content_type: str | None = None) -> str:
    template = template_for(path)
    op = _spec()["paths"][template].get(method.lower())
    assert op is not None, f"{method} {template} is not in the spec"
    if content_type == "application/xml":
        assert "application/xml" in ((op.get("requestBody") or {}).get("content") or {})
        return template
    if CONTRACT.exists():
        spec = importlib.util.spec_from_file_location("_contract_openapi", CONTRACT)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        if hasattr(module, "validate_request"):
            module.validate_request(method, template, body)
            return template
    _own_validate(method, template, body)
    return template
