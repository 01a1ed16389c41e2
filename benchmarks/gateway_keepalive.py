"""Keep-alive on and off against a running local deployment (nginx gateway + azmlinfsrv), side by side.

    bankscore deploy local --auth --port 5001            # any running local deployment
    python benchmarks/gateway_keepalive.py [--deployment bank-marketing] [-n 3000] [-c 8] [--rounds 5]

Each round runs `bankscore-bench -n N -c C --deployment NAME` (realistic one-record bodies, the deployment's
URI and key) twice, with and without `-k`, in alternating order. From `ab`'s report: requests per second, the
mean connect time, the median and p99 of the whole request, and how many requests kept the connection alive.
Medians over the rounds; every round in benchmarks/results/gateway_keepalive.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gateway_keepalive.json"


def _field(report: str, pattern: str) -> float:
    found = re.search(pattern, report, re.M)
    if found is None:
        sys.exit(f"not in the report: {pattern}\n{report}")
    return float(found.group(1))


def _run(deployment: str, n: int, c: int, keepalive: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "bankscore_bench", "-n", str(n), "-c", str(c), "--deployment", deployment]
    proc = subprocess.run([*command, *(["-k"] if keepalive else [])], capture_output=True, text=True, check=True)
    report = proc.stdout
    return {
        "rps": _field(report, r"^Requests per second:\s+([\d.]+)"),
        "failed": _field(report, r"^Failed requests:\s+(\d+)"),
        "keepalive_requests": _field(report, r"^Keep-Alive requests:\s+(\d+)") if keepalive else 0.0,
        "connect_mean_ms": _field(report, r"^Connect:\s+\d+\s+(\d+)"),
        "p50_ms": _field(report, r"^\s+50%\s+(\d+)"),
        "p99_ms": _field(report, r"^\s+99%\s+(\d+)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployment", default="bank-marketing")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("-c", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()

    rounds: dict[str, list[dict[str, float]]] = {"keepalive": [], "close": []}
    for i in range(opts.rounds):
        order = (True, False) if i % 2 == 0 else (False, True)
        for keepalive in order:
            rounds["keepalive" if keepalive else "close"].append(_run(opts.deployment, opts.n, opts.c, keepalive))
    summary: dict[str, Any] = {
        mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for mode, runs in rounds.items()
    }
    summary["rps_ratio_keepalive_over_close"] = round(summary["keepalive"]["rps"] / summary["close"]["rps"], 3)
    print(json.dumps(summary, indent=2))
    write_results(
        RESULTS,
        {
            "requests": opts.n,
            "concurrency": opts.c,
            "summary": summary,
            "rounds": rounds,
        },
    )


if __name__ == "__main__":
    main()
