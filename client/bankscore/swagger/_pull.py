"""Fetch a deployment's spec as OpenAPI 3, with the key, from whatever URL the user has at hand.

openapi-python-client's own ``--url`` sends no headers, so it cannot read a key-protected Azure spec. The Azure
ML inference server answers ``GET /swagger.json?version=3`` with OpenAPI 3.0.3; servers that predate it answer
404 or ignore the parameter and send Swagger 2.0, which is then converted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx

from bankscore._exceptions import SwaggerError
from bankscore._spec._convert import to_openapi3
from bankscore._spec._document import Document, parse_document, printable, spec_version
from bankscore._spec._url import swagger_url

__all__ = ["PulledSpec", "pull_spec", "swagger_url"]

# Statuses that mean "no OpenAPI 3 here" on the first request, so the plain (2.0) document is asked for next.
_NO_VERSION_3: Final = frozenset({400, 404, 422})


@dataclass(frozen=True, slots=True)
class PulledSpec:
    """An OpenAPI 3 document and where it came from. ``source_version`` is what the server sent (``2.0``...)."""

    document: Document
    url: str
    source_version: str

    @property
    def converted(self) -> bool:
        return self.source_version == "2.0"


def pull_spec(
    uri: str, *, key: str | None = None, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
) -> PulledSpec:
    """Fetch the spec behind ``uri`` as OpenAPI 3, sending ``Authorization: Bearer <key>`` when a key is given.

    Asks for ``?version=3`` first; when the server has no OpenAPI 3, fetches the default (Swagger 2.0) document
    and converts it. Raises ``SwaggerError`` with the status and the server's message (never the key).
    """
    url = swagger_url(uri)
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = key if key.lower().startswith("bearer ") else f"Bearer {key}"
    with httpx.Client(headers=headers, timeout=timeout, transport=transport, follow_redirects=True) as client:
        first_url = url.copy_merge_params({"version": "3"})
        response = _get(client, first_url)
        if response.status_code in _NO_VERSION_3:
            response = _get(client, url)
            fetched = url
        else:
            fetched = first_url
        _raise_for_status(response, fetched, key=key)
    document = parse_document(response.content, str(fetched))
    version = spec_version(document)
    return PulledSpec(to_openapi3(document), str(fetched), version)


def _get(client: httpx.Client, url: httpx.URL) -> httpx.Response:
    try:
        return client.get(url)
    except httpx.TimeoutException:
        raise SwaggerError(f"{url} did not answer within {client.timeout.read} s") from None
    except httpx.HTTPError as exc:
        raise SwaggerError(f"cannot fetch {url}: {printable(exc)}") from None


def _raise_for_status(response: httpx.Response, url: httpx.URL, *, key: str | None) -> None:
    status = response.status_code
    if status < 400:
        return
    reason = response.reason_phrase or "error"
    message = _server_message(response)
    if key:
        message = message.replace(key, "<key>")  # a server that echoes the header must not put the key in our error
    text = f"{url} answered {status} {printable(reason)}" + (f": {printable(message)}" if message else "")
    if status in {401, 403}:
        hint = "the key was refused" if key else "it needs a key"
        text += f" ({hint}; pass the endpoint's key with --key or BANKSCORE_KEY)"
    raise SwaggerError(text)


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.text.strip()[:200]
