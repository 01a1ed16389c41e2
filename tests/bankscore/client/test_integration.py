"""The typed client against real local deployments (generations A to D, and one behind the key gateway).

One small model is trained for the session and deployed with `bankscore deploy local` in subprocesses (the
deploy tests' pattern); the client's answers are compared with the registered model's own predictions.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import bankscore
from bankscore import AsyncClient, AuthenticationError, Client, ValidationError, WireGeneration

from .conftest import LiveDeployment

pytestmark = pytest.mark.slow

Expected = tuple[list[str], list[float]]


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, trained: Any) -> Path:
    monkeypatch.setenv("BANKSCORE_HOME", str(trained.home))
    return Path(trained.home)


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting what it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def assert_matches(result: Any, expected: Expected, *, probabilities: bool) -> None:
    labels, p_yes = expected
    assert result.ok and len(result) == len(labels)
    assert result.labels == labels
    if probabilities:
        assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(result.probabilities, p_yes, strict=True))
    else:
        assert result.probabilities == [None] * len(labels)


@pytest.mark.parametrize("name", ["client-a", "client-b", "client-c", "client-d"])
def test_predict_one_record(name: str, live: dict[str, LiveDeployment], trained: Any, workspace: Path) -> None:
    with Client.from_local(name) as client:  # URI and generation from the workspace's state.json
        assert client.generation == live[name].generation
        yes = client.predict(trained.yes_record)
        no = client.predict(bankscore.BankMarketingRecord.model_validate(trained.no_record))
    assert [yes.label, no.label] == trained.labels
    if name == "client-a":
        assert yes.probability is None
    else:
        assert yes.probability is not None and math.isclose(yes.probability, trained.proba[0][1], abs_tol=1e-9)


@pytest.mark.parametrize("name", ["client-a", "client-b", "client-c", "client-d"])
def test_generation_is_detected_from_the_live_spec(name: str, live: dict[str, LiveDeployment]) -> None:
    with Client(live[name].scoring_uri) as client:
        assert client.generation is WireGeneration(live[name].generation)
        assert [c for c in client.check_schema() if c.breaking] == []


@pytest.mark.parametrize("name", ["client-a", "client-b", "client-c", "client-d"])
def test_predict_many_2000_rows_in_input_order(
    name: str, live: dict[str, LiveDeployment], shipped: list[dict[str, Any]], expected: Expected
) -> None:
    transport = CountingTransport()
    with Client(live[name].scoring_uri, transport=transport, check_schema=True) as client:
        result = client.predict_many(shipped, batch_size=64, concurrency=4)
    assert_matches(result, expected, probabilities=name != "client-a")
    assert sum(r.method == "POST" for r in transport.sent) == 32  # ceil(2000 / 64), none retried


def test_csv_and_dataframe_inputs(
    live: dict[str, LiveDeployment], shipped: list[dict[str, Any]], expected: Expected, tmp_path: Path
) -> None:
    pd = pytest.importorskip("pandas")
    path = tmp_path / "customers.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(shipped[0]))
        writer.writeheader()
        writer.writerows(shipped)
    with Client(live["client-c"].scoring_uri) as client:
        assert_matches(client.predict_many(path, batch_size=250), expected, probabilities=True)
        assert_matches(client.predict_many(str(path), concurrency=1), expected, probabilities=True)
        frame = pd.DataFrame(shipped)
        assert_matches(client.predict_many(frame, batch_size=500, concurrency=2), expected, probabilities=True)


@pytest.mark.parametrize("name", ["client-a", "client-b", "client-c", "client-d"])
def test_async_client(
    name: str, live: dict[str, LiveDeployment], shipped: list[dict[str, Any]], expected: Expected
) -> None:
    async def main() -> Any:
        async with AsyncClient(live[name].scoring_uri) as client:
            assert await client.get_generation() is WireGeneration(live[name].generation)
            first = await client.predict(shipped[0])
            assert first.label == expected[0][0]
            return await client.predict_many(shipped, batch_size=100, concurrency=8)

    assert_matches(asyncio.run(main()), expected, probabilities=name != "client-a")


def test_invalid_records_are_reported_before_anything_is_sent(
    live: dict[str, LiveDeployment], shipped: list[dict[str, Any]], trained: Any
) -> None:
    deployment = live["client-c"]
    records = [dict(r) for r in shipped[:1000]]
    records[999]["month"] = "smarch"
    records[3]["pdays"] = -1
    before = deployment.score_log_lines(trained.home)
    transport = CountingTransport()
    client = Client(deployment.scoring_uri, generation="C", transport=transport)
    with client, pytest.raises(ValidationError) as raised:
        client.predict_many(records, batch_size=10)
    assert transport.sent == []
    assert deployment.score_log_lines(trained.home) == before
    assert [(p.index, p.field, p.value) for p in raised.value.problems] == [(3, "pdays", -1), (999, "month", "smarch")]


def test_keys_from_the_workspace_and_a_wrong_key(
    live: dict[str, LiveDeployment], trained: Any, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = live["client-auth"]
    key = json.loads((workspace / "deployments" / deployment.name / "keys.json").read_text())["primary"]
    with Client.from_local(deployment.name) as client:
        assert key not in repr(client)
        assert client.predict(trained.yes_record).label == trained.labels[0]
    with Client(deployment.scoring_uri, key="not-the-key", generation="C") as client:
        with pytest.raises(AuthenticationError) as raised:
            client.predict(trained.yes_record)
        assert raised.value.status == 401
        with pytest.raises(AuthenticationError):
            client.predict_many([trained.yes_record] * 300, batch_size=100)
    with Client(deployment.scoring_uri, key=key, generation="C") as client:
        assert client.predict_many(trained.records).labels == trained.labels
    assert key not in caplog.text and key not in str(raised.value)
    for log in ("server.log", "gateway.log"):
        assert key not in (workspace / "deployments" / deployment.name / log).read_text(errors="replace")


def test_score_command(
    live: dict[str, LiveDeployment], trained: Any, shipped: list[dict[str, Any]], expected: Expected, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(shipped[0]))
        writer.writeheader()
        writer.writerows(shipped[:500])
    out = tmp_path / "out.csv"
    proc = trained.cli(
        "score", str(source), "--deployment", "client-b", "--proba", "-o", str(out), "--batch-size", "50"
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["label"] for r in rows] == expected[0][:500]
    assert [int(r["index"]) for r in rows] == list(range(500))
    assert all(math.isclose(float(r["probability"]), p, abs_tol=1e-9) for r, p in zip(rows, expected[1], strict=False))

    as_json = trained.cli("score", str(source), "--uri", live["client-a"].scoring_uri, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [r["label"] for r in json.loads(as_json.stdout)] == expected[0][:500]

    lines = source.read_text().splitlines()
    lines[7] = lines[7].replace("cellular", "pigeon", 1).replace("telephone", "pigeon", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    refused = trained.cli("score", str(bad), "--deployment", "client-c")
    assert refused.returncode == 1
    assert "line 8" in refused.stderr and "pigeon" in refused.stderr and "Traceback" not in refused.stderr


def test_the_example_script(live: dict[str, LiveDeployment], trained: Any) -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "endpoint_typed.py"
    proc = subprocess.run(
        [sys.executable, str(example), "--uri", live["client-c"].scoring_uri],
        capture_output=True,
        text=True,
        env=trained.env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout)
    assert len(answers) == 2 and all(a["label"] in {"no", "yes"} and 0 <= a["probability"] <= 1 for a in answers)
