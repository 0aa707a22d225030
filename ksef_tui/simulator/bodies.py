"""Reading request bodies safely: a size cap while streaming, and JSON that cannot hurt the server.

Nothing a client sends may produce a 500: the body is streamed and dropped at the cap (the whole
body is never buffered first), and JSON is parsed with bounded numbers and depth. What cannot be
read is "unreadable content": 21001 where the 2.9 spec lists it for the operation, 21405 elsewhere.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from .errors import KsefApiError

UNREADABLE = 21001
INVALID = 21405
#: Deepest JSON nesting accepted (the deepest KSeF request body here has 4 levels).
MAX_JSON_DEPTH = 32
#: Longest integer literal accepted (int64 has 19 digits plus a sign).
MAX_NUMBER_DIGITS = 20


class BodyTooLarge(KsefApiError):
    """The body was longer than the cap (the rest of it was not read)."""


async def read_body(request: Request, cap: int, *, code: int) -> bytes:
    """The body, or :class:`BodyTooLarge` (``code``) as soon as it passes ``cap`` bytes."""
    declared = (request.headers.get("content-length") or "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(code, [f"Treść żądania przekracza dopuszczalny rozmiar {cap} bajtów."])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(code, [f"Treść żądania przekracza dopuszczalny rozmiar {cap} bajtów."])
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"liczba całkowita ma więcej niż {MAX_NUMBER_DIGITS} cyfr")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > 2 * MAX_NUMBER_DIGITS:
        raise ValueError(f"liczba ma więcej niż {2 * MAX_NUMBER_DIGITS} znaków")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("liczba spoza zakresu")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} nie jest dozwolone w JSON")


def _check_tree(value: Any, code: int) -> None:
    """Depth at most :data:`MAX_JSON_DEPTH`; every string (keys too) encodable as UTF-8."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            if level > MAX_JSON_DEPTH:
                raise KsefApiError(code, [f"JSON zagnieżdżony głębiej niż {MAX_JSON_DEPTH} poziomy."])
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
        elif isinstance(node, str) and not _utf8(node):
            raise KsefApiError(code, ["Nieprawidłowy JSON: tekst zawiera niesparowany surogat UTF-16 (\\uD800-\\uDFFF)."])


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(raw: bytes, *, code: int) -> Any:
    """Parse a JSON body; anything unreadable raises ``KsefApiError(code)`` with a clear detail."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KsefApiError(code, [f"Treść nie jest poprawnym UTF-8 (bajt {exc.start})."]) from exc
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise KsefApiError(code, [f"Nieprawidłowy JSON: {exc.msg} (wiersz {exc.lineno}, kolumna {exc.colno})."]) from exc
    except RecursionError as exc:
        raise KsefApiError(code, [f"JSON zagnieżdżony głębiej niż {MAX_JSON_DEPTH} poziomy."]) from exc
    except ValueError as exc:
        raise KsefApiError(code, [f"Nieprawidłowy JSON: {exc}."]) from exc
    _check_tree(value, code)
    return value
