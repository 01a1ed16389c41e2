"""Score two Bank Marketing customers against a deployment, the way the Azure workflow's endpoint.py does.

Plain HTTP (httpx). With no arguments it asks `bankscore deploy status` for the local deployment's scoring URI,
key and wire generation; give --uri (and --key, --generation) for any other endpoint, Azure's included. Like the
workflow's script it also writes the request body it sends to data.json, for the load test's `-p data.json`
(`ab` or `bankscore-bench`).

    python examples/endpoint.py [--uri http://127.0.0.1:5001/score] [--key KEY] [--generation C] [--proba]
                                [--model-deployment NAME] [--data-file data.json]

A managed online endpoint (https://<endpoint>.<region>.inference.ml.azure.com/score) takes the same key as
`Authorization: Bearer`; --model-deployment pins one of its deployments, and an MLflow model deployed without a
scoring script speaks generation D.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import httpx

CUSTOMERS = [
    {"age": 57, "job": "technician", "marital": "married", "education": "high.school", "default": "no",
     "housing": "no", "loan": "yes", "contact": "cellular", "month": "may", "day_of_week": "mon",
     "duration": 371, "campaign": 1, "pdays": 999, "previous": 1, "poutcome": "failure", "emp.var.rate": -1.8,
     "cons.price.idx": 92.893, "cons.conf.idx": -46.2, "euribor3m": 1.299, "nr.employed": 5099.1},
    {"age": 43, "job": "blue-collar", "marital": "married", "education": "basic.9y", "default": "no",
     "housing": "yes", "loan": "no", "contact": "cellular", "month": "jul", "day_of_week": "thu",
     "duration": 982, "campaign": 2, "pdays": 999, "previous": 0, "poutcome": "nonexistent", "emp.var.rate": 1.4,
     "cons.price.idx": 93.918, "cons.conf.idx": -42.7, "euribor3m": 4.962, "nr.employed": 5228.1},
]  # fmt: skip


def local_endpoint() -> tuple[str, str | None, str]:
    status = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "deploy", "status", "--json", "--show-keys"],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(status.stdout)
    return info["scoring_uri"], (info.get("keys") or {}).get("primary"), info.get("generation") or "C"


def request_body(generation: str, method: str) -> dict[str, object]:
    """The body each wire generation expects: A is the 2020 script's, C the last ACI one's, D a managed online
    endpoint's MLflow model without a scoring script (a pandas "split" frame)."""
    if generation == "D":
        columns = list(CUSTOMERS[0])
        frame = {
            "columns": columns,
            "index": list(range(len(CUSTOMERS))),
            "data": [list(c.values()) for c in CUSTOMERS],
        }
        # bankscore's registered model reads predict_method; a model without a params schema ignores it.
        return {"input_data": frame, "params": {"predict_method": method}}
    if generation == "A":
        return {"data": CUSTOMERS}  # labels only: generation A has no predict_proba
    if generation == "B":
        return {"data": CUSTOMERS, "method": method}
    return {"Inputs": {"data": CUSTOMERS}, "GlobalParameters": {"method": method}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri")
    parser.add_argument("--key")
    parser.add_argument(
        "--generation", choices=["A", "B", "C", "D"], help="wire generation (default: C, or the local one)"
    )
    parser.add_argument("--model-deployment", help="a managed endpoint's deployment to call (blue/green testing)")
    parser.add_argument("--proba", action="store_true", help="ask for [P(no), P(yes)] per customer")
    parser.add_argument(
        "--data-file",
        type=Path,
        default=Path("data.json"),
        help="where to save the request body (default: %(default)s)",
    )
    args = parser.parse_args()
    uri, key, generation = (args.uri, args.key, "C") if args.uri else local_endpoint()
    generation = args.generation or generation
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if args.model_deployment:
        headers["azureml-model-deployment"] = args.model_deployment
    input_data = json.dumps(request_body(generation, "predict_proba" if args.proba else "predict"))
    # The exact bytes sent, for `ab -p data.json -T application/json` and `bankscore-bench`.
    args.data_file.write_text(input_data)
    response = httpx.post(uri, content=input_data, headers=headers, timeout=30)
    if response.status_code != 200:
        sys.exit(f"{response.status_code}: {response.text}")
    print(json.dumps(response.json()))


if __name__ == "__main__":
    main()
