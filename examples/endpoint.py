"""Score two Bank Marketing customers against a deployment, the way the Azure workflow's endpoint.py does.

Plain HTTP (httpx). With no arguments it asks `bankscore deploy status` for the local deployment's scoring URI,
key and wire generation; give --uri (and --key, --generation) for any other endpoint, Azure's included. Like the
workflow's script it also writes the request body it sends to data.json, for the load test's `-p data.json`
(`ab` or `bankscore-bench`). It sends only the columns the endpoint's record has, as its Swagger spec lists them:
a model retrained without `duration` does not get it (one note on stderr names what was left out).

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


def record_fields(uri: str, headers: dict[str, str]) -> set[str] | None:
    """The fields of the endpoint's record, from its Swagger spec; None when it has no readable spec."""
    try:
        response = httpx.get(uri.rsplit("/", 1)[0] + "/swagger.json", params={"version": "3"}, headers=headers)
        spec = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    found: list[set[str]] = []

    def walk(node: object) -> None:  # the record is the schema whose properties include "age"
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and "age" in properties:
                found.append(set(properties))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found[0] if found else None


def request_body(customers: list[dict[str, object]], generation: str, method: str) -> dict[str, object]:
    """The body each wire generation expects: A is the 2020 script's, C the last ACI one's, D a managed online
    endpoint's MLflow model without a scoring script (a pandas "split" frame)."""
    if generation == "D":
        columns = list(customers[0])
        frame = {
            "columns": columns,
            "index": list(range(len(customers))),
            "data": [list(c.values()) for c in customers],
        }
        # bankscore's registered model reads predict_method; a model without a params schema ignores it.
        return {"input_data": frame, "params": {"predict_method": method}}
    if generation == "A":
        return {"data": customers}  # labels only: generation A has no predict_proba
    if generation == "B":
        return {"data": customers, "method": method}
    return {"Inputs": {"data": customers}, "GlobalParameters": {"method": method}}


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
    customers = CUSTOMERS
    fields = record_fields(uri, headers)
    if fields is not None:  # a model retrained without duration does not take it: leave it out, say so once
        left_out = [name for name in CUSTOMERS[0] if name not in fields]
        if left_out:
            print(f"note: not sent, the endpoint's record does not have: {', '.join(left_out)}", file=sys.stderr)
            customers = [{k: v for k, v in c.items() if k in fields} for c in CUSTOMERS]
    input_data = json.dumps(request_body(customers, generation, "predict_proba" if args.proba else "predict"))
    # The exact bytes sent, for `ab -p data.json -T application/json` and `bankscore-bench`.
    args.data_file.write_text(input_data)
    response = httpx.post(uri, content=input_data, headers=headers, timeout=30)
    if response.status_code != 200:
        sys.exit(f"{response.status_code}: {response.text}")
    print(json.dumps(response.json()))


if __name__ == "__main__":
    main()
