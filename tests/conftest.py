"""Fixtures shared across the test packages: a real scoring endpoint on 127.0.0.1 for any spec, the session's
small trained model (``trained``) and Microsoft's no-code script serving it (``no_code_oracle``).

Session fixtures are defined here once: pytest keys a fixture by the module that registers it, so the same
function registered in two folders' conftests would train (or start the oracle) once per folder.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

_TESTS = Path(__file__).parent


def _shared_module(name: str, path: Path) -> Any:
    """A helper file loaded by path under one name, so every folder gets the same module (and classes)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


# First: the other shared files and the test modules import it by this name.
loopback = _shared_module("bankscore_tests_loopback", _TESTS / "loopback.py")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C's own behaviour in the test process and in everything it starts, whatever was inherited.

    A shell starts a background job (``./dev.sh test &``, some CI runners) with SIGINT ignored, and an ignored
    signal stays ignored across exec: the commands the tests stop with Ctrl-C would never see it. A handled
    signal is reset to its default in a child, so setting Python's own handler here gives every process the
    tests start the disposition a terminal gives.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Session fixtures that start several deployments at once: every test using one runs on the same worker, so
# the servers start once per run instead of once per worker.
_SHARED_DEPLOYMENT_FIXTURES = {"deployments", "live"}
_SHARED_DEPLOYMENTS_GROUP = "shared-deployments"
# The work units that take minutes, longest first (from `--durations` of the slow phase). Under
# `--dist loadgroup --no-loadscope-reorder` the workers take units in collection order, so starting these first
# keeps one worker from running the longest file alone at the end.
_LONGEST_FIRST = (
    "tests/packaging/test_wheel.py",
    "tests/packaging/test_readme.py",
    _SHARED_DEPLOYMENTS_GROUP,
    "tests/bankscore/deploy/test_redeploy.py",
    "tests/bankscore/pipeline/test_run.py",
    "tests/bankscore/deploy/test_supervised_gateway.py",
    "tests/bankscore/deploy/test_endpoint_traffic.py",
    "tests/bankscore_bench/test_gen_d.py",
    "tests/bankscore/cli/test_train_cli.py",
    "tests/bankscore/pipeline/test_rollout.py",
    "tests/bankscore/deploy/test_keepalive.py",
    "tests/bankscore/cli/test_demo_cli.py",
)


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's work unit as its ``xdist_group`` (read by ``--dist loadgroup``), the longest units first.

    A unit is run whole by one worker: a test file (its module fixtures are built once), or every file with a
    test that uses the shared deployments."""
    sharing = {_file(item) for item in items if _SHARED_DEPLOYMENT_FIXTURES & set(getattr(item, "fixturenames", ()))}
    units = {item.nodeid: _SHARED_DEPLOYMENTS_GROUP if _file(item) in sharing else _file(item) for item in items}
    rank = {unit: i for i, unit in enumerate(_LONGEST_FIRST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(units[item.nodeid]))
    items.sort(key=lambda item: rank.get(units[item.nodeid], len(rank)))  # stable: the rest keep their order


_deploy = _shared_module("bankscore_tests_deploy_fixtures", _TESTS / "bankscore" / "deploy" / "conftest.py")
no_code_oracle = _shared_module("bankscore_tests_no_code_oracle", _TESTS / "no_code_oracle.py").no_code_oracle


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's small model, trained and registered once in a temporary workspace (a TrainedWorkspace)."""
    return _deploy.train_small_workspace(tmp_path_factory)


@pytest.fixture(scope="session")
def shipped_csv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """Factory: the first ``rows`` shipped rows with their label ``y``, as a CSV file (the file a user has)."""
    from bankscore.data import load_training_data

    def write(rows: int) -> Path:
        records = list(islice(load_training_data().records(with_label=True), rows))
        path = tmp_path_factory.mktemp("shipped") / "customers.csv"
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        return path

    return write


@dataclass
class ScoringServer:
    """A scoring endpoint on 127.0.0.1 that speaks one wire generation and takes exactly one record shape.

    It answers ``/swagger.json`` (``?version=3`` too) with ``spec`` and ``POST /score`` the way that
    generation's Azure script does: A and B double-encode ``{"result": [...]}``, C answers ``{"Results":
    [...]}``, D (a split frame in) a bare array of labels, or of ``{"no": .., "yes": ..}`` records when
    ``params.predict_method`` is ``predict_proba``. A record whose keys are not exactly ``fields`` gets the 500
    Azure's scripts give.
    """

    spec: dict[str, object]
    generation: str
    fields: frozenset[str]
    url: str = ""
    bodies: list[dict[str, object]] = field(default_factory=list)

    @property
    def scoring_uri(self) -> str:
        return self.url + "/score"

    def answer(self, body: dict[str, object]) -> tuple[int, bytes]:
        self.bodies.append(body)
        if self.generation == "C":
            rows, method = body["Inputs"]["data"], (body.get("GlobalParameters") or {}).get("method", "predict")  # type: ignore[index,union-attr]
        elif self.generation == "D":
            frame: dict[str, list[object]] = body["input_data"]  # type: ignore[assignment]
            rows = [dict(zip(frame["columns"], values, strict=True)) for values in frame["data"]]  # type: ignore[call-overload]
            method = (body.get("params") or {}).get("predict_method", "predict")  # type: ignore[attr-defined]
        else:
            rows = body["data"]
            method = body.get("method", "predict") if self.generation == "B" else "predict"
        if any(set(row) != self.fields for row in rows):  # type: ignore[union-attr]
            return 500, json.dumps({"message": "the record's columns do not match the model's"}).encode()
        # P(yes) from age only: deterministic, and different records get different answers.
        p_yes = [round(min(max((float(row.get("age", 40)) - 20) / 80, 0.0), 1.0), 4) for row in rows]  # type: ignore[union-attr]
        result: list[object] = (
            [[round(1 - p, 4), p] for p in p_yes]
            if method == "predict_proba"
            else ["yes" if p >= 0.5 else "no" for p in p_yes]
        )
        if self.generation == "D":
            answer = [{"no": no, "yes": yes} for no, yes in result] if method == "predict_proba" else result  # type: ignore[misc]
            return 200, json.dumps(answer).encode()
        if self.generation == "C":
            return 200, json.dumps({"Results": result}).encode()
        return 200, json.dumps(json.dumps({"result": result})).encode()


def _scoring_handle(server: ScoringServer) -> loopback.Handle:
    def handle(request: loopback.Request) -> tuple[int, bytes]:
        if request.method == "POST":
            return server.answer(request.json())
        if request.path == "/swagger.json":
            return 200, json.dumps(server.spec).encode()
        if request.target == "/":
            return 200, b"Healthy"
        return loopback.NOT_FOUND

    return handle


@pytest.fixture
def scoring_server() -> Iterator[Callable[[dict[str, object]], ScoringServer]]:
    """Start a real HTTP server on 127.0.0.1 answering the given spec's generation; stopped after the test."""
    from bankscore.swagger import request_shape, to_openapi3

    with loopback.servers() as serve:

        def start(spec: dict[str, object]) -> ScoringServer:
            shape = request_shape(spec)
            fields = frozenset(path.removeprefix("record.") for path in shape.fields if path.startswith("record."))
            server = ScoringServer(to_openapi3(spec), str(shape.generation), fields)
            server.url = serve(_scoring_handle(server))
            return server

        yield start
