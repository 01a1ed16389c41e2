"""Fixtures for the client tests: shipped records, a fake scoring endpoint for httpx.MockTransport, no sleeping.

The fake endpoint speaks each wire generation the way the real scoring script does (A and B double-encode,
C is plain JSON) and scores a record by its age, so expected answers are easy to compute. It is only for
fault injection; the real local deployment is tested in test_integration.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import httpx
import pytest

from bankscore.data import load_training_data

KEY = "bk-UnitTestKey-93c1d0e7a4Zq"


@pytest.fixture(scope="session")
def shipped() -> list[dict[str, Any]]:
    """The first 2,000 shipped records (wire names, typed values, no label)."""
    return list(islice(load_training_data().records(), 2000))


def p_yes(record: dict[str, Any]) -> float:
    return round(record["age"] / 100, 4)


def label(record: dict[str, Any]) -> str:
    return "yes" if p_yes(record) >= 0.5 else "no"


@dataclass
class FakeEndpoint:
    """A scoring endpoint of ``generation``; ``faults`` are answered first, one per scoring request."""

    generation: str = "C"
    faults: list[Callable[[httpx.Request], httpx.Response]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    spec: dict[str, Any] | None = None

    @property
    def scoring_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def records_sent(self) -> list[dict[str, Any]]:
        sent = []
        for request in self.scoring_requests:
            body = json.loads(request.content)
            sent.extend(body["Inputs"]["data"] if "Inputs" in body else body["data"])
        return sent

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            if self.spec is None:
                return httpx.Response(404, json={"message": "no spec"})
            return httpx.Response(200, json=self.spec)
        if self.faults:
            return self.faults.pop(0)(request)
        body = json.loads(request.content)
        if self.generation == "C":
            rows, method = body["Inputs"]["data"], body.get("GlobalParameters", {}).get("method", "predict")
        else:
            rows, method = body["data"], body.get("method", "predict") if self.generation == "B" else "predict"
        if method == "predict_proba":
            result: list[Any] = [[1 - p_yes(r), p_yes(r)] for r in rows]
        else:
            result = [label(r) for r in rows]
        if self.generation == "C":
            return httpx.Response(200, json={"Results": result}, headers={"x-ms-request-id": "req-1"})
        return httpx.Response(200, json=json.dumps({"result": result}), headers={"x-ms-request-id": "req-1"})


@pytest.fixture
def endpoint() -> FakeEndpoint:
    return FakeEndpoint()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Retries wait for nothing; the waits they asked for are recorded here."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("bankscore._retry._sleep", sleep)
    monkeypatch.setattr("bankscore._retry._async_sleep", async_sleep)
    yield waits


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No BANKSCORE_URI/KEY from the caller's shell, and an empty workspace."""
    monkeypatch.delenv("BANKSCORE_URI", raising=False)
    monkeypatch.delenv("BANKSCORE_KEY", raising=False)
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path_factory.mktemp("empty-workspace")))


# --- the real local deployments (slow tests) -----------------------------------------------------------------


_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by tests/conftest.py, as `trained` is
TrainedWorkspace = _fixtures.TrainedWorkspace

# name -> (generation, extra `deploy local` flags)
CLIENT_DEPLOYMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "client-a": ("A", ()),
    "client-b": ("B", ()),
    "client-c": ("C", ()),
    "client-d": ("D", ()),  # the no-code (managed online endpoint) wire on bankscore's own script
    "client-auth": ("C", ("--auth",)),  # keys generated and saved in the workspace; nginx checks them
}


@dataclass
class LiveDeployment:
    name: str
    generation: str
    port: int
    state: dict[str, Any]

    @property
    def scoring_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    def score_log_lines(self, home: Any) -> int:
        log = home / "deployments" / self.name / "server.log"
        return sum('"event": "score"' in line for line in log.read_text(errors="replace").splitlines())


@pytest.fixture(scope="session")
def live(trained: Any) -> Iterator[dict[str, LiveDeployment]]:
    """Start the five deployments at once with `bankscore deploy local`; stop them all at the end."""
    with _fixtures.started_deployments(trained, CLIENT_DEPLOYMENTS) as started:
        yield {
            name: LiveDeployment(name, CLIENT_DEPLOYMENTS[name][0], port, state)
            for name, (port, state) in started.items()
        }


@pytest.fixture(scope="session")
def expected(trained: Any, shipped: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    """The registered model's own labels and P(yes) for the 2,000 shipped records."""
    from bankscore.automl._registry import load_model

    with _fixtures.workspace_env(trained.home):
        model = load_model(trained.model_ref)
        return list(model.predict(shipped)), [float(p) for p in model.predict_proba(shipped)[:, 1]]
