"""Payloads: ab's -p file as is; Bank Marketing bodies that are valid requests of each wire generation.

The last test loads a real local deployment (the Azure ML inference server, a tiny model trained for the
session) with the engine: right bodies score, and a wrong generation shows up as BAD_BODY failures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bankscore import WireGeneration
from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._records import RecordCodec
from bankscore.data import load_training_data
from bankscore.features import check_record
from bankscore_bench import _payloads
from bankscore_bench._payloads import (
    MAX_RECORDS_PER_REQUEST,
    POOL_RECORDS,
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
    with pytest.raises(ValueError, match="generation must be A, B, C or D, got 'E'"):
        bank_marketing_payloads("E")
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        bank_marketing_payloads("C", batch_size=0)


# --- a bounded pool: -n 2 --batch-size 1000 must not build a million records before sending ----------------------


class _Built:
    """Counts what building a pool costs: records validated, bodies encoded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.validated = 0
        self.bodies = 0
        validate, encode = RecordCodec.validate, RecordCodec.encode

        def counting_validate(codec: RecordCodec[Any], rows: Any) -> Any:
            self.validated += len(rows)
            # Fail at once, before the old code spends a minute and gigabytes on a million records.
            assert len(rows) <= POOL_RECORDS, f"{len(rows)} records validated for one pool"
            return validate(codec, rows)

        def counting_encode(codec: RecordCodec[Any], *args: Any) -> bytes:
            self.bodies += 1
            return encode(codec, *args)

        monkeypatch.setattr(RecordCodec, "validate", counting_validate)
        monkeypatch.setattr(RecordCodec, "encode", counting_encode)


def _plan_of(*argv: str) -> Any:
    from bankscore_bench._abargs import parse_ab_args
    from bankscore_bench._plan import BenchTarget, build_plan

    options = parse_ab_args([*argv, "--generation", "C", "http://127.0.0.1:9/score"])
    plan, _ = build_plan(options, BenchTarget(options.url or "", generation=WireGeneration.C))
    return plan


