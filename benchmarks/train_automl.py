"""Benchmark: `bankscore train` as a user runs it: the default, a 10 s budget, and without `duration`.

Each configuration runs the real command in a fresh workspace and is timed from process start to exit
(imports, dataset registration, search, ensembling, report and MLflow registration included). Figures on rows
the model never saw come from the command's own stratified 20% hold-out; the calibration error is also given
out of fold. ``--busy N`` keeps N CPU-bound processes running beside every run (a machine shared with other
jobs); ``--force`` is passed so that a model the registration guard refuses is still measured.

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


if __name__ == "__main__":
    main()
