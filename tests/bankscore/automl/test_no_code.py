"""The registered model is deployable no-code: its MLmodel, and Microsoft's no-code script serving it.

The first part reads a freshly registered model (signature, params schema, input example, the pyfunc's
``predict_method``, the exported folder). The slow part serves the session's trained model with the real
oracle (``tests/no_code_oracle.py``: Microsoft's ``mlflow_score_script.py`` on ``azmlinfsrv``) and compares its
answers with the model scoring in process, and its Swagger with the wire captured in the contract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from bankscore import BankscoreError
from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._model import BankMarketingModel
from bankscore.automl._registry import export_model_folder, load_model, log_training, model_requirements
from bankscore.data import Dataset, load_training_data
from bankscore.features import FEATURES

_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by tests/conftest.py, as the oracle is

# The no-code script's body for any exception (contract section 2.3): the reason only reaches the server's log.
GENERIC_500 = "An unexpected error occurred in scoring script. Check the logs for more info."

# The contract's wire types, written out here rather than derived, so a change on either side shows up.
WIRE_TYPES = {
    "age": "long",
    "job": "string",
    "marital": "string",
    "education": "string",
    "default": "string",
    "housing": "string",
    "loan": "string",
    "contact": "string",
    "month": "string",
    "day_of_week": "string",
    "campaign": "long",
    "pdays": "long",
    "previous": "long",
    "poutcome": "string",
    "emp.var.rate": "double",
    "cons.price.idx": "double",
    "cons.conf.idx": "double",
    "euribor3m": "double",
    "nr.employed": "double",
}


def _shipped(count: int, start: int = 0) -> list[dict[str, Any]]:
    return list(islice(load_training_data().records(), start, start + count))


# --- the registered model (no server) ------------------------------------------------------------------------


class Registered:
    def __init__(self, home: Path, ref: str, model: BankMarketingModel, folder: Path) -> None:
        self.home, self.ref, self.model, self.folder = home, ref, model, folder

    @property
    def mlmodel(self) -> Any:
        from mlflow.models import Model

        return Model.load(str(self.folder))


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    """A 2-trial model without ``duration`` (19 features), registered in its own workspace and exported."""
    full = load_training_data()
    sample = Dataset(columns={n: v[::12] for n, v in full.columns.items()}, source="sample-of-12", sha256="s12")
    home = tmp_path_factory.mktemp("no-code-registry")
    with _fixtures.workspace_env(home):
        result = run_automl(sample, TrainOptions(time_budget=None, max_trials=2, cv=3, exclude=("duration",)))
        report = home / "report"
        report.mkdir()
        info = log_training(result, "sample:1", "s12", report)
        folder = export_model_folder(info.ref, home / "export" / "model")
        yield Registered(home, info.ref, load_model(info.ref), folder)


def test_the_signature_names_and_types_every_feature(registered: Registered) -> None:
    signature = registered.mlmodel.signature
    assert signature is not None
    columns = [(spec.name, spec.type.name) for spec in signature.inputs.inputs]
    assert columns == list(WIRE_TYPES.items())  # the model's 19 features, in order, typed as on the wire
    assert [name for name, _ in columns] == list(registered.model.features)
    assert all(spec.required for spec in signature.inputs.inputs)
    kinds = {f.wire_name: f.kind.value for f in FEATURES}
    assert {kinds[name] for name, t in columns if t == "long"} == {"integer"}
    assert {kinds[name] for name, t in columns if t == "double"} == {"number"}


def test_the_params_schema_has_predict_method_defaulting_to_predict(registered: Registered) -> None:
    params = registered.mlmodel.signature.params
    assert params is not None
    assert [(p.name, p.dtype.name, p.default, p.shape) for p in params.params] == [
        ("predict_method", "string", "predict", None)
    ]


def test_the_input_example_is_the_first_two_shipped_rows(registered: Registered) -> None:
    mlmodel = registered.mlmodel
    assert mlmodel.saved_input_example_info["type"] == "dataframe"
    example = json.loads((registered.folder / mlmodel.saved_input_example_info["artifact_path"]).read_text())
    features = list(registered.model.features)
    assert example["columns"] == features
    assert example["data"] == [[row[name] for name in features] for row in _shipped(2)]
    assert "duration" not in example["columns"]


def test_the_exported_folder_is_a_complete_mlflow_model(registered: Registered) -> None:
    names = {p.name for p in registered.folder.iterdir()}
    assert {"MLmodel", "python_model.pkl", "requirements.txt", "conda.yaml", "input_example.json", "code"} <= names
    assert [p.name for p in (registered.folder / "code").iterdir()] == ["bank_marketing_pyfunc.py"]
    assert registered.mlmodel.flavors["python_function"]["code"] == "code"


def test_the_requirements_pin_public_packages_and_a_pandas_the_no_code_script_reads() -> None:
    pins = model_requirements()
    names = [pin.split("==")[0] for pin in pins]
    assert all(pin.count("==") == 1 for pin in pins)
    assert "bankscore" not in names
    assert {"mlflow", "flaml", "lightgbm", "xgboost", "scikit-learn", "numpy", "pandas"} <= set(names)
    pandas = next(pin for pin in pins if pin.startswith("pandas=="))
    assert pandas.removeprefix("pandas==").split(".")[0] == "2"


def test_the_folder_declares_what_it_needs_and_not_bankscore(registered: Registered) -> None:
    pins = registered.folder.joinpath("requirements.txt").read_text().split()
    assert pins == model_requirements()
    conda = registered.folder.joinpath("conda.yaml").read_text()
    assert all(pin in conda for pin in pins)
    assert "bankscore" not in conda


def test_the_model_loads_and_scores_where_bankscore_cannot_be_imported(registered: Registered) -> None:
    """In a fresh interpreter where ``import bankscore`` fails: the folder's own code is all the model needs."""
    features = list(registered.model.features)
    records = _shipped(8)
    script = (
        "import json, sys\n"
        "sys.modules['bankscore'] = None  # any import of bankscore now raises ImportError\n"
        "import mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "frame = pd.DataFrame(json.loads(sys.argv[2]))\n"
        "proba = model.predict(frame, params={'predict_method': 'predict_proba'})\n"
        "print(json.dumps({'labels': list(model.predict(frame)), 'yes': proba['yes'].tolist(),\n"
        "                  'loaded': sorted(m for m in sys.modules if m.split('.')[0] == 'bankscore')}))\n"
    )
    rows = [{name: r[name] for name in features} for r in records]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MLFLOW_TRACKING_URI"}}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(registered.folder), json.dumps(rows)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=registered.folder.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["loaded"] == ["bankscore"]  # only the None placeholder: nothing of bankscore was imported
    assert answer["labels"] == registered.model.predict(records)
    np.testing.assert_allclose(answer["yes"], registered.model.predict_proba(records)[:, 1], rtol=0, atol=1e-12)


