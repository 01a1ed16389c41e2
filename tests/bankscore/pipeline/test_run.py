"""`run_pipeline` / `bankscore pipeline run`: parameters, and real runs (real AutoML, MLflow, server, nginx)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from bankscore_tests_loopback import free_port

from bankscore.pipeline import PipelineParameters, PipelineResult, PipelineStepError, StepEvent, run_pipeline
from bankscore.pipeline._parameters import PipelineParameterError
from bankscore.pipeline._steps import STEP_NAMES, client_package_name

# The conftest's fixture: ``with small_workspace(name, every) as (home, csv):``
SmallWorkspace = Callable[[str, int], contextlib.AbstractContextManager[tuple[Path, Path]]]

# ------------------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        (
            {"time_budget_s": "30", "exclude": "duration, age", "port": "", "dataset": "", "workers": "2",
             "generation": "B", "seed": "7", "deployment": "scoring"},
            PipelineParameters(
                time_budget_s=30.0, exclude=("duration", "age"), workers=2, generation="B", seed=7,
                deployment="scoring",
            ),
        ),
        (  # the blue-green rollout's
            {"rollout": " blue-green ", "compare_sample": "500", "max_disagreement": "0.1", "max_auc_drop": "0",
             "max_latency_ratio": "3.5"},
            PipelineParameters(
                rollout="blue-green", compare_sample=500, max_disagreement=0.1, max_auc_drop=0.0,
                max_latency_ratio=3.5,
            ),
        ),
    ],
)  # fmt: skip
def test_assignments_are_parsed_from_azure_strings(assignments: dict[str, str], expected: PipelineParameters) -> None:
    assert PipelineParameters.from_assignments(assignments) == expected


def test_assignments_may_also_be_json_values_or_left_out() -> None:
    assert PipelineParameters.from_assignments({"exclude": ["duration"], "port": "5005"}).port == 5005
    assert PipelineParameters.from_assignments({"max_latency_ratio": 4, "compare_sample": 10.0}).compare_sample == 10
    assert PipelineParameters.from_assignments({}) == PipelineParameters()
    assert PipelineParameters().deployment == "bank-marketing"  # `bankscore deploy local`'s default name


def test_an_unknown_assignment_is_named() -> None:
    with pytest.raises(PipelineParameterError) as info:
        PipelineParameters.from_assignments({"time_budget_s": "30", "budget": "30"})
    assert "unknown pipeline parameter 'budget'" in str(info.value)
    assert "time_budget_s" in str(info.value)  # and the accepted names are listed


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("time_budget_s", "soon", "must be a number"),
        ("time_budget_s", "-5", "positive"),
        ("exclude", "duration,shoe_size", "shoe_size is not a Bank Marketing feature"),
        ("generation", "E", "one of A, B, C, D"),
        ("port", "70000", "between 1024 and 65535"),
        ("port", "22", "a system service's"),
        ("workers", "1.5", "whole number"),
        ("workers", "0", "at least 1"),
        ("deployment", "../etc", "plain name"),
        # the blue-green rollout's
        ("rollout", "canary", "must be one of replace, blue-green"),
        ("rollout", "5", "must be one of replace, blue-green"),
        ("compare_sample", "0", "at least 1 record"),
        ("compare_sample", "2.5", "whole number"),
        ("compare_sample", "many", "must be a number"),
        ("max_disagreement", "1.5", "from 0 to 1"),
        ("max_disagreement", "-0.1", "from 0 to 1"),
        ("max_auc_drop", "nan", "finite"),
        ("max_auc_drop", "2", "from 0 to 1"),
        ("max_latency_ratio", "0", "positive"),
        ("max_latency_ratio", "fast", "must be a number"),
    ],
)
def test_a_bad_value_names_the_parameter_and_the_value(name: str, value: str, fragment: str) -> None:
    with pytest.raises(PipelineParameterError) as info:
        PipelineParameters.from_assignments({name: value})
    message = str(info.value)
    assert f"pipeline parameter {name}={value!r}" in message
    assert fragment in message


# ------------------------------------------------------------------------------------------------ MLflow record


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "ws"


def _runs(experiment: str) -> list[Any]:
    from bankscore.automl._registry import _mlflow

    client = _mlflow().MlflowClient()
    found = client.get_experiment_by_name(experiment)
    return list(client.search_runs([found.experiment_id])) if found else []


def test_a_run_canceled_before_it_starts_runs_no_step_and_is_recorded_as_killed(home: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    events: list[StepEvent] = []
    result = run_pipeline(PipelineParameters(experiment="cancel-test"), on_event=events.append, cancel=cancel)
    assert result.status == "Canceled"
    assert [(e.step, e.status) for e in events] == [("register_data", "Canceled")]
    assert result.error is not None and "register_data" in result.error
    (run,) = _runs("cancel-test")
    assert (run.info.run_id, run.info.status) == (result.run_id, "KILLED")
    assert not (home / "datasets").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--time-budget", "0"], "Invalid value for '--time-budget': 0.0: must be a positive number of seconds"),
        (["--deployment", "../x"], "Invalid value for '--deployment': '../x': must be a plain name"),
    ],
)
def test_the_cli_names_a_bad_option_as_typed_before_any_run_starts(args: list[str], words: str, home: Path) -> None:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert "time_budget_s" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (home / "runs").exists()  # refused before an MLflow run was opened


def test_the_summary_of_a_run_that_stopped_early_claims_nothing_about_the_spec_or_the_client() -> None:
    from bankscore.cli._pipeline_run import _summary_lines

    canceled = PipelineResult(
        run_id="r1",
        status="Canceled",
        steps=[StepEvent("register_data", "Completed", "ok", 1.0), StepEvent("automl", "Canceled", "stop", 2.0)],
    )
    shown = "\n".join(_summary_lines(canceled))
    assert "no previous deployment" not in shown and "the request did not change" not in shown
    assert shown.count("n/a (the run ended before update_client)") == 2

    done = PipelineResult(
        run_id="r2", status="Completed", steps=[StepEvent(n, "Completed", "ok", 1.0) for n in STEP_NAMES]
    )
    shown = "\n".join(_summary_lines(done))
    assert "n/a (no previous deployment)" in shown and "not regenerated (the request did not change)" in shown


def test_status_shows_a_failed_steps_long_reason_once() -> None:
    from bankscore.cli._pipeline_rest import _status_lines
    from bankscore.pipeline import PipelineRunStatus, StepStatus

    reason = "bad.csv does not fit the Bank Marketing feature contract\n  - line 5: marital='astronaut'"
    failed = PipelineRunStatus(
        run_id="r1",
        status="Failed",
        experiment="e",
        error=f"pipeline step 'register_data' failed: {reason}",
        steps=(StepStatus("register_data", "Failed", message=reason),),
    )
    shown = "\n".join(_status_lines(failed))
    assert shown.count("marital='astronaut'") == 1  # in the run's error; the step line keeps to its first line
    assert "register_data      Failed          bad.csv does not fit the Bank Marketing feature contract ..." in shown


# ------------------------------------------------------------------------------------------------ real runs


@dataclass
class FirstRun:
    home: Path
    csv: Path
    port: int
    result: PipelineResult
    events: list[StepEvent]

    def params(self, **changes: Any) -> PipelineParameters:
        values: dict[str, Any] = {"dataset": str(self.csv), "time_budget_s": 10.0, "port": self.port}
        return PipelineParameters(**{**values, **changes})


@pytest.fixture(scope="module")
def first(small_workspace: SmallWorkspace) -> Iterator[FirstRun]:
    """One real run with every feature, on every sixth shipped row, into a fresh workspace; stopped at the end."""
    from bankscore.deploy._local import stop_local

    with small_workspace("pipeline", 6) as (home, csv):
        port = free_port()
        events: list[StepEvent] = []
        params = PipelineParameters(dataset=str(csv), time_budget_s=10.0, port=port)
        try:
            result = run_pipeline(params, on_event=events.append)
            yield FirstRun(home, csv, port, result, events)
        finally:
            stop_local(params.deployment)


@pytest.fixture
def in_first_workspace(first: FirstRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process pointed at the first run's workspace for the test (as its `bankscore` commands are)."""
    monkeypatch.setenv("BANKSCORE_HOME", str(first.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _score(run: FirstRun, record: dict[str, Any]) -> httpx.Response:
    from bankscore.deploy._local import read_keys

    key = read_keys("bank-marketing").get("primary")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"Inputs": {"data": [record]}, "GlobalParameters": {"method": "predict_proba"}}
    return httpx.post(f"http://127.0.0.1:{run.port}/score", json=body, headers=headers, timeout=30)


def _a_record(exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    from bankscore.data import load_training_data

    record = next(iter(load_training_data().records()))
    return {k: v for k, v in record.items() if k not in exclude}


@pytest.mark.slow
def test_a_full_run_registers_trains_deploys_and_generates_the_client(first: FirstRun) -> None:
    result = first.result
    assert (result.status, result.error) == ("Completed", None)
    assert [(e.step, e.status) for e in result.steps] == [(name, "Completed") for name in STEP_NAMES]
    shown = [(e.step, e.status) for e in first.events]
    assert all((name, "Running") in shown for name in STEP_NAMES)  # each step was shown as it ran
    assert any(e.step == "automl" and e.message.startswith("trial ") for e in first.events)
    assert (result.model_name, result.model_version) == ("bank-marketing", "1")
    assert result.auc is not None and 0.5 < result.auc <= 1.0
    assert result.scoring_uri == f"http://127.0.0.1:{first.port}/score"
    assert result.spec_breaking is None and result.spec_diff == "no previous deployment to compare with"

    response = _score(first, _a_record())
    assert response.status_code == 200, response.text
    ((p_no, p_yes),) = response.json()["Results"]
    assert abs(p_no + p_yes - 1) < 1e-6

    assert result.client_path == str(first.home / "clients" / "bank_marketing_client")
    record_model = Path(result.client_path) / "models" / "record.py"
    assert "duration" in record_model.read_text()
    # The regenerated client is a plain import with the workspace's clients folder on sys.path.
    imported = subprocess.run(
        [sys.executable, "-c", "import bank_marketing_client as m; print(m.Record.__name__, m.GENERATION)"],
        env={**os.environ, "PYTHONPATH": str(first.home / "clients")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.stdout.strip() == "Record C", imported.stderr

    # MLflow: the pipeline run with one finished nested run per step, each with its outputs.
    runs = {run.info.run_id: run for run in _runs("bank-marketing")}
    parent = runs[result.run_id]
    assert parent.info.status == "FINISHED" and parent.data.params["dataset"] == str(first.csv)
    children = {
        run.data.tags["bankscore.step"]: run
        for run in runs.values()
        if run.data.tags.get("mlflow.parentRunId") == result.run_id
    }
    assert set(children) == set(STEP_NAMES)
    assert {run.info.status for run in children.values()} == {"FINISHED"}
    assert all("elapsed_s" in run.data.metrics for run in children.values())
    assert children["automl"].data.metrics["holdout_AUC_weighted"] == pytest.approx(result.auc)
    assert children["register_model"].data.params["model_uri"] == "models:/bank-marketing/1"
    artifacts = Path(children["automl"].info.artifact_uri.removeprefix("file://"))
    assert {"leaderboard.json", "summary.json"} <= {p.name for p in artifacts.iterdir()}
    model_data = Path(children["register_model"].info.artifact_uri.removeprefix("file://")) / "model.json"
    assert json.loads(model_data.read_text())["uri"] == "models:/bank-marketing/1"


@pytest.mark.slow
def test_a_bad_dataset_fails_its_step_and_the_running_deployment_keeps_serving(
    first: FirstRun, tmp_path: Path, in_first_workspace: None
) -> None:
    from bankscore.deploy._local import load_state

    before = load_state("bank-marketing")
    assert before is not None
    bad = tmp_path / "bad.csv"
    lines = first.csv.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1].replace(lines[1].split(",")[0], "old", 1), *lines[2:50]]) + "\n")
    events: list[StepEvent] = []
    with pytest.raises(PipelineStepError) as info:
        run_pipeline(first.params(dataset=str(bad)), on_event=events.append)
    error = info.value
    assert error.step == "register_data"
    assert str(error).startswith("pipeline step 'register_data' failed:")
    assert "age" in error.reason and "'old'" in error.reason.replace('"', "'")  # the field and the value
    assert "keeps serving" in error.reason
    # After the list of bad rows, on a line of its own (not read as part of the last row's problem).
    assert "\n(the running deployment 'bank-marketing'" in error.reason
    assert error.result is not None and error.result.status == "Failed"
    assert [(e.step, e.status) for e in events][-1] == ("register_data", "Failed")
    assert all(e.step == "register_data" for e in events)

    after = load_state("bank-marketing")
    assert after == before  # nothing was replaced
    assert _score(first, _a_record()).status_code == 200
    runs = {run.info.run_id: run for run in _runs("bank-marketing")}
    assert runs[error.result.run_id].info.status == "FAILED"