@pytest.mark.parametrize(
    ("argv", "bodies"),
    [
        (["-n", "2", "-c", "1", "--batch-size", "1000"], 2),  # never more bodies than requests
        (["-n", "1000000", "-c", "8", "--batch-size", "1000"], POOL_RECORDS // 1000),  # whatever -n
        (["-t", "30", "--batch-size", str(MAX_RECORDS_PER_REQUEST)], POOL_RECORDS // MAX_RECORDS_PER_REQUEST),
        (["-n", "5", "--warmup", "3", "--batch-size", "10"], 8),  # the warmup's requests are sent too
        (["-n", "100000"], 1000),  # one record per request: the pool of 1,000 bodies, as before
    ],
)
def test_a_pool_is_bounded_whatever_n_and_batch_size(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], bodies: int
) -> None:
    built = _Built(monkeypatch)
    plan = _plan_of(*argv)
    assert plan.payloads is not None
    assert len(plan.payloads.payloads) == built.bodies == bodies
    assert built.validated <= bodies * (plan.payloads.payloads[0].records)


def test_each_distinct_record_is_validated_once_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _Built(monkeypatch)
    pool = bank_marketing_payloads("B", batch_size=200, seed=2)
    records = [json.dumps(r, sort_keys=True) for p in pool.payloads for r in _records_of(p.body, "B")[0]]
    assert len(records) == POOL_RECORDS
    # 20,000 draws from ~33,000 rows repeat thousands of rows: each was validated once.
    assert len(set(records)) <= built.validated < len(records)


def test_the_same_seed_gives_the_same_bodies_whatever_n() -> None:
    few = bank_marketing_payloads("C", batch_size=50, seed=9, requests=3)
    many = bank_marketing_payloads("C", batch_size=50, seed=9, requests=10**6)
    assert len(few.payloads) == 3 and len(many.payloads) == POOL_RECORDS // 50
    assert few.payloads == many.payloads[:3]  # request i gets the same body in both runs
    assert few == bank_marketing_payloads("C", batch_size=50, seed=9, requests=3)


def test_batches_an_endpoint_would_refuse_are_refused_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bankscore_bench._plan import PlanError

    built = _Built(monkeypatch)
    with pytest.raises(PlanError, match=r"--batch-size 12000: an endpoint scores at most 10000 records per request"):
        _plan_of("-n", "2", "-c", "1", "--batch-size", "12000")
    assert (built.validated, built.bodies) == (0, 0)
    with pytest.raises(ValueError, match="batch_size must be at most 10000"):
        bank_marketing_payloads("C", batch_size=MAX_RECORDS_PER_REQUEST + 1)
    with pytest.raises(ValueError, match=r"a body of 100 records is \d+ bytes, over the 10000 bytes"):
        bank_marketing_payloads("C", batch_size=100, requests=1, max_body_bytes=10_000)
    # The largest batch allowed fits the 8 MiB an endpoint takes, in every generation.
    for generation in "ABC":
        pool = bank_marketing_payloads(generation, batch_size=MAX_RECORDS_PER_REQUEST, requests=1)
        assert len(pool.payloads[0].body) <= _payloads.DEPLOYMENT_MAX_BODY_BYTES


_PEAK_RSS_CHILD = """
import resource, sys
# A regression fails with MemoryError here rather than wake the machine's OOM killer (the old code wanted 30 GB).
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from bankscore import WireGeneration
from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._plan import BenchTarget, build_plan
for argv in sys.argv[1:]:
    options = parse_ab_args([*argv.split(), "--generation", "C", "http://127.0.0.1:9/score"])
    build_plan(options, BenchTarget(options.url or "", generation=WireGeneration.C))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child spawned by a big pytest reported the parent.
peak_kib = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
print(int(peak_kib) // 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads VmHWM from /proc/self/status")
def test_planning_a_big_batch_run_stays_small_in_memory() -> None:
    """Issue 14's case measured in a process of its own: 3.2 GB before; the data and the client take ~150 MB."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_RSS_CHILD,
            "-n 2 -c 1 --batch-size 1000",
            "-n 1000000 -c 8 --batch-size 10000",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 1024, f"peak RSS {proc.stdout.strip()} MiB"  # generous: the old code took 3,200


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


_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by tests/conftest.py, as `trained` is


@pytest.fixture(scope="module")
def engine_deployment_a(trained: Any) -> Iterator[str]:
    """A real generation-A local deployment (`bankscore deploy local`); its scoring URI."""
    with _fixtures.local_deployment(trained, "bench-engine-a", "--generation", "A") as uri:
        yield uri


@pytest.mark.slow
def test_the_engine_scores_a_real_deployment_and_catches_a_wrong_generation(
    engine_run: EngineRun, engine_deployment_a: str
) -> None:
    assert detect_endpoint_generation(engine_deployment_a).value == "A"  # from its /swagger.json

    def plan(generation: str, requests: int, method: str) -> LoadPlan:
        return LoadPlan(
            url=engine_deployment_a,
            method="POST",
            payloads=bank_marketing_payloads(generation, batch_size=4, pool_size=30, seed=1),
            requests=requests,
            concurrency=2,
            accept_variable_length=True,
            checker=ScoringChecker(method),
        )

    info, log = engine_run(plan("A", 60, scoring_method(WireGeneration.A)))
    assert len(log) == 60
    assert set(log.status) == {200}
    assert set(log.failure) == {Failure.NONE}
    assert set(log.records) == {4}
    assert info.server_software  # the inference server names itself
    assert info.document_length is None  # -l: scoring answers vary in length

    # Told generation B, the bench asks an A endpoint for probabilities; A ignores "method" and answers
    # labels with a 200: every one is a wrong body, and ab's "Failed requests" must say so.
    _, log = engine_run(plan("B", 40, "predict_proba"))
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
