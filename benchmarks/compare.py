"""Benchmark: `bankscore compare` of two local deployments, against one `bankscore score` of the same rows.

One small model (`bankscore train --max-trials 10 --cv 3`), served twice on 127.0.0.1 as the deployments
`blue` and `green` (1 worker each: a managed endpoint gives each deployment its own compute), then:
  * wall time of `bankscore score ROWS --uri blue --proba` and of `bankscore compare blue green --data ROWS`
    over the 32,950 shipped rows (both as commands, start-up included; best of --repeat each, interleaved),
    and of the same two in one process (`Client.predict_many` against `bankscore.compare`);
  * peak memory (max RSS) of `bankscore compare` over --rows rows (the shipped rows repeated, 1,000,000 by
    default), measured by a parent process that runs nothing else.

    python benchmarks/compare.py [--rows 1000000] [--repeat 3] [--output benchmarks/results/compare.json]

Needs bankscore[all]. Goals: compare at most 2.2x the time of one score; under 300 MB for a million rows.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import argument_parser, bankscore, free_port, workspace_env, write_results


def _timed(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    bankscore(*args, env=env)
    return time.perf_counter() - started


def _write_rows(path: Path, rows: int) -> None:
    """``rows`` rows: the shipped rows with their label, repeated as often as needed."""
    from bankscore.data import load_training_data

    records = list(load_training_data().records(with_label=True))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writerows(records)
    lines = buffer.getvalue().splitlines(keepends=True)
    with path.open("w", newline="") as fh:
        fh.write(",".join(records[0]) + "\n")
        for start in range(0, rows, len(lines)):
            fh.writelines(lines[: min(len(lines), rows - start)])


_PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _in_process(blue: str, green: str, data: Path) -> dict[str, float]:
    import bankscore

    with bankscore.Client(blue) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", bankscore.LabelColumnDropped)  # as `bankscore score` notes it
        started = time.perf_counter()
        client.predict_many(data, batch_size=100, concurrency=4)
        score_s = time.perf_counter() - started
    started = time.perf_counter()
    bankscore.compare(blue, green, data=data)
    compare_s = time.perf_counter() - started
    return {"score_s": score_s, "compare_s": compare_s}


def main() -> None:
    parser = argument_parser(__doc__, "compare.json")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from bankscore.data import load_training_data

    shipped = len(load_training_data())
    with tempfile.TemporaryDirectory() as tmp:
        env = workspace_env(Path(tmp) / "ws")
        small, large = Path(tmp) / "shipped.csv", Path(tmp) / "large.csv"
        _write_rows(small, shipped)
        _write_rows(large, args.rows)
        bankscore("train", "--max-trials", "10", "--cv", "3", "--json", env=env)
        uris = {}
        for name in ("blue", "green"):
            port = free_port()
            bankscore("deploy", "local", "--name", name, "--port", str(port), env=env)
            uris[name] = f"http://127.0.0.1:{port}/score"
        try:
            out = str(Path(tmp) / "scored.csv")
            score_cmd = ("score", str(small), "--uri", uris["blue"], "--proba", "--output", out, "--no-progress")
            compare_cmd = ("compare", uris["blue"], uris["green"], "--data", str(small), "--no-progress")
            _timed(*score_cmd, env=env)  # warm-up: both servers, the file cache
            _timed(*compare_cmd, env=env)
            score_s, compare_s = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine state
                score_s.append(_timed(*score_cmd, env=env))
                compare_s.append(_timed(*compare_cmd, env=env))
            in_process = [_in_process(uris["blue"], uris["green"], small) for _ in range(args.repeat)]
            cmd = [sys.executable, "-m", "bankscore.cli", "compare", uris["blue"], uris["green"]]
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _PEAK, *cmd, "--data", str(large), "--no-progress"],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            large_s = time.perf_counter() - started
            peak_mb = int(proc.stdout.split()[-1]) / 1024
        finally:
            for name in uris:
                bankscore("deploy", "stop", "--name", name, env=env)

    best_score = min(score_s)
    best_compare = min(compare_s)
    best_ip_score = min(r["score_s"] for r in in_process)
    best_ip_compare = min(r["compare_s"] for r in in_process)
    record: dict[str, Any] = {
        "rows": shipped,
        "command_score_s": round(best_score, 3),
        "command_compare_s": round(best_compare, 3),
        "command_ratio": round(best_compare / best_score, 2),
        "in_process_score_s": round(best_ip_score, 3),
        "in_process_compare_s": round(best_ip_compare, 3),
        "in_process_ratio": round(best_ip_compare / best_ip_score, 2),
        "large_rows": args.rows,
        "large_compare_s": round(large_s, 1),
        "large_peak_rss_mb": round(peak_mb, 1),
        "all_runs": {"command_score_s": score_s, "command_compare_s": compare_s, "in_process": in_process},
    }
    print(json.dumps(write_results(args.output, record), indent=2))


if __name__ == "__main__":
    main()
