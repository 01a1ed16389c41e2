"""Where to send records and with which key: arguments, then ``BANKSCORE_URI``/``BANKSCORE_KEY``, then the local
deployment saved in the workspace.

The local deployment's ``state.json`` and ``keys.json`` are read here directly rather than through
``bankscore.deploy._local``, which imports the scoring script and with it numpy: the client must stay light.
"""

from __future__ import annotations

import ipaddress
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from bankscore._exceptions import BankscoreError
from bankscore._generations import WireGeneration

__all__ = ["DEFAULT_DEPLOYMENT", "Endpoint", "Key", "local_endpoint", "resolve_endpoint"]

DEFAULT_DEPLOYMENT: Final = "bank-marketing"
URI_ENV: Final = "BANKSCORE_URI"
KEY_ENV: Final = "BANKSCORE_KEY"


class Key:
    """A scoring key or token that never shows itself in a repr, a log line or an exception."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.removeprefix("Bearer ").removeprefix("bearer ")

    def reveal(self) -> str:
        return self._value

    def header(self) -> str:
        return f"Bearer {self._value}"

    def scrub(self, text: str) -> str:
        """``text`` with the key replaced (a server that echoes the header must not leak it into our errors)."""
        return text.replace(self._value, "<key>") if self._value else text

    def __repr__(self) -> str:
        return "Key('<hidden>')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Key is not picklable")  # pickles end up in files and logs


@dataclass(frozen=True, slots=True)
class Endpoint:
    scoring_uri: str
    key: Key | None = field(default=None, repr=False)
    generation: WireGeneration | None = None

    @property
    def swagger_uri(self) -> str:
        from bankscore._spec._url import swagger_url

        return str(swagger_url(self.scoring_uri))


def _workspace_home() -> Path:
    # bankscore.workspace.home() without creating the folder: looking for a deployment must not make one.
    return Path(os.environ.get("BANKSCORE_HOME") or Path.cwd() / ".bankscore").resolve()


def local_endpoint(name: str = DEFAULT_DEPLOYMENT) -> Endpoint:
    """The local deployment ``name`` as ``bankscore deploy local`` saved it."""
    folder = _workspace_home() / "deployments" / name
    try:
        state = json.loads((folder / "state.json").read_text())
    except FileNotFoundError:
        raise BankscoreError(
            f"no local deployment {name!r} in {folder.parent}: start one with `bankscore deploy local"
            + ("" if name == DEFAULT_DEPLOYMENT else f" --name {name}")
            + "`, or pass the scoring URI (or set BANKSCORE_URI)"
        ) from None
    except (OSError, ValueError) as exc:
        raise BankscoreError(f"cannot read the local deployment {name!r}: {exc}") from None
    key = None
    keys_file = folder / "keys.json"
    if keys_file.is_file():
        primary = json.loads(keys_file.read_text()).get("primary")
        key = Key(primary) if primary else None
    uri = state.get("scoring_uri") or f"http://127.0.0.1:{state['port']}/score"
    generation = WireGeneration(state["generation"]) if state.get("generation") else None
    return Endpoint(uri, key, generation)


def resolve_endpoint(
    scoring_uri: str | None, key: str | None, generation: WireGeneration | str | None, name: str | None
) -> Endpoint:
    """Arguments first, then the environment, then the local deployment ``name`` (default ``bank-marketing``)."""
    chosen = WireGeneration(generation) if generation is not None else None
    uri = scoring_uri or (None if name else os.environ.get(URI_ENV))
    if uri is None:
        local = local_endpoint(name or DEFAULT_DEPLOYMENT)
        given = Key(key) if key else local.key
        return Endpoint(local.scoring_uri, given, chosen or local.generation)
    secret = key if key is not None else os.environ.get(KEY_ENV)
    endpoint = Endpoint(uri, Key(secret) if secret else None, chosen)
    _warn_plain_http(endpoint)
    return endpoint


def _warn_plain_http(endpoint: Endpoint) -> None:
    url = httpx.URL(endpoint.scoring_uri)
    if endpoint.key is None or url.scheme != "http":
        return
    host = url.host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        # ACI endpoints are plain http, so this cannot be refused; it can be said.
        warnings.warn(
            f"sending a key over plain http to {host}: anyone on the path can read it", UserWarning, stacklevel=5
        )
