"""Benchmark: the typed client against the local deployment, beside the seed's endpoint.py pattern.

One run, one model, one 2-worker local deployment (127.0.0.1), measured in turn:
  * `bankscore.Client.predict_many` over all 32,950 shipped rows (validation included), at two batch sizes;
  * the seed's endpoint.py pattern: one request carrying two records, one request after another (httpx),
    over the first --seed-records rows;
  * `Client.predict` of one record vs a raw httpx POST of the same bytes on a kept-open client (p50 of
    --single interleaved calls each): the client's overhead.

    python benchmarks/client_scoring.py [--seed-records 4000] [--single 500] [--output ...]

Needs bankscore[all]. Trains a small model first (`bankscore train --max-trials 10 --cv 3`, about 15 s).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import argument_parser, bankscore, free_port, workspace_env, write_results


def _measure(uri: str, rows: list[dict[str, Any]], seed_records: int, single: int) -> dict[str, Any]:
    import httpx

    import bankscore

    results: dict[str, Any] = {}
    with bankscore.Client(uri, generation="C") as client:
        client.predict_many(rows[:2000], batch_size=100)  # warm-up
        for batch in (100, 1000):
            started = time.perf_counter()
            scored = client.predict_many(rows, batch_size=batch, concurrency=4)
            seconds = time.perf_counter() - started
            assert scored.ok and len(scored) == len(rows)
            results[f"predict_many_batch_{batch}_records_per_s"] = round(len(rows) / seconds)

        with httpx.Client(headers={"Content-Type": "application/json"}) as raw:
            subset = rows[:seed_records]
            started = time.perf_counter()
            for i in range(0, len(subset), 2):  # endpoint.py: two records per request, one after another
                raw.post(uri, content=json.dumps({"Inputs": {"data": subset[i : i + 2]}})).raise_for_status()
            seconds = time.perf_counter() - started
            results["seed_pattern_records_per_s"] = round(len(subset) / seconds)

            body = json.dumps({"Inputs": {"data": [rows[0]]}, "GlobalParameters": {"method": "predict_proba"}})
            client_ms, raw_ms = [], []
            for _ in range(single):  # interleaved, so both see the same machine state
                t0 = time.perf_counter()
                client.predict(rows[0])
                t1 = time.perf_counter()
                raw.post(uri, content=body).raise_for_status()
                t2 = time.perf_counter()
                client_ms.append((t1 - t0) * 1000)
                raw_ms.append((t2 - t1) * 1000)
            results["predict_p50_ms"] = round(statistics.median(client_ms), 3)
            results["raw_httpx_p50_ms"] = round(statistics.median(raw_ms), 3)
    return results


def main() -> None:
    parser = argument_parser(__doc__, "client_scoring.json")
    parser.add_argument("--seed-records", type=int, default=4000)
    parser.add_argument("--single", type=int, default=500)
    args = parser.parse_args()

    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    with tempfile.TemporaryDirectory() as tmp:
        env = workspace_env(Path(tmp) / "ws")
        bankscore("train", "--max-trials", "10", "--cv", "3", "--json", env=env)
        port = free_port()
        bankscore("deploy", "local", "--port", str(port), "--workers", "2", env=env)
        try:
            results = _measure(f"http://127.0.0.1:{port}/score", rows, args.seed_records, args.single)
        finally:
            bankscore("deploy", "stop", env=env)

    best = max(results["predict_many_batch_100_records_per_s"], results["predict_many_batch_1000_records_per_s"])
    record = {
        "rows": len(rows),
        "results": results,
        "ratio_default_batch_vs_seed_pattern": round(
            results["predict_many_batch_100_records_per_s"] / results["seed_pattern_records_per_s"], 1
        ),
        "ratio_best_vs_seed_pattern": round(best / results["seed_pattern_records_per_s"], 1),
        "predict_overhead_vs_raw_httpx": round(results["predict_p50_ms"] / results["raw_httpx_p50_ms"] - 1, 3),
    }
    print(json.dumps(write_results(args.output, record), indent=2))


if __name__ == "__main__":
    main()
