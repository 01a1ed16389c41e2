"""Reading and writing spec documents, and telling Swagger 2.0 from OpenAPI 3.

Every spec bankscore writes is serialized the same way as the deployment's own files (key order as given,
two-space indent, UTF-8, final newline), so the same document always gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bankscore._exceptions import SwaggerError

__all__ = ["Document", "dump_document", "load_document", "parse_document", "record_spec", "spec_version"]

Document = dict[str, Any]


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
        document = json.loads(text)
    except ValueError as exc:
        raise SwaggerError(f"{source} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SwaggerError(f"{source} is not a spec: its JSON is a {type(document).__name__}, not an object")
    try:
        spec_version(document)
    except SwaggerError as exc:
        raise SwaggerError(f"{source} is {exc}") from None
    return document


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
