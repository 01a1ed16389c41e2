"""Generation D end to end: `bankscore deploy local --generation D` on the real azmlinfsrv, side by side with
Microsoft's no-code MLflow scoring script (the oracle, run unmodified) serving the same registered model.

What must match the oracle: success bodies byte for byte (labels and predict_proba records) and the Swagger's
shape. What must not: a caller's mistake is a 400 naming field and value here, where the oracle answers a
generic 500 (or scores silently); those cases are checked on both sides, so a change on either shows.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bankscore.deploy import build_openapi3
from bankscore.features import FEATURE_NAMES

Json = dict[str, Any]
GENERIC_500 = {"message": "An unexpected error occurred in scoring script. Check the logs for more info."}


def post(url: str, document: Any) -> httpx.Response:
    # trust_env=False: no proxy between the test and 127.0.0.1
    return httpx.post(url + "/score", content=json.dumps(document), headers={"Content-Type": "application/json"},
                      timeout=60, trust_env=False)  # fmt: skip


def split(records: list[Json], columns: list[str] | None = None, *, index: bool = True) -> Json:
    names = columns or list(records[0])
    frame: Json = {"columns": names, "data": [[r[c] for c in names] for r in records]}
    if index:
        frame["index"] = list(range(len(records)))
    return frame


@pytest.fixture(scope="module")
def shipped_rows() -> list[Json]:
    """Forty shipped records, spread over the file (seeded), to score on both sides."""
    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    return random.Random(13).sample(rows, 40)


# --- the captured swagger of Microsoft's script (no server needed) ---------------------------------------------


def frame_shape(doc: Json) -> Json:
    """What a D Swagger must share with Microsoft's: everything a tool keys on (not descriptions, not x-bankscore,
    not the data cells' types, which Microsoft's takes from the example's last cell and calls double)."""
    schemas = doc["components"]["schemas"]
    service_input = schemas["ServiceInput"]
    frame = service_input["properties"]["input_data"]
    params = service_input["properties"]["params"]
    example = service_input["example"]
    return {
        "openapi": doc["openapi"],
        "info_keys": list(doc["info"]),
        "security": doc["security"],
        "bearer": doc["components"]["securitySchemes"]["Bearer"],
        "operations": {(p, m): op["operationId"] for p, ops in doc["paths"].items() for m, op in ops.items()},
        "score_security": doc["paths"]["/score"]["post"]["security"],
        "schemas": list(schemas),
        "input_type": service_input["type"],
        "input_keys": list(service_input["properties"]),
        "input_required": service_input.get("required"),
        "frame_keys": list(frame["properties"]),
        "frame_required": frame["required"],
        "frame_format": frame["format"],
        "columns_items": frame["properties"]["columns"]["items"],
        "index_items": frame["properties"]["index"]["items"],
        "data_is_rows": (frame["properties"]["data"]["type"], frame["properties"]["data"]["items"]["type"]),
        "params_keys": list(params.get("properties", {})),
        "params_required": params.get("required"),
        "params_types": {k: v["type"] for k, v in params.get("properties", {}).items()},
        "example_keys": list(example),
        "example_columns": example["input_data"]["columns"],
        "example_rows": len(example["input_data"]["data"]),
        "example_index": example["input_data"]["index"],
        "example_params": example["params"],
        "output": (schemas["ServiceOutput"]["type"], schemas["ServiceOutput"]["format"]),
        "error_keys": list(schemas["ErrorResponse"]["properties"]),
    }


@pytest.mark.skipif(not os.environ.get("BANKSCORE_GEN_D_WIRE"), reason="BANKSCORE_GEN_D_WIRE not set")
def test_swagger_has_the_shape_of_microsofts_captured_params_model() -> None:
    """The captured OpenAPI 3 of a params model (predict_method) on Microsoft's script, pandas 2."""
    theirs = json.loads((Path(os.environ["BANKSCORE_GEN_D_WIRE"]) / "swagger3_params_model.json").read_text())
    ours = build_openapi3("D")
    assert frame_shape(ours) == frame_shape(theirs)
    assert (
        ours["components"]["schemas"]["ServiceInput"]["example"]["input_data"]["data"]
        == (theirs["components"]["schemas"]["ServiceInput"]["example"]["input_data"]["data"])
    )


# --- `bankscore deploy local --generation D` ---------------------------------------------------------------------


