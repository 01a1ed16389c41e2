"""The pipeline's blue-green rollout: its parameters, which deployment gets the new model, and real rollouts
on a local endpoint (real AutoML with a tiny budget, real servers, nginx, compare) that pass or are held."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from bankscore_tests_loopback import free_port

from bankscore._compare import Gate
from bankscore.pipeline import PipelineParameters, PipelineResult, run_pipeline
from bankscore.pipeline._parameters import PipelineParameterError
from bankscore.pipeline._rollout import RolloutError, RolloutHeldError, choose_deployments, held_reason
from bankscore.pipeline._steps import STEP_NAMES, PipelineContext, compare, shift

# The conftest's fixture: ``with small_workspace(name, every) as (home, csv):``
SmallWorkspace = Callable[[str, int], contextlib.AbstractContextManager[tuple[Path, Path]]]

# ------------------------------------------------------------------------------------------------ parameters


def test_the_rollout_parameters_default_to_replace_with_gates_a_ci_can_keep() -> None:
    params = PipelineParameters()
    assert params.rollout == "replace"
    assert (params.compare_sample, params.max_disagreement, params.max_auc_drop, params.max_latency_ratio) == (
        2000,
        0.05,
        0.01,
        2.0,
    )
    assert STEP_NAMES.index("deploy") < STEP_NAMES.index("compare") < STEP_NAMES.index("shift")
    assert STEP_NAMES.index("shift") < STEP_NAMES.index("update_client")


def test_a_rollout_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(PipelineParameterError, match=r"rollout=1: must be a string"):
        PipelineParameters.from_assignments({"rollout": 1})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-disagreement", "2"], "Invalid value for '--max-disagreement': 2.0: must be a number from 0 to 1"),
        (["--compare-sample", "0"], "Invalid value for '--compare-sample': 0: must be at least 1 record"),
        (["--rollout", "canary"], "Invalid value for '--rollout'"),
    ],
)
def test_the_cli_names_a_bad_rollout_option_as_typed(args: list[str], words: str, tmp_path: Path) -> None:
    env = {**os.environ, "BANKSCORE_HOME": str(tmp_path / "ws")}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", "--rollout", "blue-green", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws" / "runs").exists()


# ------------------------------------------------------------------------------------------------ choosing


@pytest.mark.parametrize(
    ("traffic", "expected"),
    [
        (None, (None, "blue")),
        ({}, (None, "blue")),
        ({"blue": 100}, ("blue", "green")),
        ({"blue": 100, "green": 0}, ("blue", "green")),
        ({"blue": 0, "green": 100}, ("green", "blue")),
        ({"green": 100}, ("green", "blue")),
    ],
)
def test_the_new_model_goes_to_the_deployment_without_the_live_traffic(
    traffic: dict[str, int] | None, expected: tuple[str | None, str]
) -> None:
    assert choose_deployments("shop", traffic) == expected


@pytest.mark.parametrize(
    ("traffic", "words"),
    [
        ({"blue": 90, "green": 10}, "splits its traffic (blue=90 green=10)"),
        ({"blue": 0, "green": 0}, "has no live traffic (blue=0 green=0)"),
        ({"red": 100, "blue": 0}, "serves its traffic from 'red'"),
    ],
)
def test_an_endpoint_set_by_hand_is_not_overruled(traffic: dict[str, int], words: str) -> None:
    with pytest.raises(RolloutError) as info:
        choose_deployments("shop", traffic)
    assert words in str(info.value) and "bankscore deploy" in str(info.value)


def test_a_held_rollout_names_each_failed_gate_with_its_value_and_limit() -> None:
    failed = [
        Gate("max_disagreement", 0.05, 0.0831, False),
        Gate("max_auc_drop", 0.01, None, False, "not measured: the data has no labels"),
    ]
    reason = held_reason(failed, endpoint="shop", live="blue", new="green")
    assert "2 gate(s) failed" in reason
    assert "max_disagreement: 0.0831 > limit 0.05" in reason
    assert "max_auc_drop: not measured: the data has no labels (limit 0.01)" in reason
    assert "'blue' keeps its traffic" in reason and "'green' stays at 0%" in reason
    assert "bankscore deploy traffic --name shop green=100 blue=0" in reason


# ------------------------------------------------------------------------------------------------ steps, alone


def test_compare_and_shift_have_nothing_to_do_in_a_replace_rollout(tmp_path: Path) -> None:
    context = PipelineContext(params=PipelineParameters(), run_dir=tmp_path, rolled_out=True)
    assert compare(context, print).message == "nothing to compare: the rollout is replace"
    assert shift(context, print).message == "nothing to shift: the rollout is replace"
    assert context.comparison is None and context.rolled_out is True


def test_a_failed_gate_holds_the_shift_before_any_traffic_moves(tmp_path: Path) -> None:
    failed = [Gate("max_latency_ratio", 1e-6, 1.2, False)]
    context = PipelineContext(params=PipelineParameters(rollout="blue-green", deployment="shop"), run_dir=tmp_path)
    context.live = "blue"
    context.deployment = cast(Any, SimpleNamespace(deployment="green"))
    # No endpoint exists here: a shift that tried to move traffic would fail with another error.
    context.comparison = cast(Any, SimpleNamespace(failed_gates=failed))
    with pytest.raises(RolloutHeldError) as info:
        shift(context, print)
    assert "max_latency_ratio: 1.2 > limit 1e-06" in str(info.value)
    assert info.value.failed == [{"name": "max_latency_ratio", "value": 1.2, "limit": 1e-6, "detail": ""}]
    assert context.rolled_out is False


def test_a_held_rollout_is_a_step_failure_that_says_it_was_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bankscore.pipeline._run import _failure
    from bankscore.pipeline._steps import STEPS

    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    context = PipelineContext(params=PipelineParameters(rollout="blue-green"), run_dir=tmp_path, rolled_out=False)
    (step,) = [s for s in STEPS if s.name == "shift"]
    result = PipelineResult(run_id="r1", status="Running")
    error = _failure(step, RolloutHeldError("rollout held, 1 gate(s) failed: ...", []), context, result)
    assert (error.step, error.held, error.reason) == ("shift", True, "rollout held, 1 gate(s) failed: ...")
    other = _failure(step, RuntimeError("boom"), context, result)
    assert not other.held and other.reason == "RuntimeError: boom"


# ------------------------------------------------------------------------------------------------ real rollouts

# Three real runs, each with a tiny AutoML budget; on 2 shared, busy cores one run can take minutes.
REAL_RUNS_TIMEOUT = 1800

ENDPOINT = "shop"
HEADER = "azureml-model-deployment"


@dataclass
class Rollouts:
    home: Path
    csv: Path
    first: PipelineResult
    passed: PipelineResult
    blue_before: Any  # blue's state before the second run: it must keep running, untouched, at 0%

    def env(self) -> dict[str, str]:
        env = {**os.environ, "BANKSCORE_HOME": str(self.home)}
        env.pop("MLFLOW_TRACKING_URI", None)
        return env


def _params(csv: Path, **changes: Any) -> PipelineParameters:
    values: dict[str, Any] = {
        "dataset": str(csv),
        "time_budget_s": 5.0,
        "deployment": ENDPOINT,
        "rollout": "blue-green",
        "compare_sample": 150,
    }
    return PipelineParameters(**{**values, **changes})


@pytest.fixture(scope="module")
def rollouts(small_workspace: SmallWorkspace) -> Iterator[Rollouts]:
    """Two blue-green runs into a fresh workspace: the first makes the endpoint, the second rolls out to green
    with gates it passes (wide limits: a model trained for 5 s may differ from the first). Stopped at the end."""
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._local import load_state, stop_local

    if find_nginx() is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    with small_workspace("rollout", 16) as (home, csv):
        try:
            first = run_pipeline(_params(csv, port=free_port()))
            blue_before = load_state(ENDPOINT, "blue")
            passed = run_pipeline(_params(csv, max_disagreement=1.0, max_auc_drop=1.0, max_latency_ratio=1000.0))
            yield Rollouts(home, csv, first, passed, blue_before)
        finally:
            stop_local(ENDPOINT)


@pytest.fixture
def in_rollouts(rollouts: Rollouts, monkeypatch: pytest.MonkeyPatch) -> Rollouts:
    """``rollouts``, with its workspace as BANKSCORE_HOME for this test (and no MLflow tracking URI)."""
    monkeypatch.setenv("BANKSCORE_HOME", str(rollouts.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return rollouts


def _answered_by(home: Path) -> str:
    """Which deployment answered a plain scoring request on the endpoint (no pin: the traffic decides)."""
    from bankscore.data import load_training_data
    from bankscore.deploy._local import read_keys
    from bankscore.deploy._state import load_endpoint

    endpoint = load_endpoint(ENDPOINT)
    assert endpoint is not None
    key = read_keys(ENDPOINT).get("primary")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    record = next(iter(load_training_data().records()))
    body = {"Inputs": {"data": [record]}, "GlobalParameters": {"method": "predict_proba"}}
    response = httpx.post(f"http://127.0.0.1:{endpoint.port}/score", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers[HEADER]


@pytest.mark.slow
@pytest.mark.timeout(REAL_RUNS_TIMEOUT)
def test_the_first_blue_green_run_deploys_blue_with_all_the_traffic(rollouts: Rollouts) -> None:
    first = rollouts.first
    assert (first.status, first.rollout, first.deployment, first.live_deployment) == (
        "Completed",
        "blue-green",
        "blue",
        None,
    )
    assert first.rolled_out is True and first.gates == []
    steps = {event.step: event for event in first.steps}
    assert steps["compare"].message == "nothing to compare: the endpoint's first deployment"
    assert rollouts.blue_before is not None


@pytest.mark.slow
@pytest.mark.timeout(REAL_RUNS_TIMEOUT)
def test_a_rollout_whose_gates_pass_moves_the_traffic_and_keeps_the_old_deployment(in_rollouts: Rollouts) -> None:
    from bankscore.deploy._local import is_running, load_state
    from bankscore.deploy._state import load_endpoint

    passed = in_rollouts.passed
    assert (passed.status, passed.error) == ("Completed", None)
    assert [(e.step, e.status) for e in passed.steps] == [(name, "Completed") for name in STEP_NAMES]
    assert (passed.deployment, passed.live_deployment, passed.rolled_out) == ("green", "blue", True)
    assert {gate["name"] for gate in passed.gates} == {"max_disagreement", "max_auc_drop", "max_latency_ratio"}
    assert all(gate["passed"] for gate in passed.gates)

    endpoint = load_endpoint(ENDPOINT)
    assert endpoint is not None and endpoint.traffic == {"blue": 0, "green": 100}
    green, blue = load_state(ENDPOINT, "green"), load_state(ENDPOINT, "blue")
    assert green is not None and green.model_version == passed.model_version == "2"
    assert blue is not None and is_running(blue)  # a rollback is one `deploy traffic`
    assert (blue.model_version, blue.server_pid) == ("1", in_rollouts.blue_before.server_pid)
    assert _answered_by(in_rollouts.home) == "green"

    status = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "deploy", "status", "--name", ENDPOINT, "--json"],
        capture_output=True, text=True, env=in_rollouts.env(), timeout=120, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["traffic"] == {"blue": 0, "green": 100}

    # The comparison's report, as JSON and HTML, is the compare step's output.
    assert passed.run_dir is not None
    report = json.loads((Path(passed.run_dir) / "compare" / "compare.json").read_text())
    assert (report["live"], report["new"], report["n"], report["passed"]) == ("blue", "green", 150, True)
    assert report["sides"]["a"]["name"] == "blue" and report["sides"]["b"]["name"] == "green"
    assert (Path(passed.run_dir) / "compare" / "compare.html").read_text().startswith("<!DOCTYPE html>")
    # The client follows the deployment that now takes the traffic.
    assert any(e.step == "update_client" and e.status == "Completed" for e in passed.steps)


@pytest.mark.slow
@pytest.mark.timeout(REAL_RUNS_TIMEOUT)
def test_a_failed_gate_holds_the_rollout_and_the_cli_exits_non_zero(in_rollouts: Rollouts) -> None:
    from bankscore.deploy._local import load_state
    from bankscore.deploy._state import load_endpoint

    green_before = load_state(ENDPOINT, "green")
    assert green_before is not None

    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", "--dataset", str(in_rollouts.csv),
         "--time-budget", "5", "--deployment", ENDPOINT, "--rollout", "blue-green", "--compare-sample", "100",
         "--max-latency-ratio", "0.000001", "--max-disagreement", "1", "--max-auc-drop", "1", "--json"],
        capture_output=True, text=True, env=in_rollouts.env(), timeout=600, check=False,
    )  # fmt: skip

    assert proc.returncode == 1, proc.stderr
    assert "pipeline step 'shift' failed: rollout held, 1 gate(s) failed: max_latency_ratio: " in proc.stderr
    assert "> limit 1e-06" in proc.stderr and "'green' keeps its traffic" in proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert (result["status"], result["rolled_out"], result["deployment"], result["live_deployment"]) == (
        "Failed",
        False,
        "blue",
        "green",
    )
    (gate,) = [g for g in result["gates"] if not g["passed"]]
    assert (gate["name"], gate["limit"]) == ("max_latency_ratio", 1e-6) and gate["value"] > 1e-6
    assert [(s["step"], s["status"]) for s in result["steps"]][-1] == ("shift", "Failed")

    endpoint = load_endpoint(ENDPOINT)
    assert endpoint is not None and endpoint.traffic == {"blue": 0, "green": 100}  # untouched
    green, blue = load_state(ENDPOINT, "green"), load_state(ENDPOINT, "blue")
    assert green is not None and green.server_pid == green_before.server_pid
    # The new model, at 0%, for inspection.
    assert blue is not None and blue.model_version == result["model_version"] != green.model_version
    assert _answered_by(in_rollouts.home) == "green"
