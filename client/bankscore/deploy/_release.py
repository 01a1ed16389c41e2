"""From a registered model to a deployment folder (needs the train extra to load the model from MLflow)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bankscore._generations import WireGeneration
from bankscore._progress import StepCallback
from bankscore.deploy._folder import DeploymentFolder, write_deployment_folder
from bankscore.deploy._local import check_name, deployment_dir
from bankscore.deploy._scorer_artifact import contract_document, export_scorer, lean_model

__all__ = ["build_release"]

CHECK_ROWS = 1_000  # shipped rows scored both ways before a release is written


def build_release(
    model_ref: str,
    *,
    generation: WireGeneration,
    name: str,
    folder: Path | None = None,
    progress: StepCallback | None = None,
) -> DeploymentFolder:
    """Load ``model_ref`` from the registry, prove the lean scorer on real rows, and write the folder.

    ``progress`` is called with the name of each step as it starts.
    """
    check_name(name)  # it becomes a path below, and a service name in the folder
    from bankscore.automl._versions import get_model_version

    info = get_model_version(model_ref)  # an unknown model is said before MLflow and the learners are imported
    step = progress or (lambda _: None)
    step(f"loading {info.ref} from the registry")
    from bankscore.automl._registry import load_model
    from bankscore.data import load_training_data

    model = load_model(info.ref)
    step(f"checking the scoring script against the model on {CHECK_ROWS:,} shipped rows")
    rows = [r for _, r in zip(range(CHECK_ROWS), load_training_data().records(), strict=False)]
    lean_model(model, rows)  # raises if the scoring script would not reproduce the model's own scores
    contract = contract_document(
        model, generation=generation.value, model_version=str(info.version), model_name=info.name
    )
    if folder is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = deployment_dir(name) / "releases" / f"v{info.version}-{generation.value}-{stamp}"
    step("writing the release folder")
    return write_deployment_folder(folder, artifact=export_scorer(model), contract=contract, name=name)
