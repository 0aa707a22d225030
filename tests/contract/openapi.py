"""Validate JSON bodies against the official KSeF OpenAPI spec, 2.9.0 (``openapi-v2.9.0.json``).

Usable by any test::

    from tests.contract.openapi import validate_response, validate_request
    validate_response("POST", "/auth/challenge", 200, response.json())
    validate_request("POST", "/auth/ksef-token", body)

``$ref`` is resolved against the spec's components, OpenAPI 3.0 ``nullable`` is honoured, the
``date-time``/``byte``/``int32``/``int64`` formats are checked, and by default (``strict=True``)
objects that list their properties reject unknown ones, so a misspelled field fails.

Every function takes ``version`` (``"2.9.0"`` by default; ``"2.6.0"`` is the older saved spec,
``openapi-v2.json``, for tests that show what changed between the two).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

_SHARED = Path(os.environ.get("KSEF_TUI_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
SPEC_PATHS = {
    "2.9.0": Path(os.environ.get("KSEF_OPENAPI", _SHARED / "ksef" / "openapi-v2.9.0.json")),
    "2.6.0": _SHARED / "ksef" / "openapi-v2.json",
}
CURRENT = "2.9.0"
SPEC_PATH = SPEC_PATHS[CURRENT]
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class ContractError(AssertionError):
    pass


@lru_cache(maxsize=2)
def spec(version: str = CURRENT) -> dict[str, Any]:
    return json.loads(SPEC_PATHS[version].read_text(encoding="utf-8"))


def _convert(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (draft 4 + nullable)."""
    if isinstance(node, list):
        return [_convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value, strict) for key, value in node.items() if key not in ("example", "examples")}
    if strict and out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=4)
def _components(strict: bool, version: str) -> dict[str, Any]:
    return _convert(copy.deepcopy(spec(version)["components"]), strict)


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_DATE_TIME.match(value))

    @checker.checks("byte", raises=(binascii.Error, ValueError))
    def _byte(value: object) -> bool:
        if isinstance(value, str):
            base64.b64decode(value, validate=True)
        return True

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    return checker


def operation(method: str, path_template: str, *, version: str = CURRENT) -> dict[str, Any]:
    try:
        return spec(version)["paths"][path_template][method.lower()]
    except KeyError as exc:
        raise ContractError(f"{method.upper()} {path_template} is not in the {version} spec") from exc


def _validate(schema: dict[str, Any], body: Any, strict: bool, where: str, version: str) -> None:
    root = dict(_convert(copy.deepcopy(schema), strict))
    root["components"] = _components(strict, version)
    validator = jsonschema.Draft4Validator(root, format_checker=_format_checker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:10]]
        raise ContractError(f"{where}:\n  " + "\n  ".join(lines))


def response_schemas(
    method: str, path_template: str, status: int, *, version: str = CURRENT
) -> dict[str, dict[str, Any]]:
    responses = operation(method, path_template, version=version)["responses"]
    response = responses.get(str(status))
    if response is None:
        raise ContractError(f"{method.upper()} {path_template} documents no {status} response ({version})")
    return {ct: c["schema"] for ct, c in (response.get("content") or {}).items() if "schema" in c}


def validate_response(
    method: str,
    path_template: str,
    status: int,
    body: Any,
    *,
    content_type: str | None = None,
    strict: bool = True,
    version: str = CURRENT,
) -> None:
    """Assert ``body`` (parsed JSON, or ``None`` for an empty body) matches the documented response."""
    schemas = response_schemas(method, path_template, status, version=version)
    where = f"{method.upper()} {path_template} -> {status} ({version})"
    if not schemas:
        if body not in (None, b"", ""):
            raise ContractError(f"{where}: the spec documents no body, got {body!r}")
        return
    if content_type:
        media = content_type.split(";", 1)[0].strip()
        if media not in schemas:
            raise ContractError(f"{where}: content type {media} not documented ({sorted(schemas)})")
        _validate(schemas[media], body, strict, f"{where} [{media}]", version)
        return
    failures = []
    for media, schema in schemas.items():
        try:
            _validate(schema, body, strict, f"{where} [{media}]", version)
            return
        except ContractError as exc:
            failures.append(str(exc))
    raise ContractError("\n".join(failures))


def validate_request(
    method: str, path_template: str, body: Any, *, strict: bool = True, version: str = CURRENT
) -> None:
    """Assert a JSON request body matches the documented request schema."""
    request_body = operation(method, path_template, version=version).get("requestBody")
    if request_body is None:
        if body is not None:
            raise ContractError(f"{method.upper()} {path_template} takes no body")
        return
    content = request_body["content"]
    schema = (content.get("application/json") or next(iter(content.values())))["schema"]
    _validate(schema, body, strict, f"{method.upper()} {path_template} request ({version})", version)


@lru_cache(maxsize=2)
def _templates(version: str) -> list[tuple[re.Pattern[str], str]]:
    result = []
    for template in spec(version)["paths"]:
        regex = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        result.append((re.compile(f"^{regex}$"), template))
    # literal paths first: /auth/sessions must win over /auth/{referenceNumber}
    result.sort(key=lambda item: item[1].count("{"))
    return result


def match_template(method: str, path: str, *, version: str = CURRENT) -> str | None:
    """The spec path template for a concrete path below ``/v2`` (e.g. ``/auth/20250514-AU-...``)."""
    for regex, template in _templates(version):
        if regex.match(path) and method.lower() in spec(version)["paths"][template]:
            return template
    return None


def documented_codes(method: str, path_template: str, *, version: str = CURRENT) -> set[int] | None:
    """Exception codes the 400 answer's description table lists (``None``: the spec lists none)."""
    description = operation(method, path_template, version=version)["responses"].get("400", {}).get("description", "")
    codes = {int(code) for code in re.findall(r"^\|\s*(\d{4,5})\s*\|", description, flags=re.MULTILINE)}
    return codes or None


def exception_codes(body: Any) -> list[int]:
    """Exception codes of a 400 body (legacy ``ExceptionResponse`` or ``BadRequestProblemDetails``)."""
    if not isinstance(body, dict):
        return []
    if "exception" in body:
        return [d.get("exceptionCode") for d in body["exception"].get("exceptionDetailList") or []]
    return [e.get("code") for e in body.get("errors") or []]


def validate_httpx_response(
    method: str, path_template: str, response: Any, *, strict: bool = True, version: str = CURRENT
) -> Any:
    """Convenience for httpx responses: validates status/content type/body and returns the JSON."""
    body = response.json() if response.content else None
    validate_response(
        method,
        path_template,
        response.status_code,
        body,
        content_type=response.headers.get("content-type") if response.content else None,
        strict=strict,
        version=version,
    )
    return body
