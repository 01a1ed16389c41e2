"""Tracking and model registry on MLflow: every training run is logged, the chosen model registered.

The embedded default store is a sqlite file in the workspace (``bankscore.workspace.tracking_uri``);
``MLFLOW_TRACKING_URI`` points it at a tracking server or an Azure ML workspace instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Final

from bankscore import workspace
from bankscore._exceptions import BankscoreError
from bankscore._pins import installed_pins
from bankscore.automl import _versions
from bankscore.automl._artifacts import REPORT_ARTIFACT_DIR
from bankscore.automl._model import BankMarketingModel
from bankscore.automl._pyfunc import module_file, pyfunc_module
from bankscore.automl._search import TrainingResult
from bankscore.automl._versions import (
    MODEL_NAME,
    ModelVersionInfo,
    get_model_version,
    list_model_versions,
    mlflow_client_module,
)
from bankscore.features import FEATURES, FeatureKind

__all__ = [
    "EXPERIMENT_NAME",
    "MODEL_NAME",
    "MODEL_REQUIREMENTS",
    "NO_CODE_PANDAS",
    "ModelVersionInfo",
    "attach_to_run",
    "export_model_folder",
    "get_model_version",
    "list_model_versions",
    "load_model",
    "log_training",
    "model_requirements",
    "run_artifact_text",
]

EXPERIMENT_NAME = "bank-marketing-automl"

# MLflow column types of the feature contract's kinds: the wire types of Azure's Swagger (int64, double, string).
_COLUMN_TYPES: Final = {FeatureKind.INTEGER: "long", FeatureKind.NUMBER: "double", FeatureKind.CATEGORY: "string"}

# What the registered model needs to load and score, pinned to the versions this process trained with. Azure's
# no-code deployment installs exactly this list (plus its server) and nothing else, so every entry is on PyPI and
# bankscore is not among them: the model's own code travels in its folder (``code/``, see ``_pyfunc``).
MODEL_REQUIREMENTS: Final = ("mlflow", "cloudpickle", "flaml", "lightgbm", "xgboost", "scikit-learn", "numpy")
# Microsoft's no-code script reads the model's input example with ``pd.read_json`` of a JSON string, which pandas 3
# takes for a file name: the example (and with it the endpoint's Swagger example rows) is lost at start-up. The
# model's environment therefore gets the last pandas 2 release, under which the script works and the model,
# trained under pandas 3, loads and scores identically (the Azure build replay in the tests proves both).
NO_CODE_PANDAS: Final = "2.3.3"


def model_requirements() -> list[str]:
    """``requirements.txt`` of a registered model: the pins of ``MODEL_REQUIREMENTS`` and a no-code-safe pandas."""
    import pandas as pd

    pandas = pd.__version__ if int(pd.__version__.split(".")[0]) < 3 else NO_CODE_PANDAS
    return [*installed_pins(MODEL_REQUIREMENTS), f"pandas=={pandas}"]


def _mlflow() -> Any:
    """Import MLflow pointed at the workspace store (MLflow's import is slow, so only when needed)."""
    return mlflow_client_module()


def _experiment_id(mlflow: Any) -> str:
    existing = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if existing is not None:
        return str(existing.experiment_id)
    # With the embedded store, artifacts go inside the workspace rather than MLflow's ./mlruns default.
    location = workspace.artifact_root() if workspace.tracking_uri().startswith("sqlite:") else None
    return str(mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=location))


def _signature(model: BankMarketingModel) -> Any:
    """Named, typed input columns and a ``predict_method`` param, as Azure AutoML v2 registers its models.

    Azure's no-code deployment reads the signature to parse requests (each column cast to its type) and to
    write the endpoint's Swagger; without a params schema MLflow drops the request's ``params``.
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

    kinds = {f.wire_name: f.kind for f in FEATURES}
    inputs = Schema([ColSpec(_COLUMN_TYPES[kinds[name]], name) for name in model.features])
    # The default method's output, declared as AutoML's label models declare theirs: a batch of Python objects.
    outputs = Schema([TensorSpec(np.dtype(object), (-1,))])
    default_method = pyfunc_module().PREDICT_METHODS[0]
    params = ParamSchema([ParamSpec("predict_method", "string", default_method)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def _input_example(model: BankMarketingModel) -> Any:
    """The first two shipped rows, the model's features only: real values, the same for every model."""
    import pandas as pd

    from bankscore.data import load_training_data

    rows = []
    for record in load_training_data().records():
        rows.append({name: record[name] for name in model.features})
        if len(rows) == 2:
            break
    # Plain columns (int64, float64, strings), not the contract's categoricals: the example is written as JSON
    # and read back by Azure's script as the Swagger example, where only the values matter.
    return pd.DataFrame(rows, columns=list(model.features))