def test_export_refuses_a_folder_that_is_not_empty(
    registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    monkeypatch.setenv("BANKSCORE_HOME", str(registered.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(BankscoreError, match="not empty"):
        export_model_folder(registered.ref, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_the_pyfunc_answers_each_predict_method(registered: Registered) -> None:
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(str(registered.folder))
    records = _shipped(40)
    frame = pd.DataFrame(records)[list(registered.model.features)]
    expected = registered.model.predict_proba(records)

    labels = pyfunc.predict(frame)
    assert list(labels) == registered.model.predict(records)
    assert list(pyfunc.predict(frame, params={"predict_method": "predict"})) == list(labels)

    proba = pyfunc.predict(frame, params={"predict_method": "predict_proba"})
    assert isinstance(proba, pd.DataFrame)
    assert list(proba.columns) == ["no", "yes"]
    np.testing.assert_allclose(proba.to_numpy(), expected, rtol=0, atol=1e-12)

    with pytest.raises(ValueError, match=r"'predict_probability'.*'predict', 'predict_proba'"):
        pyfunc.predict(frame, params={"predict_method": "predict_probability"})


# --- Microsoft's no-code script serving the session's model (slow) -----------------------------------------


def _split(records: list[dict[str, Any]], features: list[str]) -> dict[str, Any]:
    return {
        "columns": features,
        "index": list(range(len(records))),
        "data": [[r[name] for name in features] for r in records],
    }


@pytest.fixture(scope="module")
def in_process(trained: Any) -> BankMarketingModel:
    with _fixtures.workspace_env(trained.home):
        return load_model(trained.model_ref)


def _records(trained: Any) -> list[dict[str, Any]]:
    """The session's yes-scored and no-scored records and a few shipped rows: both labels when the model has them."""
    return [*trained.records, *_shipped(4, start=100)]


@pytest.mark.slow
def test_default_answers_labels_as_the_model_predicts(
    no_code_oracle: Any, trained: Any, in_process: BankMarketingModel
) -> None:
    records = _records(trained)
    body = {"input_data": _split(records, list(in_process.features))}
    response = httpx.post(no_code_oracle.scoring_uri, json=body, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    assert response.json() == in_process.predict(records)
    assert response.json()[:2] == trained.labels


@pytest.mark.slow
def test_predict_proba_answers_named_probabilities(
    no_code_oracle: Any, trained: Any, in_process: BankMarketingModel
) -> None:
    records = _records(trained)
    body = {"input_data": _split(records, list(in_process.features)), "params": {"predict_method": "predict_proba"}}
    response = httpx.post(no_code_oracle.scoring_uri, json=body, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = in_process.predict_proba(records)
    assert [set(row) for row in answer] == [{"no", "yes"}] * len(records)
    np.testing.assert_allclose([row["yes"] for row in answer], expected[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose([row["no"] for row in answer], expected[:, 0], rtol=0, atol=1e-9)
    assert answer[0]["yes"] > answer[1]["yes"]  # the yes-scored record first, the no-scored one second


@pytest.mark.slow
def test_an_unknown_predict_method_is_the_generic_500(no_code_oracle: Any, in_process: BankMarketingModel) -> None:
    body = {"input_data": _split(_shipped(2), list(in_process.features)), "params": {"predict_method": "labels"}}
    response = httpx.post(no_code_oracle.scoring_uri, json=body, timeout=60, trust_env=False)
    assert response.status_code == 500
    assert response.json() == {
        "message": "An unexpected error occurred in scoring script. Check the logs for more info."
    }
    assert "predict_method 'labels' is not supported" in no_code_oracle.log.read_text(errors="replace")


@pytest.mark.slow
def test_swagger_3_shows_the_columns_the_example_rows_and_the_param(
    no_code_oracle: Any, in_process: BankMarketingModel
) -> None:
    spec = httpx.get(no_code_oracle.swagger_url("3"), timeout=30, trust_env=False).json()
    service_input = spec["components"]["schemas"]["ServiceInput"]
    example = service_input["example"]
    assert example["input_data"]["columns"] == list(in_process.features)
    assert example["params"] == {"predict_method": "predict"}
    assert service_input["properties"]["params"] == {
        "type": "object",
        "required": ["predict_method"],
        "properties": {"predict_method": {"type": "string"}},
    }
    if no_code_oracle.environment.pandas.startswith("2."):
        # pandas 2 loads the input example: its rows are the example, and Swagger 2 is gone (mixed types).
        assert example["input_data"]["data"] == [[r[n] for n in in_process.features] for r in _shipped(2)]
        swagger2 = httpx.get(no_code_oracle.url + "/swagger.json", timeout=30, trust_env=False)
        assert swagger2.status_code == 404
    else:
        assert example["input_data"]["data"] == []  # pandas 3 cannot load the example (contract section 4)


@pytest.mark.slow
def test_swagger_3_is_the_captured_params_model_swagger(no_code_oracle: Any) -> None:
    """Same features, same example rows, same param: the whole document is the one captured in the contract."""
    wire = os.environ.get("BANKSCORE_GEN_D_WIRE")
    if not wire:
        pytest.skip("BANKSCORE_GEN_D_WIRE is not set: the captured generation-D wire is not here")
    if not no_code_oracle.environment.pandas.startswith("2."):
        pytest.skip(f"the capture was made under pandas 2; the oracle runs pandas {no_code_oracle.environment.pandas}")
    captured = json.loads(Path(wire, "swagger3_params_model.json").read_text())
    ours = httpx.get(no_code_oracle.swagger_url("3"), timeout=30, trust_env=False).json()
    assert ours == captured