@pytest.mark.slow
def test_retraining_without_duration_redeploys_with_a_breaking_diff_and_a_new_client(
    first: FirstRun, in_first_workspace: None
) -> None:
    from bankscore.deploy._local import load_state

    before = load_state("bank-marketing")
    assert before is not None and "duration" in before.features

    result = run_pipeline(first.params(exclude=("duration",)))

    assert result.status == "Completed" and result.model_version == "2"
    assert result.spec_breaking is True
    assert result.spec_changes == [
        {"path": "record.duration", "kind": "field-removed", "old": result.spec_changes[0]["old"], "new": None,
         "breaking": True}
    ]  # fmt: skip
    assert result.spec_diff is not None and "BREAKING record.duration removed" in result.spec_diff
    assert result.client_path is not None
    assert "duration" not in (Path(result.client_path) / "models" / "record.py").read_text()

    after = load_state("bank-marketing")
    assert after is not None and "duration" not in after.features and after.model_version == "2"
    assert (after.port, after.gateway_pid) == (before.port, before.gateway_pid)  # the same public front
    assert after.server_pid != before.server_pid
    assert _score(first, _a_record(exclude=("duration",))).status_code == 200


@pytest.mark.slow
def test_the_cli_shows_steps_and_names_the_failing_one(first: FirstRun, tmp_path: Path) -> None:
    env = {**os.environ, "BANKSCORE_HOME": str(first.home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    missing = tmp_path / "missing.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", "--dataset", str(missing),
         "--port", str(first.port)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "register_data" in proc.stderr and "Running" not in proc.stdout
    assert "pipeline step 'register_data' failed" in proc.stderr and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr

    bad = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", "--exclude", "shoe_size"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    # Named by the option typed (--exclude), not by the REST field behind it; a usage error, like click's own.
    assert bad.returncode == 2 and "Invalid value for '--exclude': 'shoe_size': shoe_size is not" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_a_cancel_during_automl_stops_the_search_and_deploys_nothing(first: FirstRun, in_first_workspace: None) -> None:
    from bankscore.automl._registry import list_model_versions
    from bankscore.deploy._local import load_state

    before, versions = load_state("bank-marketing"), len(list_model_versions())
    cancel = threading.Event()
    events: list[StepEvent] = []

    def on_event(event: StepEvent) -> None:
        events.append(event)
        if event.step == "automl" and event.message.startswith("trial "):
            cancel.set()  # as the publisher's cancel does, from another thread's point of view

    result = run_pipeline(first.params(seed=3), on_event=on_event, cancel=cancel)

    assert result.status == "Canceled"
    assert result.steps[-1].step == "automl" and result.steps[-1].status == "Canceled"
    assert "canceled during AutoML" in result.steps[-1].message
    assert not any(e.step in ("register_model", "deploy", "update_client") for e in events)
    assert len(list_model_versions()) == versions
    assert load_state("bank-marketing") == before
    runs = {run.info.run_id: run for run in _runs("bank-marketing")}
    assert runs[result.run_id].info.status == "KILLED"


@pytest.mark.slow
def test_ctrl_c_during_automl_cancels_the_cli_run_with_exit_code_4(first: FirstRun) -> None:
    env = {**os.environ, "BANKSCORE_HOME": str(first.home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "run", "--dataset", str(first.csv),
         "--time-budget", "60", "--port", str(first.port), "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:  # bounded: the run itself ends within its 60 s budget
            seen.append(line)
            if "automl" in line and "trial " in line:
                proc.send_signal(signal.SIGINT)
                break
        stdout, rest = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = "".join(seen) + rest
    assert proc.returncode == 4, stderr
    assert "automl" in stderr and "Canceled" in stdout.splitlines()[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("deployment", "package"),
    [("bank-marketing", "bank_marketing_client"), ("v2.prod", "v2_prod_client"), ("2024", "_2024_client")],
)
def test_client_package_names_are_importable_identifiers(deployment: str, package: str) -> None:
    assert client_package_name(deployment) == package
    assert package.isidentifier()


@pytest.mark.slow
def test_a_stopped_deployment_comes_back_with_its_own_keys(first: FirstRun) -> None:
    """Keys belong to the deployment: a pipeline run after a stop (or a crash) serves with the same keys."""
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._local import read_keys, stop_local

    if find_nginx() is None:
        pytest.skip("nginx is not installed: deployments serve without keys")
    port = free_port()
    params = first.params(deployment="keyed", port=port)
    try:
        assert run_pipeline(params).status == "Completed"
        keys = read_keys("keyed")
        assert keys.get("primary") and keys.get("secondary")
        stop_local("keyed")
        assert run_pipeline(params).status == "Completed"
        assert read_keys("keyed") == keys
        body = {"Inputs": {"data": [_a_record()]}}
        url = f"http://127.0.0.1:{port}/score"
        for key in (keys["primary"], keys["secondary"]):
            answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert answer.status_code == 200, answer.text
    finally:
        stop_local("keyed")