def log_training(result: TrainingResult, dataset_ref: str, dataset_sha256: str, report_dir: Path) -> ModelVersionInfo:
    """Log the run (parameters, metrics, leaderboard, plots) and register the model as a new version."""
    mlflow = _mlflow()
    opts = result.options
    # MLflow prints registration chatter and run links straight to stdout/stderr; bankscore's own output
    # (a --json summary on stdout, say) must stay clean, so everything it prints here is dropped.
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")  # MLflow's advisory warnings (type hints, pip inference) are noise here
        with mlflow.start_run(experiment_id=_experiment_id(mlflow), run_name=f"automl-seed{opts.seed}") as run:
            mlflow.log_params(
                {
                    "dataset": dataset_ref,
                    "dataset_sha256": dataset_sha256,
                    "time_budget": opts.time_budget,
                    "max_trials": opts.max_trials,
                    "seed": opts.seed,
                    "cv": opts.cv,
                    "holdout": opts.holdout,
                    "exclude": ",".join(opts.exclude),
                    "learners": ",".join(opts.learners),
                    "ensemble": opts.ensemble,
                    "primary_metric": "AUC_weighted",
                }
            )
            mlflow.log_metrics({f"cv_{k}": v for k, v in result.cv_metrics.items()})
            mlflow.log_metrics({f"holdout_{k}": v for k, v in result.holdout_metrics.items()})
            mlflow.log_metrics(
                {
                    "trials": len(result.trials),
                    "search_seconds": result.search_seconds,
                    "wall_seconds": result.wall_seconds,
                }
            )
            mlflow.set_tags(
                {
                    "algorithm": result.model.algorithm,
                    "interrupted": str(result.interrupted),
                    "ensemble": result.ensemble_note,
                }
            )
            mlflow.log_artifacts(str(report_dir), artifact_path=REPORT_ARTIFACT_DIR)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=pyfunc_module().BankMarketingPyfunc(result.model.to_state()),
                code_paths=[str(module_file())],
                registered_model_name=MODEL_NAME,
                pip_requirements=model_requirements(),
                signature=_signature(result.model),
                input_example=_input_example(result.model),
            )
    client = mlflow.MlflowClient()
    version = str(info.registered_model_version)
    tags = {
        "algorithm": result.model.algorithm,
        "features": json.dumps(list(result.model.features)),
        "excluded": json.dumps(list(result.model.excluded)),
        "metrics": json.dumps({"cv": result.cv_metrics, "holdout": result.holdout_metrics}),
        "dataset": dataset_ref,
        "training_seconds": f"{result.wall_seconds:.2f}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    description = f"{result.model.algorithm} on {dataset_ref}; run {run.info.run_id}"
    client.update_model_version(MODEL_NAME, version, description=description)
    return get_model_version(f"{MODEL_NAME}:{version}")


def load_model(ref: str = MODEL_NAME) -> BankMarketingModel:
    """Load a registered model, ready to score."""
    info = get_model_version(ref)
    mlflow = _mlflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = mlflow.pyfunc.load_model(f"models:/{info.name}/{info.version}")
    python_model = loaded.unwrap_python_model()
    state = getattr(python_model, "state", None)
    if isinstance(state, dict):
        return BankMarketingModel.from_state(state)
    model = getattr(python_model, "model", None)  # models registered before the pyfunc was self-contained
    if not isinstance(model, BankMarketingModel):
        raise BankscoreError(f"{info.ref} is not a bankscore model (found {type(python_model).__name__})")
    return model


def attach_to_run(info: ModelVersionInfo, files: list[Path], artifact_path: str) -> None:
    """Add files to the artifacts of the run that registered ``info`` (what only exists after registering)."""
    client = _mlflow().MlflowClient()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            client.log_artifact(info.run_id, str(path), artifact_path=artifact_path)


def run_artifact_text(info: ModelVersionInfo, artifact: str) -> str | None:
    """The text of one artifact of the run that registered ``info``; None when the run has no such file."""
    return _versions.run_artifact_text(info.run_id, artifact)


def export_model_folder(ref: str, dest: Path) -> Path:
    """Copy the registered version's MLflow model folder (``MLmodel``, the pickle, requirements, input example)
    to ``dest`` (created; must not exist yet or be empty) and return ``dest``.

    This folder is what an Azure no-code deployment serves: ``AZUREML_MODEL_DIR`` is its parent and
    ``MLFLOW_MODEL_FOLDER`` its name.
    """
    info = get_model_version(ref)
    mlflow = _mlflow()
    if dest.exists() and any(dest.iterdir()):
        raise BankscoreError(f"{dest} is not empty: export the model folder into a new or empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Downloaded next to dest (same filesystem) and moved into place, so a failed download leaves no half folder.
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as staging:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's advisory warnings while resolving models:/ URIs
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{info.name}/{info.version}", dst_path=staging
            )
        folder = Path(local)
        if not (folder / "MLmodel").is_file():
            raise BankscoreError(f"{info.ref} has no MLmodel file in its artifacts ({info.source})")
        if dest.exists():
            dest.rmdir()
        shutil.move(str(folder), dest)
    return dest
