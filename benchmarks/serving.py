"""Benchmark: the local deployment's scoring speed, side by side with an AutoML-style scoring script.

One run, one model, one server (azmlinfsrv), measured in turn:
  * bankscore's score.py (lean scorer, @rawhttp) with 1 and 2 workers;
  * an AutoML-style score.py (inference-schema decorators with PandasParameterType, then the model's pandas
    predict, as Azure AutoML's generated scoring scripts do; CONTRACT.md section 2) with 2 workers.
For each: `ab -k -c 8 -n N` requests/s with one record per request, and the server's own scoring-function time
(`x-ms-run-fn-exec-ms`) p50/p99 for 1 and 1,000 records.

    python benchmarks/serving.py [--requests 5000] [--budget 60] [--output benchmarks/results/serving.json]

Needs bankscore[all] and Apache Bench (`ab`). Trains a model in a temporary workspace first (AutoML budget
--budget seconds), so the numbers are for the kind of model `bankscore train` produces.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUTOML_STYLE_SCORE = '''\
"""An AutoML-style scoring script: inference-schema decorators and a pandas predict (for comparison only)."""
import json
import os
import pickle

import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

SAMPLE = pd.DataFrame([json.loads(os.environ["BENCH_SAMPLE_ROW"])])
model = None


def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"), "rb") as fh:
        model = pickle.load(fh)


@input_schema("GlobalParameters", StandardPythonParameterType({"method": "predict"}), convert_to_provided_type=False)
@input_schema("Inputs", StandardPythonParameterType({"data": PandasParameterType(SAMPLE)}))
@output_schema(StandardPythonParameterType({"Results": ["no"]}))
def run(Inputs, GlobalParameters={"method": "predict"}):
    data = Inputs["data"]
    if GlobalParameters.get("method") == "predict_proba":
        result = model.predict_proba(data).tolist()
    else:
        result = model.predict(data)
    return {"Results": list(result)}
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bankscore(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"bankscore {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def _ab(url: str, body: Path, requests: int) -> float:
    out = subprocess.run(
        ["ab", "-k", "-c", "8", "-n", str(requests), "-p", str(body), "-T", "application/json", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        raise SystemExit(f"ab saw failures against {url}:\n{out}")
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def _fn_times(url: str, body: bytes, count: int) -> dict[str, float]:
    import httpx

    times = []
    with httpx.Client(headers={"Content-Type": "application/json"}, timeout=60) as client:
        for _ in range(count):
            response = client.post(url, content=body)
            response.raise_for_status()
            times.append(float(response.headers["x-ms-run-fn-exec-ms"]))
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(times[int(len(times) * 0.99) - 1], 3)}


def _wait(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the AutoML-style server exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == "Healthy":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the AutoML-style server did not become healthy")


def _measure(url: str, bodies: dict[str, Path], requests: int) -> dict[str, Any]:
    _ab(url, bodies["one"], min(300, requests))  # warm-up: every worker has loaded and scored
    return {
        "requests_per_s_ab_k_c8": _ab(url, bodies["one"], requests),
        "fn_exec_1_record": _fn_times(url, bodies["one"].read_bytes(), 300),
        "fn_exec_1000_records": _fn_times(url, bodies["thousand"].read_bytes(), 60),
    }


def _automl_style(work: Path, env: dict[str, str], rows: list[Any], bodies: dict[str, Path], requests: int) -> Any:
    """Serve the same registered model through the AutoML-style script and measure it."""
    # The AutoML-style script serves the very same registered model through FLAML's pandas path.
    style = work / "automl-style"
    (style / "model").mkdir(parents=True)
    (style / "score.py").write_text(AUTOML_STYLE_SCORE)
    loader = (
        "import pickle, sys; from bankscore.automl._registry import load_model; "
        "pickle.dump(load_model(), open(sys.argv[1], 'wb'))"
    )
    subprocess.run([sys.executable, "-c", loader, str(style / "model" / "model.pkl")], env=env, check=True)
    port = _free_port()
    style_env = {
        **env,
        "AML_APP_ROOT": str(style),
        "AZUREML_MODEL_DIR": str(style / "model"),
        "GUNICORN_CMD_ARGS": "--no-control-socket",
        "BENCH_SAMPLE_ROW": json.dumps(rows[0]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bankscore.deploy._launch", "--entry_script", str(style / "score.py"),
         "--model_dir", str(style / "model"), "--port", str(port), "--worker_count", "2"],
        env=style_env, cwd=style, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait(port, server)
        return _measure(f"http://127.0.0.1:{port}/score", bodies, requests)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--requests-automl-style", type=int, default=1000, help="fewer: it is much slower")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "serving.json")
    args = parser.parse_args()

    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "BANKSCORE_HOME": str(work / "ws")}
        env.pop("MLFLOW_TRACKING_URI", None)
        bodies = {
            "one": work / "one.json",
            "thousand": work / "thousand.json",
        }
        bodies["one"].write_text(json.dumps({"Inputs": {"data": rows[:1]}}))
        bodies["thousand"].write_text(json.dumps({"Inputs": {"data": rows[:1000]}}))
        summary = json.loads(_bankscore("train", "--time-budget", str(args.budget), "--json", env=env))
        results["model"] = {"ref": summary["model"], "algorithm": summary["algorithm"]}

        for workers in (1, 2):
            port = _free_port()
            _bankscore("deploy", "local", "--port", str(port), "--workers", str(workers), env=env)
            try:
                results[f"bankscore_{workers}_worker"] = _measure(
                    f"http://127.0.0.1:{port}/score", bodies, args.requests
                )
            finally:
                _bankscore("deploy", "stop", env=env)

        results["automl_style_2_workers"] = _automl_style(work, env, rows, bodies, args.requests_automl_style)

    ours = results["bankscore_2_worker"]["requests_per_s_ab_k_c8"]
    theirs = results["automl_style_2_workers"]["requests_per_s_ab_k_c8"]
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "requests": {"bankscore": args.requests, "automl_style": args.requests_automl_style},
        "results": results,
        "throughput_ratio_bankscore_vs_automl_style": round(ours / theirs, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"model {results['model']['ref']} ({results['model']['algorithm']})")
    print("| score.py | workers | req/s (ab -k -c 8, 1 record) | fn p50 1 rec (ms) | fn p50 1,000 rec (ms) |")
    print("|---|---|---|---|---|")
    for key, label, workers in (
        ("bankscore_1_worker", "bankscore", 1),
        ("bankscore_2_worker", "bankscore", 2),
        ("automl_style_2_workers", "AutoML-style", 2),
    ):
        r = results[key]
        print(
            f"| {label} | {workers} | {r['requests_per_s_ab_k_c8']:.0f} | {r['fn_exec_1_record']['p50_ms']} "
            f"| {r['fn_exec_1000_records']['p50_ms']} |"
        )
    ratio = record["throughput_ratio_bankscore_vs_automl_style"]
    print(f"throughput ratio bankscore / AutoML-style (2 workers): {ratio}x")


if __name__ == "__main__":
    main()