@pytest.mark.slow
def test_deploy_local_generation_d_serves_the_no_code_wire(trained: Any, deployments: Any) -> None:
    served = deployments["gen-d"]
    assert served.state["generation"] == "D"
    columns = list(reversed(FEATURE_NAMES))  # any order
    labels = post(served.url, {"input_data": split(trained.records, columns)})
    assert labels.status_code == 200
    assert labels.headers["content-type"] == "application/json"
    assert float(labels.headers["x-ms-run-fn-exec-ms"]) >= 0
    assert labels.json() == trained.labels
    proba = post(served.url, {"input_data": split(trained.records), "params": {"predict_method": "predict_proba"}})
    assert proba.json() == [{"no": pytest.approx(p[0], abs=1e-6), "yes": pytest.approx(p[1], abs=1e-6)}
                            for p in trained.proba]  # fmt: skip
    missing = post(served.url, {"input_data": split(trained.records, [c for c in FEATURE_NAMES if c != "age"])})
    assert (missing.status_code, missing.json()) == (
        400,
        {"message": "input_data.columns lacks age: the model needs every feature it was trained on"},
    )

    spec = httpx.get(served.url + "/swagger.json?version=3", timeout=10, trust_env=False).json()
    assert spec["x-bankscore"]["generation"] == "D"
    assert spec["x-bankscore"]["model_version"] == trained.model_version
    assert spec["x-bankscore"]["record"]["required"] == list(FEATURE_NAMES)
    assert spec["components"]["schemas"]["ServiceInput"]["properties"]["input_data"]["format"] == (
        "pandas.DataFrame:split"
    )
    # Swagger 2.0 is served too (Microsoft's script answers 404 for this model under pandas 2: see score_script)
    swagger2 = httpx.get(served.url + "/swagger.json", timeout=10, trust_env=False)
    assert swagger2.status_code == 200 and swagger2.json()["swagger"] == "2.0"
    assert swagger2.json()["x-bankscore"]["generation"] == "D"

    status = trained.cli("deploy", "status", "--name", "gen-d")
    assert status.returncode == 0, status.stderr
    assert "generation   D" in status.stdout
    state = json.loads(trained.cli("deploy", "status", "--name", "gen-d", "--json").stdout)
    assert state["generation"] == "D" and state["health"] == "Healthy"


# --- side by side with Microsoft's script -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("method", [None, "predict", "predict_proba"])
def test_success_bodies_are_microsofts_bytes(
    method: str | None, trained: Any, deployments: Any, no_code_oracle: Any, shipped_rows: list[Json]
) -> None:
    ours, theirs = deployments["gen-d"].url, no_code_oracle.url
    params = {} if method is None else {"predict_method": method}
    rows = [*trained.records, *shipped_rows]
    shuffled = [*random.Random(5).sample(list(FEATURE_NAMES), len(FEATURE_NAMES)), "extra_col"]
    bodies = [
        {"input_data": split(rows), "params": params},  # many rows: the batch path
        {"input_data": split(rows[:2]), "params": params},  # few rows: the small-batch path
        {"input_data": split(rows[:2], index=False), "params": params},  # index left out
        {"input_data": split([{**r, "extra_col": 1} for r in rows[:3]], shuffled), "params": params},
        *({"input_data": split([r]), "params": params} for r in rows[:12]),  # one row each
    ]
    if method is None:
        bodies.append({"input_data": split(rows[:3]), "other_key": True})  # no params at all
    for body in bodies:
        mine, real = post(ours, body), post(theirs, body)
        assert (real.status_code, mine.status_code) == (200, 200), real.text
        assert mine.content == real.content
        assert mine.headers["content-type"] == real.headers["content-type"]
    if method == "predict_proba":
        assert list(json.loads(real.content)[0]) == ["no", "yes"]


@pytest.mark.slow
def test_swagger_has_the_shape_of_microsofts_for_this_model(deployments: Any, no_code_oracle: Any) -> None:
    ours = httpx.get(deployments["gen-d"].url + "/swagger.json?version=3", timeout=10, trust_env=False).json()
    theirs = httpx.get(no_code_oracle.swagger_url("3"), timeout=10, trust_env=False).json()
    assert frame_shape(ours) == frame_shape(theirs)
    example = ours["components"]["schemas"]["ServiceInput"]["example"]["input_data"]
    assert example["data"] == theirs["components"]["schemas"]["ServiceInput"]["example"]["input_data"]["data"]
    # Under pandas 2 Microsoft's script has no Swagger 2 for this model (mixed-type example rows); ours has one.
    v2 = httpx.get(no_code_oracle.swagger_url("2"), timeout=10, trust_env=False)
    assert v2.status_code == 404


