"""Fixtures for the Swagger tooling tests: the real sample files and a real local spec server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

DATA = Path(__file__).parent / "data"
REAL_SAMPLES = sorted(DATA.glob("*__swagger.json"))


@dataclass
class SpecServer:
    """A local stand-in for an inference server's spec route: what it serves, and what it was asked."""

    swagger2: bytes
    openapi3: bytes | None = None  # None: an old server without OpenAPI 3
    ignores_version: bool = False  # True: answers 2.0 to ?version=3 instead of 404
    key: str | None = None
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path with query, Authorization)


def _handler(spec: SpecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            spec.requests.append((self.path, auth))
            if spec.key is not None and auth != f"Bearer {spec.key}":
                self._send(401, json.dumps({"message": "Unauthorized"}).encode())
                return
            parts = urlsplit(self.path)
            if parts.path != "/swagger.json":
                self._send(404, b'{"message": "not found"}')
                return
            version = parse_qs(parts.query).get("version", ["2"])[0]
            if version.startswith("3") and spec.openapi3 is not None:
                self._send(200, spec.openapi3)
            elif version.startswith("3") and not spec.ignores_version:
                self._send(404, b'{"message": "Swagger version [3] is not valid. Supported versions: [2]."}')
            else:
                self._send(200, spec.swagger2)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def spec_server() -> Iterator[Callable[..., SpecServer]]:
    """Start a real HTTP server on 127.0.0.1 serving the given spec(s); stopped after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(**kwargs: object) -> SpecServer:
        spec = SpecServer(**kwargs)  # type: ignore[arg-type]
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(spec))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        spec.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return spec

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
