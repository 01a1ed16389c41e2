"""Benchmark: `bankscore train` as a user runs it: the default, a 10 s budget, and without `duration`.

Each configuration runs the real command in a fresh workspace and is timed from process start to exit
(imports, dataset registration, search, ensembling, report and MLflow registration included). Figures on rows
the model never saw come from the command's own stratified 20% hold-out; the calibration error is also given
out of fold. ``--busy N`` keeps N CPU-bound processes running beside every run (a machine shared with other
jobs); ``--force`` is passed so that a model the registration guard refuses is still measured.

The reference row is a hand-tuned LightGBM (600 trees, learning rate 0.03, 31 leaves, bagging 0.8, LightGBM's
own categorical handling) fitted on the same 80% and scored on the same 20% as the command's hold-out (the same
stratified split and seed), under the same load: the yardstick the default run must beat on the same rows.

    python benchmarks/train_automl.py [--seed N] [--busy 3] [--only NAME] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CONFIGS = {
    "default (150 s)": [],
    "--time-budget 10": ["--time-budget", "10"],
    "--exclude duration": ["--exclude", "duration"],
}
BURNER = "while True:\n    pass\n"


def run(extra: list[str], seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BANKSCORE_HOME": home}
        env.pop("MLFLOW_TRACKING_URI", None)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bankscore.cli", "train", "--seed", str(seed), "--json", "--force", *extra],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        wall = time.monotonic() - started
    summary = json.loads(proc.stdout)
    return {
        "wall_seconds_process": round(wall, 1),
        "algorithm": summary["algorithm"],
        "trials": summary["trials"],
        "cv_AUC_weighted": round(summary["cv_metrics"]["AUC_weighted"], 4),
        "holdout_AUC_weighted": round(summary["holdout_metrics"]["AUC_weighted"], 4),
        "holdout_accuracy": round(summary["holdout_metrics"]["accuracy"], 4),
        "holdout_yes_rate": round(summary["holdout_metrics"]["yes_rate"], 4),
        "holdout_ece": round(summary["calibration_error"]["held_out"], 4),
        "oof_ece": round(summary["calibration_error"]["out_of_fold"], 4),
        "guard": summary["guard"]["verdict"],
        "ensemble": summary["ensemble"],
    }


def reference_lightgbm(seed: int) -> dict[str, object]:
    """The hand-tuned LightGBM on the command's own split: the same rows for training and for the hold-out."""
    import lightgbm
    import numpy as np
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from bankscore.automl._metrics import calibration
    from bankscore.data import load_training_data

    frame = load_training_data().to_pandas()
    y = (frame["y"] == "yes").astype(int)
    x = frame.drop(columns=["y"])
    for column in x.columns:
        if x[column].dtype == object:
            x[column] = x[column].astype("category")
    x_train, x_hold, y_train, y_hold = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    model = lightgbm.LGBMClassifier(
        n_estimators=600, learning_rate=0.03, num_leaves=31, subsample=0.8, subsample_freq=1, verbose=-1
    )
    started = time.monotonic()
    model.fit(x_train, y_train)
    p_yes = model.predict_proba(x_hold)[:, 1]
    return {
        "wall_seconds_fit": round(time.monotonic() - started, 1),
        "holdout_AUC_weighted": round(float(roc_auc_score(y_hold, p_yes)), 4),
        "holdout_accuracy": round(float(accuracy_score(y_hold, p_yes >= 0.5)), 4),
        "holdout_yes_rate": round(float(np.mean(p_yes >= 0.5)), 4),
        "holdout_ece": round(calibration(np.asarray(y_hold), p_yes).ece, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes running beside every run")
    parser.add_argument("--only", choices=sorted(CONFIGS), action="append", help="run only these configurations")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "train_automl.json")
    args = parser.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(args.busy)]
    try:
        results = {name: run(extra, args.seed) for name, extra in CONFIGS.items() if not args.only or name in args.only}
        reference = reference_lightgbm(args.seed)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seed": args.seed,
        "busy_processes": args.busy,
        "results": results,
        "reference_lightgbm": reference,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(
        "| configuration | wall (s) | trials | model | CV AUC | held-out AUC | held-out accuracy | 'yes' rate "
        "| ECE held out / out of fold |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['wall_seconds_process']} | {r['trials']} | {r['algorithm']} | {r['cv_AUC_weighted']} "
            f"| {r['holdout_AUC_weighted']} | {r['holdout_accuracy']} | {r['holdout_yes_rate']} "
            f"| {r['holdout_ece']} / {r['oof_ece']} |"
        )
    r = reference
    print(
        f"| hand-tuned LightGBM, same split | {r['wall_seconds_fit']} (fit) | 1 | LightGBM | | "
        f"{r['holdout_AUC_weighted']} | {r['holdout_accuracy']} | {r['holdout_yes_rate']} | {r['holdout_ece']} / |"
    )


if __name__ == "__main__":
    main()
