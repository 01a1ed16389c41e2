"""Payloads: ab's -p file as is; Bank Marketing bodies that are valid requests of each wire generation.

The last test loads a real local deployment (the Azure ML inference server, a tiny model trained for the
session) with the engine: right bodies score, and a wrong generation shows up as BAD_BODY failures.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bankscore import WireGeneration
from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore.data import load_training_data
from bankscore.features import check_record
from bankscore_bench._payloads import (
    ScoringChecker,
    bank_marketing_payloads,
    detect_endpoint_generation,
    fixed_payload,
    scoring_method,
)
from bankscore_bench._samples import Failure, RunInfo, SampleLog
from bankscore_bench.engine import LoadPlan

EngineRun = Callable[..., tuple[RunInfo, SampleLog]]


def _records_of(body: bytes, generation: str) -> tuple[list[dict[str, Any]], str]:
    """Decode a request body by the scoring contract: the records and the method."""
    document = json.loads(body)
    if generation == "C":
        assert set(document) <= {"Inputs", "GlobalParameters"}
        return document["Inputs"]["data"], document.get("GlobalParameters", {}).get("method", "predict")
    assert set(document) <= {"data", "method"}
    if generation == "A":
        assert "method" not in document
    return document["data"], document.get("method", "predict")


def test_a_body_file_is_sent_as_is(tmp_path: Path) -> None:
    raw = b'{"data": [{"age": 41}]}\n\x00\xff'
    path = tmp_path / "body.bin"
    path.write_bytes(raw)
    pool = fixed_payload(path, "application/json")
    assert [p.body for p in pool.payloads] == [raw]
    assert pool.payloads[0].records == 0  # unknown: ab's -p file is opaque
    assert pool.content_type == "application/json"


def test_a_missing_body_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read the body file '.*nope\.json'"):
        fixed_payload(tmp_path / "nope.json")


@pytest.mark.parametrize(("generation", "method"), [("A", "predict"), ("B", "predict_proba"), ("C", "predict_proba")])
def test_bodies_are_valid_requests_of_each_generation(generation: str, method: str) -> None:
    pool = bank_marketing_payloads(generation, batch_size=3, pool_size=40, seed=11)
    shipped = {json.dumps(r, sort_keys=True) for r in load_training_data().records()}
    assert len(pool.payloads) == 40
    assert pool.content_type == "application/json"
    seen = set()
    for payload in pool.payloads:
        records, asked = _records_of(payload.body, generation)
        assert asked == method == scoring_method(WireGeneration(generation))
        assert payload.records == len(records) == 3
        for record in records:
            checked, problems = check_record(record)
            assert problems == [], problems
            BankMarketingRecord.model_validate(record)  # the generated client model accepts it too
            assert json.dumps(checked, sort_keys=True) in shipped  # a real customer from the shipped data
            seen.add(json.dumps(record, sort_keys=True))
    assert len(seen) > 100  # drawn across the data, not one row repeated


def test_bodies_are_reproducible_with_a_seed() -> None:
    first = bank_marketing_payloads("C", pool_size=20, seed=3)
    assert first == bank_marketing_payloads("C", pool_size=20, seed=3)
    assert first != bank_marketing_payloads("C", pool_size=20, seed=4)


def test_bad_payload_options_are_named() -> None:
    with pytest.raises(ValueError, match="generation must be A, B or C, got 'D'"):
        bank_marketing_payloads("D")
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        bank_marketing_payloads("C", batch_size=0)


def test_the_checker_accepts_results_and_names_what_is_wrong() -> None:
    proba = ScoringChecker("predict_proba")
    assert proba(b'{"Results": [[0.9, 0.1], [0.2, 0.8]]}', 2) is None
    assert proba(json.dumps(json.dumps({"result": [[0.9, 0.1]]})).encode(), 1) is None  # A/B double-encode
    assert proba(b'{"Results": [[0.9, 0.1]]}', 2) == "expected 2 results in the 200 body, got 1 results"
    assert "expected [P(no), P(yes)]" in (proba(b'{"Results": ["no"]}', 1) or "")
    assert "not JSON" in (proba(b"<html>", 1) or "")
    assert "scoring script failed" in (ScoringChecker("predict")(json.dumps('{"error": "boom"}').encode(), 1) or "")
    assert ScoringChecker("predict")(b'{"Results": ["no", "yes"]}', 2) is None


# --- the real local deployment ---------------------------------------------------------------------------------


def _deploy_fixtures() -> Any:
    """tests/bankscore/deploy/conftest.py as a module: its trained-workspace fixture and helpers, reused."""
    name = "bankscore_tests_deploy_fixtures"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "bankscore" / "deploy" / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


_fixtures = _deploy_fixtures()
trained = _fixtures.trained  # the session's small trained model, as the deploy tests make it


@pytest.fixture(scope="module")
def engine_deployment_a(trained: Any) -> Iterator[str]:
    """A real generation-A local deployment (`bankscore deploy local`); its scoring URI."""
    port = _fixtures.free_port()
    name = "bench-engine-a"
    proc = trained.popen("deploy", "local", "--name", name, "--port", str(port), "--generation", "A")
    _, stderr = proc.communicate(timeout=240)
    try:
        assert proc.returncode == 0, stderr
        yield f"http://127.0.0.1:{port}/score"
    finally:
        trained.cli("deploy", "stop", "--name", name, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _fixtures.port_free(port):
            time.sleep(0.1)


@pytest.mark.slow
def test_the_engine_scores_a_real_deployment_and_catches_a_wrong_generation(
    engine_run: EngineRun, engine_deployment_a: str
) -> None:
    assert detect_endpoint_generation(engine_deployment_a).value == "A"  # from its /swagger.json

    right = bank_marketing_payloads("A", batch_size=4, pool_size=30, seed=1)
    plan = LoadPlan(
        url=engine_deployment_a,
        method="POST",
        payloads=right,
        requests=60,
        concurrency=2,
        accept_variable_length=True,
        checker=ScoringChecker(scoring_method(WireGeneration.A)),
    )
    info, log = engine_run(plan)
    assert len(log) == 60
    assert set(log.status) == {200}
    assert set(log.failure) == {Failure.NONE}
    assert set(log.records) == {4}
    assert info.server_software  # the inference server names itself
    assert info.document_length is None  # -l: scoring answers vary in length

    # Told generation B, the bench asks an A endpoint for probabilities; A ignores "method" and answers
    # labels with a 200: every one is a wrong body, and ab's "Failed requests" must say so.
    wrong = bank_marketing_payloads("B", batch_size=4, pool_size=30, seed=1)
    plan = LoadPlan(
        url=engine_deployment_a,
        method="POST",
        payloads=wrong,
        requests=40,
        concurrency=2,
        accept_variable_length=True,
        checker=ScoringChecker("predict_proba"),
    )
    _, log = engine_run(plan)
    assert set(log.status) == {200}
    assert set(log.failure) == {Failure.BAD_BODY}


@pytest.mark.parametrize(("flags", "method"), [([], "predict"), (["--proba"], "predict_proba")])
def test_records_ask_for_labels_unless_proba_is_given(flags: list[str], method: str) -> None:
    from bankscore_bench._abargs import parse_ab_args
    from bankscore_bench._plan import BenchTarget, build_plan

    options = parse_ab_args(["-n", "1", "--generation", "C", *flags, "http://127.0.0.1:9/score"])
    plan, described = build_plan(options, BenchTarget(options.url or "", generation=WireGeneration.C))
    assert plan.payloads is not None
    body = json.loads(plan.payloads.payloads[0].body)
    assert body.get("GlobalParameters", {}).get("method", "predict") == method
    assert f"generation C, {method}," in described
