"""How long `bankscore models list` / `models show` take on a workspace with 5 registered versions, for two
revisions side by side.

    python benchmarks/registry_read.py [--base REV] [--head REV] [--rounds 7] [--versions 5]

A scratch workspace gets one small model (every sixth shipped row, 2 trials, 3-fold CV) registered
``--versions`` times with the project's own MLflow (the real sqlite store). Each revision is checked out into a
scratch worktree and run from the project's venv with ``PYTHONPATH`` pointing at that worktree's ``client/``, so
both revisions share every installed package and differ only in bankscore's code. Then, alternating between the
revisions for --rounds rounds (after one warm-up each), the wall time of the whole process
``python -m bankscore.cli models list`` and ``... models show bank-marketing:3`` (start-up included, as a user
waits for it). Medians and the head/base ratio are reported; every round is in
benchmarks/results/registry_read.json. The head's output must equal the base's, else the run stops.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "registry_read.json"
COMMANDS = {"models list": ["models", "list"], "models show": ["models", "show", "bank-marketing:3"]}

SETUP = """
import sys
from pathlib import Path
from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._registry import log_training
from bankscore.data import Dataset, load_training_data

full = load_training_data()
sample = Dataset(columns={n: v[::6] for n, v in full.columns.items()}, source="sample-of-6", sha256="sample")
result = run_automl(sample, TrainOptions(time_budget=None, max_trials=2, cv=3, ensemble=False))
report = Path(sys.argv[1]) / "report"
report.mkdir(parents=True, exist_ok=True)
for _ in range(int(sys.argv[2])):
    log_training(result, "sample:1", "sample", report)
"""


def _run(tree: Path, home: Path, args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "client"), "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD~1")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--versions", type=int, default=5)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="registry-read-") as tmp:
        scratch = Path(tmp)
        home = scratch / "ws"
        trees = {}
        for label, rev in (("base", opts.base), ("head", opts.head)):
            trees[label] = scratch / f"tree-{label}"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(trees[label]), rev], check=True
            )
        try:
            env = {**os.environ, "PYTHONPATH": str(trees["head"] / "client"), "BANKSCORE_HOME": str(home)}
            env.pop("MLFLOW_TRACKING_URI", None)
            subprocess.run([sys.executable, "-c", SETUP, str(home), str(opts.versions)], env=env, check=True)
            rounds: dict[str, dict[str, list[float]]] = {cmd: {"base": [], "head": []} for cmd in COMMANDS}
            for cmd, args in COMMANDS.items():
                outputs = {label: _run(tree, home, args)[1] for label, tree in trees.items()}  # warm-up
                if outputs["base"] != outputs["head"]:
                    sys.exit(f"{cmd}: the revisions print different things:\n{outputs['base']}\n---\n{outputs['head']}")
                for _ in range(opts.rounds):
                    for label, tree in trees.items():
                        rounds[cmd][label].append(_run(tree, home, args)[0])
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)

    summary: dict[str, Any] = {}
    for cmd, times in rounds.items():
        base, head = statistics.median(times["base"]), statistics.median(times["head"])
        summary[cmd] = {"base_s": round(base, 3), "head_s": round(head, 3), "head_over_base": round(head / base, 3)}
        print(f"{cmd:<12} base {base:7.2f} s   head {head:6.2f} s   head/base {head / base:.3f}")
    write_results(
        RESULTS,
        {
            "base": opts.base,
            "head": opts.head,
            "versions": opts.versions,
            "summary": summary,
            "rounds": rounds,
        },
    )


if __name__ == "__main__":
    main()
