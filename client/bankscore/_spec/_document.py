"""Reading and writing spec documents, and telling Swagger 2.0 from OpenAPI 3.

Every spec bankscore writes is serialized the same way as the deployment's own files (key order as given,
two-space indent, UTF-8, final newline), so the same document always gives the same bytes.

A spec pulled from a URL is untrusted: it is strict JSON (no ``NaN`` or ``Infinity``) nested at most
``MAX_DEPTH`` levels (real specs stay under 15), so no later step can meet a non-finite number or run out of
stack on it, and spec text quoted in a message goes through ``printable`` so it cannot add lines of its own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

from bankscore._exceptions import SwaggerError

__all__ = [
    "MAX_DEPTH",
    "Document",
    "check_document",
    "dump_document",
    "load_document",
    "parse_document",
    "printable",
    "record_spec",
    "spec_version",
]

Document = dict[str, Any]

MAX_DEPTH: Final = 64  # objects and arrays within each other; the deepest real spec we have nests 12


def printable(text: object) -> str:
    """``text`` on one line for a message or report: backslashes and unprintable characters escaped.

    Names that are plain text come back as they are (``emp.var.rate``); a newline becomes ``\\n``.
    """
    out = []
    for char in str(text):
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])  # \n, \x85, \u2028, \ud800
    return "".join(out)


def check_document(document: Any, source: str = "the spec") -> None:
    """Raise ``SwaggerError`` for a document nested deeper than ``MAX_DEPTH``, holding NaN or infinity, or text
    that is not valid Unicode.

    Iterative, so a hostile document cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise SwaggerError(f"{source} nests objects and arrays deeper than {MAX_DEPTH} levels")
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, float) and not math.isfinite(value):
            raise SwaggerError(f"{source} holds {value}, which is not a JSON number")
        elif isinstance(value, str) and not _is_unicode(value):
            raise SwaggerError(f'{source} holds the text "{printable(value[:40])}", which is not valid Unicode')


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")  # fails on a lone surrogate ("\ud800" in JSON), which no file can hold
    except UnicodeEncodeError:
        return False
    return True


def spec_version(document: Document) -> str:
    """``"2.0"`` for Swagger 2.0, the ``openapi`` value (``"3.0.3"``, ``"3.1.0"``) for OpenAPI 3.

    Raises ``SwaggerError`` for anything else.
    """
    if document.get("swagger") == "2.0":
        return "2.0"
    version = document.get("openapi")
    if isinstance(version, str) and version.startswith("3."):
        return version
    raise SwaggerError("not a Swagger 2.0 or OpenAPI 3 document (it has neither swagger: 2.0 nor openapi: 3.x)")


def parse_document(text: str | bytes, source: str) -> Document:
    """Parse JSON text into a spec document; ``source`` names it in error messages."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise SwaggerError(f"{source} nests objects and arrays deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise SwaggerError(f"{source} is not JSON: {printable(exc)}") from None
    check_document(document, source)
    if not isinstance(document, dict):
        raise SwaggerError(f"{source} is not a spec: its JSON is a {type(document).__name__}, not an object")
    try:
        spec_version(document)
    except SwaggerError as exc:
        raise SwaggerError(f"{source} is {exc}") from None
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_document(path: Path) -> Document:
    """Read a Swagger 2.0 or OpenAPI 3 JSON file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SwaggerError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_document(text, str(path))


def dump_document(document: Document) -> bytes:
    """The document's bytes: the same document always gives the same bytes."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def record_spec(
    record: dict[str, Any], *, info: dict[str, Any] | None = None, components: dict[str, Any] | None = None
) -> Document:
    """The smallest scoring spec around a record schema: ``POST /score`` taking ``{"data": [record, ...]}``."""
    body = {"type": "object", "properties": {"data": {"type": "array", "items": record}}}
    document: Document = {"openapi": "3.0.3"}
    if info is not None:
        document["info"] = info
    document["paths"] = {
        "/score": {
            "post": {
                "operationId": "RunMLService",
                "requestBody": {"content": {"application/json": {"schema": body}}},
                "responses": {"200": {"description": "Predictions"}},
            }
        }
    }
    if components is not None:
        document["components"] = components
    return document
