"""Swagger UI for a spec, served on 127.0.0.1 from files that ship in a package: no network at run time.

The Azure workflow served ``swagger.json`` with a small ``http.server`` script (``serve.py``, adding
``Access-Control-Allow-Origin: *``) and ran Swagger UI from a Docker image. Here one process does both:

    /               the UI page, configured to load /openapi.json
    /openapi.json   the spec, as given (Swagger UI renders Swagger 2.0 and OpenAPI 3.0/3.1 alike)
    /assets/NAME    Swagger UI's own dist files, from the ``swagger-ui-bundle-v2`` package (the ``swagger-ui``
                    extra)

Every answer carries serve.py's CORS header, so a Swagger UI elsewhere (the Docker image) can load the spec
too, and ``OPTIONS`` answers the browser's preflight.
"""

from __future__ import annotations

import html
import importlib
import json
import mimetypes
import re
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

from bankscore._exceptions import SwaggerError
from bankscore._spec._document import load_document
from bankscore.swagger._generate import build_pinned_spec

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "PINNED_SPEC",
    "ServedSpec",
    "SwaggerUIServer",
    "default_spec",
    "read_spec",
    "ui_dist",
]

# In a source checkout, the committed copy of the local deployment's spec; an installed wheel builds the same
# bytes from the feature contract instead.
PINNED_SPEC: Final = Path(__file__).resolve().parents[3] / "swagger" / "openapi3.json"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000  # serve.py's default
SPEC_PATH: Final = "/openapi.json"
ASSETS_PREFIX: Final = "/assets/"
_CORS: Final = {
    "Access-Control-Allow-Origin": "*",  # what serve.py sent
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}
_DIST_NAME: Final = re.compile(r"^swagger-ui-(\d+)\.(\d+)\.(\d+)$")
# Types mimetypes may not know on a bare system; the browser refuses a script served as text/plain.
_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".html": "text/html"}


@dataclass(frozen=True)
class ServedSpec:
    """The spec's bytes as served, its title for the page, and where it came from (for the banner line)."""

    content: bytes
    title: str
    source: str


def read_spec(path: Path) -> ServedSpec:
    """A Swagger 2.0 or OpenAPI 3 JSON file; ``SwaggerError`` naming the file if it is neither."""
    document = load_document(path)
    return ServedSpec(path.read_bytes(), _title(document), str(path))


def default_spec(deployment: str) -> ServedSpec:
    """The running local deployment ``deployment``'s spec, else the pinned spec the client is generated from.

    The deployment's own ``swagger3.json`` is what its server answers to ``/swagger.json?version=3``. Outside a
    source checkout (no ``swagger/openapi3.json``) the pinned spec is built from the feature contract, which
    gives the same bytes.
    """
    from bankscore.deploy._local import is_running, load_state
    from bankscore.deploy._swagger import SWAGGER3_FILE

    state = load_state(deployment)
    if state is not None and is_running(state):
        served = read_spec(Path(state.folder) / SWAGGER3_FILE)
        return ServedSpec(served.content, served.title, f"the local deployment {deployment!r} ({served.source})")
    if PINNED_SPEC.is_file():
        return read_spec(PINNED_SPEC)
    content = build_pinned_spec()
    return ServedSpec(content, _title(json.loads(content)), "the pinned spec (built from the feature contract)")


def _title(document: dict[str, object]) -> str:
    info = document.get("info")
    title = info.get("title") if isinstance(info, dict) else None
    return title if isinstance(title, str) and title else "Swagger UI"


def ui_dist() -> Path:
    """The Swagger UI dist folder that ``swagger-ui-bundle-v2`` installs (the newest, if several are there)."""
    try:
        package = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        raise SwaggerError(
            "Swagger UI's files are not installed (the swagger_ui_bundle package is missing): "
            "pip install 'bankscore[swagger-ui]'"
        ) from None
    # swagger-ui-bundle 1.x (connexion's) installs the same import name; its vendor folder may sit beside ours.
    vendor = Path(str(package.swagger_ui_path)).parent
    found = sorted(
        (tuple(int(n) for n in m.groups()), p)
        for p in vendor.iterdir()
        if (m := _DIST_NAME.match(p.name)) and (p / "swagger-ui-bundle.js").is_file()
    )
    if not found:
        raise SwaggerError(f"no Swagger UI files in {vendor}: reinstall with pip install 'bankscore[swagger-ui]'")
    return found[-1][1]


def _page(title: str) -> bytes:
    # validatorUrl null: Swagger UI would otherwise send the spec to validator.swagger.io (no network here).
    text = f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{html.escape(title)} - Swagger UI</title>
    <link rel="stylesheet" type="text/css" href="{ASSETS_PREFIX}swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="{ASSETS_PREFIX}index.css">
    <link rel="icon" type="image/png" href="{ASSETS_PREFIX}favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{ASSETS_PREFIX}swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="{ASSETS_PREFIX}swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script>
      window.onload = function () {{
        window.ui = SwaggerUIBundle({{
          url: "{SPEC_PATH}",
          dom_id: "#swagger-ui",
          deepLinking: true,
          validatorUrl: null,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          layout: "StandaloneLayout"
        }});
      }};
    </script>
  </body>
</html>
"""
    return text.encode("utf-8")


class SwaggerUIServer(ThreadingHTTPServer):
    """A threading HTTP server for one spec; ``url`` is where a browser opens it."""

    daemon_threads = True  # Ctrl-C does not wait for a browser's idle keep-alive connections

    def __init__(self, spec: ServedSpec, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.spec = spec
        self.dist = ui_dist()
        # Only the files that are in the dist folder: a request path never reaches the file system as given.
        self.assets = {p.name: p for p in self.dist.iterdir() if p.is_file()}
        self.page = _page(spec.title)
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise SwaggerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: SwaggerUIServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page loads several assets

    def do_OPTIONS(self) -> None:
        self._send(HTTPStatus.NO_CONTENT, b"", None)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def _answer(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in {"/", "/index.html"}:
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8", with_body=with_body)
        elif path == SPEC_PATH:
            self._send(HTTPStatus.OK, self.server.spec.content, "application/json", with_body=with_body)
        elif path.startswith(ASSETS_PREFIX) and (asset := self.server.assets.get(path[len(ASSETS_PREFIX) :])):
            kind = _TYPES.get(asset.suffix) or mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, asset.read_bytes(), kind, with_body=with_body)
        else:
            body = json.dumps({"message": f"no such page: {path}"}).encode()
            self._send(HTTPStatus.NOT_FOUND, body, "application/json", with_body=with_body)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str | None, *, with_body: bool = True) -> None:
        self.send_response(status)
        for name, value in _CORS.items():
            self.send_header(name, value)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)
