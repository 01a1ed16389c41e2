"""Benchmark: the default `bankscore train`, with and without `duration`, as a user runs it.

Each configuration runs the real command in a fresh workspace and is timed from process start to exit
(imports, dataset registration, search, ensembling, report and MLflow registration included). AUC on rows
the model never saw comes from the command's own stratified 20% hold-out.

    python benchmarks/train_automl.py [--seed N] [--output benchmarks/results/train_automl.json]
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

CONFIGS = {"all 20 features": [], "--exclude duration": ["--exclude", "duration"]}


def run(extra: list[str], seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BANKSCORE_HOME": home}
        env.pop("MLFLOW_TRACKING_URI", None)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bankscore.cli", "train", "--seed", str(seed), "--json", *extra],
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
        "ensemble": summary["ensemble"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "train_automl.json")
    args = parser.parse_args()
    results = {name: run(extra, args.seed) for name, extra in CONFIGS.items()}
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seed": args.seed,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print("| configuration | wall (s) | trials | model | CV AUC_weighted | held-out AUC | held-out accuracy |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['wall_seconds_process']} | {r['trials']} | {r['algorithm']} | {r['cv_AUC_weighted']} "
            f"| {r['holdout_AUC_weighted']} | {r['holdout_accuracy']} |"
        )


if __name__ == "__main__":
    main()
