"""The library prints nothing unasked (a ``NullHandler`` on the ``bankscore`` logger); the CLI prints its logs.

The endpoint is a real HTTP server on 127.0.0.1 whose first scoring answer is a 503 (the fault injected), so
every request here is retried once and then scored.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bankscore_tests_loopback import Answer, Request, serve
from click.testing import CliRunner

from bankscore.cli import main
from bankscore.swagger import build_pinned_spec


class _FailsOnce:
    """Generation C: the first POST gets 503 with ``Retry-After: 0``, every other one a label per record."""

    def __init__(self) -> None:
        self.failed = threading.Event()

    def __call__(self, request: Request) -> Answer:
        if not self.failed.is_set():
            self.failed.set()
            return 503, {"Retry-After": "0"}, b'{"message": "warming up"}'
        return 200, json.dumps({"Results": ["no"] * len(request.json()["Inputs"]["data"])}).encode()


@pytest.fixture
def fails_once() -> Iterator[tuple[str, _FailsOnce]]:
    handler = _FailsOnce()
    with serve(handler) as url:
        yield url + "/score", handler


def test_a_retried_request_prints_nothing_when_logging_is_not_configured(
    fails_once: tuple[str, _FailsOnce], shipped: list[dict[str, Any]]
) -> None:
    uri, handler = fails_once
    code = (
        "import json, sys, bankscore\n"
        "with bankscore.Client(sys.argv[1], generation='C', probabilities=False) as client:\n"
        "    print(client.predict(json.loads(sys.argv[2])).label)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, uri, json.dumps(shipped[0])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "BANKSCORE_HOME": "/nonexistent"},
    )
    assert proc.returncode == 0, proc.stderr
    assert handler.failed.is_set()  # the 503 was answered: the request really was retried
    assert proc.stdout == "no\n"
    assert proc.stderr == ""


def test_the_retry_goes_through_the_bankscore_logger(
    fails_once: tuple[str, _FailsOnce], shipped: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    import bankscore

    uri, _ = fails_once
    client = bankscore.Client(uri, generation="C", probabilities=False)
    with caplog.at_level("WARNING", logger="bankscore"), client:
        client.predict(shipped[0])
    assert [(r.name, r.levelname) for r in caplog.records] == [("bankscore", "WARNING")]
    assert "attempt 1 failed" in caplog.records[0].getMessage()


def test_the_cli_prints_retries_and_notes_unless_quiet(
    fails_once: tuple[str, _FailsOnce], shipped: list[dict[str, Any]]
) -> None:
    uri, handler = fails_once
    handlers_before = list(logging.getLogger("bankscore").handlers)
    records = json.dumps([{**shipped[0], "y": "no"}])
    shown = CliRunner().invoke(main, ["score", "-", "--uri", uri, "--generation", "C"], input=records)
    assert shown.exit_code == 0, shown.output
    lines = shown.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("attempt 1 failed (") and "503" in lines[0]
    assert lines[1] == "note: 1 record had the label column 'y', which the endpoint does not take: it was not sent"

    handler.failed.clear()
    quiet = CliRunner().invoke(main, ["--quiet", "score", "-", "--uri", uri, "--generation", "C"], input=records)
    assert quiet.exit_code == 0, quiet.output
    assert handler.failed.is_set() and quiet.stderr == ""
    assert quiet.stdout == "index,label\n0,no\n"
    assert CliRunner().invoke(main, ["-q", "-v", "score"]).exit_code == 2
    # The CLI's handler lives as long as the command: the library is quiet again afterwards.
    assert logging.getLogger("bankscore").handlers == handlers_before


def test_verbose_shows_what_the_client_learned_from_the_spec(
    scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    server = scoring_server(json.loads(build_pinned_spec("B")))
    records = json.dumps(shipped[:2])
    verbose = CliRunner().invoke(main, ["--verbose", "score", "-", "--uri", server.scoring_uri], input=records)
    assert verbose.exit_code == 0, verbose.output
    assert verbose.stderr.splitlines() == [
        f"{server.url}/swagger.json: wire generation B, records validated by BankMarketingRecord (20 fields)"
    ]
    plain = CliRunner().invoke(main, ["score", "-", "--uri", server.scoring_uri], input=records)
    assert plain.exit_code == 0 and plain.stderr == ""
