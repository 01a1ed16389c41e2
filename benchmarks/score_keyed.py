"""`bankscore score` of the shipped rows through a keyed local deployment, gateway keep-alive on and off.

    python benchmarks/score_keyed.py [--workers 2] [--rounds 3] [--batch-size 100] [--max-trials 10]

Trains a small model in a fresh workspace (`bankscore train --max-trials N --cv 3`), serves it with
`bankscore deploy local --auth --workers W` on 127.0.0.1 (nginx checks the key in front of azmlinfsrv, as
Azure's front end does), writes the 32,950 shipped rows with `bankscore data sample`, then each round runs
`bankscore score ROWS --batch-size B` twice, in alternating order: once through the gateway as deployed
(keep-alive, 60 s idle at most) and once with the gateway's keep-alive off (`keepalive_timeout 0` in the
deployment's nginx.conf, applied with nginx's graceful reload): a new connection per request, what the gateway
did before it kept connections alive. Records/s = rows / wall time of the whole command (start-up, reading and
checking the file, scoring, writing the results). Medians of the rounds; every round in the results file.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import argument_parser, bankscore, free_port, workspace_env, write_results

SHIPPED_ROWS = 32_950
NAME = "bench-keyed"


def _gateway(home: Path) -> tuple[Path, int]:
    """The endpoint's nginx.conf and its nginx master's pid, read from the deployment's own state."""
    os.environ["BANKSCORE_HOME"] = str(home)
    from bankscore.deploy._state import deployment_dir, load_state

    state = load_state(NAME)
    if state is None or not state.gateway_pid:
        raise SystemExit("the deployment has no gateway: is nginx installed?")
    return deployment_dir(NAME) / "nginx.conf", state.gateway_pid


def _set_keepalive(conf: Path, master_pid: int, seconds: int) -> None:
    from bankscore.deploy._servers import reload_gateway

    text = conf.read_text()
    changed = re.sub(r"keepalive_timeout \d+s;", f"keepalive_timeout {seconds}s;", text)
    if "keepalive_timeout" not in text:
        raise SystemExit(f"no keepalive_timeout line in {conf}")
    conf.write_text(changed)
    reload_gateway(master_pid, conf.parent, timeout=60)  # the graceful reload a traffic change uses


def _score(rows: Path, batch_size: int, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "score", str(rows), "--deployment", NAME, "--batch-size",
         str(batch_size), "-o", os.devnull, "--no-progress"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    parser = argument_parser(__doc__ or "", "score_keyed.json")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-trials", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "ws"
        env = workspace_env(home)
        rows = Path(scratch) / "customers.csv"
        bankscore("data", "sample", "--rows", str(SHIPPED_ROWS), "-o", str(rows), env=env)
        bankscore("train", "--max-trials", str(args.max_trials), "--cv", "3", "--force", env=env)
        port = free_port()
        bankscore("deploy", "local", "--name", NAME, "--port", str(port), "--auth", "--workers", str(args.workers),
                  env=env)  # fmt: skip
        try:
            conf, master = _gateway(home)
            rounds: dict[str, list[float]] = {"keepalive": [], "close": []}
            for i in range(args.rounds):
                order = ("keepalive", "close") if i % 2 == 0 else ("close", "keepalive")
                for mode in order:
                    _set_keepalive(conf, master, 60 if mode == "keepalive" else 0)
                    seconds = _score(rows, args.batch_size, env)
                    rounds[mode].append(round(SHIPPED_ROWS / seconds, 1))
                    print(f"round {i + 1} {mode:>9}: {SHIPPED_ROWS / seconds:,.0f} records/s ({seconds:.2f} s)")
            _set_keepalive(conf, master, 60)
        finally:
            bankscore("deploy", "stop", "--name", NAME, env=env)

    summary: dict[str, Any] = {m: statistics.median(r) for m, r in rounds.items()}
    summary["ratio_keepalive_over_close"] = round(summary["keepalive"] / summary["close"], 3)
    load = Path("/proc/loadavg").read_text().split()[:3]
    write_results(
        args.output,
        {
            "rows": SHIPPED_ROWS,
            "workers": args.workers,
            "batch_size": args.batch_size,
            "load_average_after": load,
            "records_per_second_median": summary,
            "rounds": rounds,
        },
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
