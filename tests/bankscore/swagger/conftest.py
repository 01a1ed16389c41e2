"""Fixtures for the Swagger tooling tests: the real sample files, a real local spec server, and importing the
packages the generator writes."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bankscore_tests_loopback import NOT_FOUND, Handle, Request, servers

DATA = Path(__file__).parent / "data"
REAL_SAMPLES = sorted(DATA.glob("*__swagger.json"))


@pytest.fixture
def importer(tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """Import generated packages from tmp_path; forgets them afterwards."""
    sys.path.insert(0, str(tmp_path))
    names: list[str] = []

    def load(name: str) -> Any:
        names.append(name)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield load
    sys.path.remove(str(tmp_path))
    for module in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[module]


@dataclass
class SpecServer:
    """A local stand-in for an inference server's spec route: what it serves, and what it was asked."""

    swagger2: bytes
    openapi3: bytes | None = None  # None: an old server without OpenAPI 3
    ignores_version: bool = False  # True: answers 2.0 to ?version=3 instead of 404
    key: str | None = None
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path with query, Authorization)


def _handle(spec: SpecServer) -> Handle:
    def handle(request: Request) -> tuple[int, bytes]:
        auth = request.headers.get("Authorization")
        spec.requests.append((request.target, auth))
        if spec.key is not None and auth != f"Bearer {spec.key}":
            return 401, json.dumps({"message": "Unauthorized"}).encode()
        if request.method != "GET" or request.path != "/swagger.json":
            return NOT_FOUND
        version = parse_qs(urlsplit(request.target).query).get("version", ["2"])[0]
        if version.startswith("3") and spec.openapi3 is not None:
            return 200, spec.openapi3
        elif version.startswith("3") and not spec.ignores_version:
            return 404, b'{"message": "Swagger version [3] is not valid. Supported versions: [2]."}'
        return 200, spec.swagger2

    return handle


@pytest.fixture
def spec_server() -> Iterator[Callable[..., SpecServer]]:
    """Start a real HTTP server on 127.0.0.1 serving the given spec(s); stopped after the test."""
    with servers() as serve:

        def start(**kwargs: object) -> SpecServer:
            spec = SpecServer(**kwargs)  # type: ignore[arg-type]
            spec.url = serve(_handle(spec))
            return spec

        yield start
