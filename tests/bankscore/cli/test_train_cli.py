"""`bankscore train` and `bankscore models` as a user runs them: real processes, a real registry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bankscore.data import load_training_data


def _bankscore(*args: str, home: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, check=check
    )


_RUN_AND_LIST_MODULES = """
import contextlib, io, json, sys
HEAVY = ("mlflow", "sqlalchemy", "sklearn", "flaml", "lightgbm", "xgboost", "pandas")
from bankscore.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    main(sys.argv[1:], standalone_mode=False)
heavy = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"output": out.getvalue(), "heavy": heavy}))
"""


def _bankscore_modules(*args: str, home: Path) -> dict[str, Any]:
    """Run one CLI command in a fresh interpreter; its output and which heavy libraries it imported."""
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, *args], capture_output=True, text=True, env=env, check=True
    )
    found: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return found


@pytest.fixture
def sample_csv(tmp_path: Path) -> Path:
    data = load_training_data()
    rows = [",".join(str(v) for v in r.values()) for r in list(data.records(with_label=True))[::6]]
    path = tmp_path / "sample.csv"
    path.write_text(",".join(data.columns) + "\n" + "\n".join(rows) + "\n")
    return path


def test_unknown_exclude_is_named_before_anything_runs(tmp_path: Path) -> None:
    proc = _bankscore("train", "--exclude", "salary", home=tmp_path / "ws")
    assert proc.returncode == 2
    assert "salary is not a Bank Marketing feature" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws" / "datasets").exists()


def test_a_budget_too_small_is_refused(tmp_path: Path, sample_csv: Path) -> None:
    _bankscore("data", "register", str(sample_csv), "--name", "sample", home=tmp_path / "ws", check=True)
    proc = _bankscore("train", "--dataset", "sample", "--time-budget", "1", home=tmp_path / "ws")
    assert proc.returncode == 1
    assert "--time-budget 1: too small to fit one model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_dataset_is_refused_before_training(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("age;job;y\n41;astronaut;no\n")
    proc = _bankscore("data", "register", str(bad), home=tmp_path / "ws")
    assert proc.returncode == 1
    assert "'marital' is missing" in proc.stderr and "nothing was loaded" in proc.stderr


@pytest.mark.slow
def test_train_registers_and_models_reads_back(tmp_path: Path, sample_csv: Path) -> None:
    home = tmp_path / "ws"
    registered = _bankscore("data", "register", str(sample_csv), "--name", "sample", "--json", home=home, check=True)
    assert json.loads(registered.stdout)["created"] is True
    again = _bankscore("data", "register", str(sample_csv), "--name", "sample", home=home, check=True)
    assert "already registered as sample:1" in again.stdout

    proc = _bankscore(
        "train", "--dataset", "sample", "--max-trials", "6", "--cv", "3", "--exclude", "duration", "--json", home=home
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["model"] == "bank-marketing:1"
    assert summary["excluded"] == ["duration"] and summary["dataset"] == "sample:1"
    assert summary["trials"] == 6
    assert "trial   1" in proc.stderr and "best" in proc.stderr  # progress while searching
    assert "Add type hints" not in proc.stderr  # no library advice for the user
    report = Path(summary["report"])
    assert {p.name for p in report.iterdir()} >= {
        "leaderboard.csv",
        "leaderboard.json",
        "summary.json",
        "roc_curve.png",
        "confusion_matrix.png",
        "calibration.png",
        "calibration.json",
        "model_card.md",
        "model_card.json",
    }
    assert summary["guard"]["passed"] is True
    leaderboard = json.loads((report / "leaderboard.json").read_text())
    assert all({"AUC_weighted", "log_loss", "yes_rate"} <= set(row) for row in leaderboard)
    assert 0 < summary["cv_metrics"]["yes_rate"] < 1
    assert 0 <= summary["calibration_error"]["out_of_fold"] < 0.1

    card = json.loads(_bankscore("models", "card", "bank-marketing:1", "--json", home=home, check=True).stdout)
    assert card["model"]["ref"] == "bank-marketing:1"
    assert [e["name"] for e in card["excluded"]] == ["duration"] and "leaks" in card["excluded"][0]["why"]
    held = card["metrics"]["held_out"]
    assert sum(held["confusion_matrix"].values()) == summary["holdout_rows"]
    low, high = held["auc_ci95"]
    assert low <= summary["holdout_metrics"]["AUC_weighted"] <= high
    low, high = held["accuracy_ci95"]
    assert low <= summary["holdout_metrics"]["accuracy"] <= high
    assert card["metrics"]["reference"]["auc"] == 0.80  # the literature's figure without duration
    assert card["threshold"]["value"] == 0.5
    markdown = _bankscore("models", "card", "bank-marketing:1", home=home, check=True).stdout
    assert markdown.startswith("# Model card: bank-marketing:1")
    for heading in ("## Data", "## Metrics", "## Threshold", "## Calibration", "## Caveats"):
        assert heading in markdown
    # Reading a card is a registry read: it loads neither MLflow nor the training stack.
    loaded = _bankscore_modules("models", "card", "bank-marketing:1", home=home)
    assert loaded["output"].startswith("# Model card: bank-marketing:1")
    assert loaded["heavy"] == []

    listed = json.loads(_bankscore("models", "list", "--json", home=home, check=True).stdout)
    assert [v["ref"] for v in listed] == ["bank-marketing:1"]
    shown = _bankscore("models", "show", "bank-marketing:1", home=home, check=True).stdout
    assert "excluded  duration" in shown and "holdout_AUC_weighted" in shown
    missing = _bankscore("models", "show", "bank-marketing:9", home=home)
    assert missing.returncode == 1 and "has no version '9' (versions: 1)" in missing.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_registers_the_best_so_far(tmp_path: Path, sample_csv: Path) -> None:
    home = tmp_path / "ws"
    _bankscore("data", "register", str(sample_csv), "--name", "sample", home=home, check=True)
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankscore.cli", "train", "--dataset", "sample", "--time-budget", "300", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    # The first trial is FLAML's zero-shot LightGBM, not a 4-tree model: on a loaded machine it takes a while.
    deadline = time.monotonic() + 300
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("trial   2"):
            break
    else:
        proc.kill()
        pytest.fail("no second trial within 300 s: " + "".join(seen))
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stopped by Ctrl-C: keeping the best model found so far" in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert summary["model"] == "bank-marketing:1"
    assert summary["trials"] < 60  # stopped long before the 300 s budget


@pytest.mark.slow
def test_a_model_that_labels_everyone_no_is_refused_unless_forced(tmp_path: Path, sample_csv: Path) -> None:
    """Trained on the weekday alone, no customer reaches P(yes) 0.5: the guard refuses to register it."""
    home = tmp_path / "ws"
    _bankscore("data", "register", str(sample_csv), "--name", "sample", home=home, check=True)
    from bankscore.features import FEATURE_NAMES

    exclude = [arg for name in FEATURE_NAMES if name != "day_of_week" for arg in ("--exclude", name)]
    common = ["train", "--dataset", "sample", "--max-trials", "2", "--cv", "3", "--learner", "lgbm", *exclude]
    refused = _bankscore(*common, "--output", str(tmp_path / "refused"), home=home)
    assert refused.returncode == 1
    assert "not registered" in refused.stderr and "labels every row 'no'" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(_bankscore("models", "list", "--json", home=home, check=True).stdout) == []
    card = json.loads((tmp_path / "refused" / "model_card.json").read_text())  # the reviewer can still see why
    assert card["registration_guard"]["passed"] is False and card["model"]["ref"] == "not registered"

    forced = _bankscore(*common, "--force", "--json", home=home)
    assert forced.returncode == 0, forced.stderr
    summary = json.loads(forced.stdout)
    assert summary["model"] == "bank-marketing:1"
    assert summary["guard"]["forced"] is True and summary["cv_metrics"]["yes_rate"] == 0.0
    shown = _bankscore("models", "card", "bank-marketing:1", home=home, check=True).stdout
    assert "failed, registered with --force" in shown
