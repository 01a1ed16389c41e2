"""`bankscore swagger pull` against a real HTTP server on 127.0.0.1 serving real spec files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bankscore_tests_loopback import free_port
from click.testing import CliRunner

from bankscore.cli import main
from bankscore.swagger import SwaggerError, convert_swagger2, load_document, pull_spec, swagger_url
from bankscore.swagger._serve import PINNED_SPEC

DATA = Path(__file__).parent / "data"
REAL_C = DATA / "Nikhil-Bansal19__MLE-Project2__swagger.json"
KEY = "k-3f9a77c2-not-a-real-key"

Server = Callable[..., Any]


def test_asks_for_openapi3_and_sends_the_key(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), openapi3=PINNED_SPEC.read_bytes(), key=KEY)
    pulled = pull_spec(server.url + "/score", key=KEY)
    assert pulled.document == json.loads(PINNED_SPEC.read_bytes())
    assert not pulled.converted and pulled.source_version == "3.0.3"
    assert server.requests == [("/swagger.json?version=3", f"Bearer {KEY}")]


def test_a_server_without_openapi3_gets_its_swagger2_converted(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), key=KEY)
    pulled = pull_spec(server.url, key=KEY)
    assert pulled.converted
    assert pulled.document == convert_swagger2(load_document(REAL_C))
    assert [path for path, _ in server.requests] == ["/swagger.json?version=3", "/swagger.json"]
    assert {auth for _, auth in server.requests} == {f"Bearer {KEY}"}


def test_a_server_that_ignores_the_version_answers_once_and_is_converted(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), ignores_version=True)
    pulled = pull_spec(server.url + "/swagger.json")
    assert pulled.converted and pulled.document["openapi"] == "3.0.3"
    assert server.requests == [("/swagger.json?version=3", None)]


def test_cli_writes_the_openapi3_file(spec_server: Server, tmp_path: Path) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), key=KEY)
    out = tmp_path / "specs" / "live.json"
    result = CliRunner().invoke(
        main, ["swagger", "pull", server.url + "/score", "--output", str(out)], env={"BANKSCORE_KEY": KEY}
    )
    assert result.exit_code == 0, result.output
    assert "converted from Swagger 2.0" in result.stderr
    assert json.loads(out.read_bytes()) == convert_swagger2(load_document(REAL_C))
    assert out.read_bytes().endswith(b"}\n")


def test_cli_prints_to_stdout_without_output(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), openapi3=PINNED_SPEC.read_bytes())
    result = CliRunner().invoke(main, ["swagger", "pull", server.url])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == PINNED_SPEC.read_bytes()


def test_a_wrong_key_is_a_clean_error_that_does_not_show_the_key(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), key="the-right-key")
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "swagger", "pull", server.url + "/score", "--key", KEY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2  # the spec cannot be fetched
    assert "401 Unauthorized" in proc.stderr
    assert "the key was refused" in proc.stderr and "--key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
    assert [auth for _, auth in server.requests] == [f"Bearer {KEY}"]  # no retry without version after a 401


def test_a_missing_key_says_one_is_needed(spec_server: Server) -> None:
    server = spec_server(swagger2=REAL_C.read_bytes(), key=KEY)
    with pytest.raises(SwaggerError, match="it needs a key"):
        pull_spec(server.url)


def test_nobody_listening_is_a_clean_error() -> None:
    port = free_port()
    result = CliRunner().invoke(main, ["swagger", "pull", f"http://127.0.0.1:{port}/score", "--timeout", "5"])
    assert result.exit_code == 2  # the spec cannot be fetched
    assert "cannot fetch" in result.output and "Traceback" not in result.output


def test_a_body_that_is_not_a_spec_is_refused(spec_server: Server) -> None:
    server = spec_server(swagger2=b'{"hello": "world"}', ignores_version=True)
    with pytest.raises(SwaggerError, match="neither swagger"):
        pull_spec(server.url)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://10.0.0.4/score", "http://10.0.0.4/swagger.json"),
        ("http://10.0.0.4:8080/api/v1/service/bank/score", "http://10.0.0.4:8080/api/v1/service/bank/swagger.json"),
        ("http://10.0.0.4/", "http://10.0.0.4/swagger.json"),
        ("https://x.inference.ml.azure.com/swagger.json", "https://x.inference.ml.azure.com/swagger.json"),
    ],
)
def test_swagger_url_from_what_the_user_has(uri: str, expected: str) -> None:
    assert str(swagger_url(uri)) == expected


def test_not_a_url() -> None:
    with pytest.raises(SwaggerError, match="not an http"):
        swagger_url("ftp://example.org/score")