@pytest.mark.slow
def test_where_microsofts_script_fails_or_guesses_ours_names_the_mistake(
    trained: Any, deployments: Any, no_code_oracle: Any
) -> None:
    """The deliberate differences: each case as the oracle answers it today and as bankscore answers it."""
    good = trained.records
    names = list(FEATURE_NAMES)
    short = split(good)
    short["data"][1] = short["data"][1][:-1]
    cases: list[tuple[Json, int, str]] = [
        (
            {"input_data": split(good, [c for c in names if c != "age"])},
            500,
            "input_data.columns lacks age: the model needs every feature it was trained on",
        ),
        ({"input_data": split([{**good[0], "age": "x"}])}, 500, 'input_data.data[0]: age="x" must be an integer'),
        ({"input_data": split([{**good[0], "age": None}])}, 500, "input_data.data[0]: age=null must be an integer"),
        (
            {"input_data": {"columns": names, "index": [], "data": []}},
            500,
            "input_data.data is empty: send at least one row",
        ),
        (
            {"input_data": good},
            500,
            'input_data must be a pandas split frame {"columns": [...], "index": [...], "data": [[...], ...]}, '
            "not an array",
        ),
        (
            {"input_data": split(good), "params": {"predict_method": "predict_log_proba"}},
            500,
            'params.predict_method="predict_log_proba" is not one of predict, predict_proba',
        ),
        # Microsoft's script pads a short row with NaN and scores it; a value left out is a mistake here.
        ({"input_data": short}, 200, "input_data.data[1] holds 19 values; input_data.columns names 20"),
        # ... and casts "57" and scores an unknown category, which the feature contract refuses.
        ({"input_data": split([{**good[0], "age": "57"}])}, 200, 'input_data.data[0]: age="57" must be an integer'),
    ]
    for body, their_status, message in cases:
        real = post(no_code_oracle.url, body)
        assert real.status_code == their_status, (body, real.text)
        if their_status == 500:
            assert real.json() == GENERIC_500
        mine = post(deployments["gen-d"].url, body)
        assert (mine.status_code, mine.json()) == (400, {"message": message})
    # The body-level 400s are the server's own, and the same on both sides.
    for body in ({"data": [[1]]}, {"Inputs": {"data": good}}):
        real, mine = post(no_code_oracle.url, body), post(deployments["gen-d"].url, body)
        assert real.status_code == mine.status_code == 400
        assert real.json() == mine.json() == {"message": "A value is not provided for the 'input_data' parameter."}


# --- `bankscore deploy azure --generation D` ---------------------------------------------------------------------


@pytest.mark.slow
def test_deploy_azure_generation_d_writes_a_no_code_deployment(trained: Any, tmp_path: Path) -> None:
    out = tmp_path / "azure-d"
    made = trained.cli(
        "deploy", "azure", "--generation", "D", "--output", str(out), "--name", "bank-d",
        "--instance-type", "Standard_F4s_v2", "--instance-count", "2",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert {p.name for p in out.iterdir()} == {"endpoint.yml", "deployment.yml", "sample-request.json", "model"}
    endpoint = yaml.safe_load((out / "endpoint.yml").read_text())
    assert endpoint == {
        "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json",
        "name": "bank-d",
        "auth_mode": "key",
    }
    deployment = yaml.safe_load((out / "deployment.yml").read_text())
    assert deployment == {
        "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json",
        "name": "blue",
        "endpoint_name": "bank-d",
        "model": {"path": "./model", "type": "mlflow_model"},
        "instance_type": "Standard_F4s_v2",
        "instance_count": 2,
        "request_settings": {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1},
    }
    # No code and no environment: that is what makes Azure serve it with its own MLflow script.
    assert "code_configuration" not in deployment and "environment" not in deployment
    mlmodel = yaml.safe_load((out / "model" / "MLmodel").read_text())
    signature = mlmodel["signature"]
    inputs = [column["name"] for column in json.loads(signature["inputs"])]
    assert inputs == list(FEATURE_NAMES)
    params = json.loads(signature["params"])
    assert params == [{"name": "predict_method", "type": "string", "default": "predict", "shape": None}]
    assert (out / "model" / mlmodel["saved_input_example_info"]["artifact_path"]).is_file()
    sample = json.loads((out / "sample-request.json").read_text())
    assert sample["input_data"]["columns"] == list(FEATURE_NAMES)
    assert sample["params"] == {"predict_method": "predict"}


def test_deploy_azure_generation_d_refuses_a_model_without_a_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: a model registered before models carried a signature (the registry is stubbed)."""
    from types import SimpleNamespace

    from bankscore._exceptions import BankscoreError
    from bankscore.automl import _registry
    from bankscore.deploy._azure import write_no_code_assets

    def export(ref: str, dest: Path) -> Path:
        dest.mkdir(parents=True)
        (dest / "MLmodel").write_text("flavors:\n  python_function: {}\n")  # no signature:
        return dest

    info = SimpleNamespace(ref="bank-marketing:1", name="bank-marketing", version=1, features=list(FEATURE_NAMES))
    monkeypatch.setattr(_registry, "get_model_version", lambda ref: info)
    monkeypatch.setattr(_registry, "export_model_folder", export)
    with pytest.raises(BankscoreError, match="bank-marketing:1 has no MLflow signature") as caught:
        write_no_code_assets(tmp_path / "out", model_ref="bank-marketing", name="bm")
    assert "deploy generation C" in str(caught.value)
    assert not (tmp_path / "out" / "deployment.yml").exists()
