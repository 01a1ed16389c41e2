"""`bankscore swagger serve`: the real command in a subprocess, fetched with httpx and opened in real Chromium.

Chromium (Debian's, installed by dev.sh) loads the page with no network: every script and style must come
from the server, and the operations only appear once Swagger UI has fetched and rendered the spec.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from bankscore_tests_loopback import free_port

from bankscore.deploy._local import LocalDeployment
from bankscore.swagger import SwaggerError
from bankscore.swagger._serve import PINNED_SPEC, SwaggerUIServer, default_spec, read_spec, ui_dist

CHROMIUM = Path("/usr/bin/chromium")
SAMPLES = Path(__file__).parent / "data"
SWAGGER2_SAMPLE = SAMPLES / "Nikhil-Bansal19__MLE-Project2__swagger.json"  # a real Azure gen-C Swagger 2.0 file
BANNER = re.compile(r"^Serving Swagger UI for (?P<source>.+) at (?P<url>http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)$")


def cli_env(home: Path) -> dict[str, str]:
    """An empty workspace: no local deployment, so the default spec is the pinned one."""
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("BANKSCORE_URI", None)
    return env


@dataclass
class Served:
    url: str
    source: str
    proc: subprocess.Popen[str]

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Ctrl-C as a person would (or ``kill``, as a service manager would): the exit code and everything the
        command wrote to stderr."""
        self.proc.send_signal(signum)
        _, stderr = self.proc.communicate(timeout=30)
        return self.proc.returncode, stderr


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `bankscore swagger serve ARGS` on a free port; the server is stopped after the test either way."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> Served:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bankscore.cli", "swagger", "serve", *args, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(tmp_path / "workspace"),
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # blocks until the server listens (or the command died)
        match = BANNER.match(line)
        if match is None:
            proc.kill()
            pytest.fail(f"no banner line: {line!r}\n{proc.communicate(timeout=30)[1]}")
        assert match["url"] == f"http://127.0.0.1:{port}/"
        return Served(match["url"], match["source"], proc)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def chromium_dom(url: str, profile: Path) -> str:
    """The page's DOM after Swagger UI ran, from real headless Chromium (its own profile: other runs may share
    the machine)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh installs Debian's chromium")
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def operations(dom: str) -> set[tuple[str, str]]:
    """(method, path) of every operation Swagger UI rendered: its `opblock opblock-<method>` blocks."""
    found = set()
    for block in re.finditer(r'class="opblock opblock-(\w+)[^"]*".*?data-path="([^"]*)"', dom, re.S):
        found.add((block[1], block[2]))
    return found


@pytest.mark.slow
def test_serves_the_pinned_spec_to_chromium(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    assert served.source == str(PINNED_SPEC)

    page = httpx.get(served.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["access-control-allow-origin"] == "*"
    assert "/openapi.json" in page.text and "validatorUrl: null" in page.text

    spec = httpx.get(served.url + "openapi.json")
    assert spec.status_code == 200 and spec.headers["content-type"] == "application/json"
    assert spec.headers["access-control-allow-origin"] == "*"
    assert spec.content == PINNED_SPEC.read_bytes()

    bundle = httpx.get(served.url + "assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "text/javascript"
    assert bundle.content == (ui_dist() / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["access-control-allow-origin"] == "*"
    assert httpx.get(served.url + "assets/swagger-ui.css").headers["content-type"] == "text/css"

    preflight = httpx.request(
        "OPTIONS",
        served.url + "openapi.json",
        headers={"Origin": "http://localhost:9000", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204 and preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]

    # Only the dist folder's own files: no way out of it, and unknown pages are 404 (with CORS too).
    for path in ("assets/../../../../etc/passwd", "assets/%2e%2e/__init__.py", "assets/", "nope"):
        missing = httpx.get(served.url + path)
        assert missing.status_code == 404, path
        assert missing.headers["access-control-allow-origin"] == "*"

    dom = chromium_dom(served.url, tmp_path / "chromium")
    assert {("post", "/score"), ("get", "/")} <= operations(dom)
    assert "bank-marketing" in dom  # the spec's title, rendered by Swagger UI

    code, stderr = served.stop()
    assert code == 0 and "Traceback" not in stderr and "stopped" in stderr


@pytest.mark.slow
def test_serves_a_swagger2_file_given_as_argument(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve(str(SWAGGER2_SAMPLE))
    assert served.source == str(SWAGGER2_SAMPLE)
    assert httpx.get(served.url + "openapi.json").content == SWAGGER2_SAMPLE.read_bytes()  # as is, not converted
    dom = chromium_dom(served.url, tmp_path / "chromium")
    assert {("post", "/score"), ("get", "/"), ("get", "/swagger.json")} <= operations(dom)
    code, stderr = served.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in stderr and "stopped" in stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        ("not json at all", "is not JSON"),
        ('["a", "list"]', "its JSON is a list"),
        ('{"openapi": "2.5"}', "not a Swagger 2.0 or OpenAPI 3 document"),
    ],
)
def test_a_bad_spec_is_a_clear_error(tmp_path: Path, content: str | None, expected: str) -> None:
    spec = tmp_path / "spec.json"
    if content is not None:
        spec.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "swagger", "serve", str(spec), "--port", "0"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path / "workspace"),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2  # every swagger command: a spec it cannot use
    assert expected in proc.stderr and str(spec) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SwaggerError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            SwaggerUIServer(read_spec(PINNED_SPEC), "127.0.0.1", port)


def _save_deployment(home: Path, folder: Path, server_pid: int) -> None:
    state = LocalDeployment(
        name="bank-marketing",
        folder=str(folder),
        port=5001,
        backend_port=5001,
        workers=1,
        generation="C",
        model_name="bank-marketing",
        model_version="3",
        features=[],
        server_pid=server_pid,
        gateway_pid=None,
        started_at="2026-11-27T00:00:00+00:00",
        auth=False,
    )
    run_dir = home / "deployments" / "bank-marketing"
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text(json.dumps(state.to_dict()))


def test_default_spec_is_the_running_local_deployments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A saved deployment whose "server" is this very process (alive), with its own swagger3.json.
    folder = tmp_path / "release"
    folder.mkdir()
    mine = PINNED_SPEC.read_bytes().replace(b'"title": "bank-marketing"', b'"title": "my-release"', 1)
    assert mine != PINNED_SPEC.read_bytes()
    (folder / "swagger3.json").write_bytes(mine)
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "home"))
    _save_deployment(tmp_path / "home", folder, os.getpid())

    spec = default_spec("bank-marketing")
    assert spec.content == mine and spec.title == "my-release"
    assert "local deployment 'bank-marketing'" in spec.source
    assert default_spec("other").source == str(PINNED_SPEC)  # no such deployment: the pinned spec


def test_default_spec_ignores_a_stopped_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "swagger3.json").write_text("{}")  # never read: the deployment is not running
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "home"))
    _save_deployment(tmp_path / "home", folder, dead.pid)

    spec = default_spec("bank-marketing")
    assert spec.source == str(PINNED_SPEC) and spec.content == PINNED_SPEC.read_bytes()


def test_outside_a_checkout_the_pinned_spec_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An installed wheel has no swagger/ folder: the same bytes come from the feature contract.
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("bankscore.swagger._serve.PINNED_SPEC", tmp_path / "no-checkout" / "openapi3.json")
    spec = default_spec("bank-marketing")
    assert spec.content == PINNED_SPEC.read_bytes()
    assert spec.title == "bank-marketing" and "built from the feature contract" in spec.source


def test_without_the_ui_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swagger_ui_bundle", None)  # what `import` sees when it is not installed
    with pytest.raises(SwaggerError, match=r"pip install 'bankscore\[swagger-ui\]'"):
        ui_dist()
