"""Where a scoring endpoint's spec lives: ``GET /swagger.json`` beside ``/score``."""

from __future__ import annotations

from typing import Final

import httpx

from bankscore._exceptions import SwaggerError

__all__ = ["swagger_url"]

_SPEC_PATH: Final = "swagger.json"
_SCORE_PATH: Final = "score"


def swagger_url(uri: str) -> httpx.URL:
    """The spec URL for a scoring URI (``.../score``), a service root, or a spec URL given as is."""
    try:
        url = httpx.URL(uri)
    except httpx.InvalidURL as exc:
        raise SwaggerError(f"{uri!r} is not a URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise SwaggerError(f"{uri!r} is not an http(s) URL")
    path = url.path
    if path.endswith(".json"):
        return url
    if path.rstrip("/").endswith("/" + _SCORE_PATH):
        path = path.rstrip("/").removesuffix(_SCORE_PATH)
    return url.copy_with(path=path.rstrip("/") + "/" + _SPEC_PATH)
