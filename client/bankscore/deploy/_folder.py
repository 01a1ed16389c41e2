"""The deployment folder: everything the inference server needs, the same for local serving and Azure ML.

::

    score.py          the entry script the server loads (bankscore/deploy/score.py), copied unchanged
    bankscore_scoring/  the scoring code it runs (bankscore.deploy.bankscore_scoring), copied unchanged
    azureml-models/<model>/<version>/scorer.pkl     the lean learners and category codes
    azureml-models/<model>/<version>/contract.json  features, wire generation, model version, limits
    swagger2.json     served at GET /swagger.json (the server reads these from the app root)
    swagger3.json     served at GET /swagger.json?version=3
    swagger3.1.json   served at GET /swagger.json?version=3.1
    logging.json      one JSON line per request instead of the server's two text lines
    environment.yml   conda environment with the exact versions the model was trained with
"""

from __future__ import annotations

import json
import pickle
import platform
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bankscore._generations import WireGeneration
from bankscore._pins import installed_pins
from bankscore.deploy._swagger import swagger_files
from bankscore.deploy.bankscore_scoring.facts import ARTIFACT_FILE, CONTRACT_FILE
from bankscore.features import FEATURES

__all__ = ["DeploymentFolder", "write_deployment_folder"]

ENTRY_SCRIPT = "score.py"
SCORING_PACKAGE = "bankscore_scoring"  # beside score.py, which imports it by this name
# Azure mounts models at azureml-models/<name>/<version>; the server derives the model id it reports to
# Application Insights from that layout (and logs an error for any other), so the local folder copies it.
MODELS_ROOT = "azureml-models"

# The server's per-request lines (azmlinfsrv and gunicorn.access) are raised to WARNING; the scoring
# script's print() lines (logger azmlinfsrv.print, also exported to Application Insights) go out bare.
_LOGGING = {
    "version": 1,
    "formatters": {
        "plain": {"format": "%(message)s"},
        "aml": {
            "class": "azureml_inference_server_http.log_config.AMLLogFormatter",
            "format": "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s",
        },
    },
    "handlers": {
        "requests": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "aml"},
    },
    "loggers": {
        "azmlinfsrv": {"level": "WARNING", "handlers": ["server"], "propagate": False},
        "azmlinfsrv.print": {"level": "INFO", "handlers": ["requests"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["server"], "propagate": False},
        "gunicorn.error": {"level": "INFO", "handlers": ["server"], "propagate": False},
    },
}


@dataclass(frozen=True)
class DeploymentFolder:
    path: Path
    model_name: str
    model_version: str
    generation: WireGeneration
    features: tuple[str, ...]

    @property
    def model_dir(self) -> Path:
        return self.path / MODELS_ROOT / self.model_name / self.model_version

    @property
    def entry_script(self) -> Path:
        return self.path / ENTRY_SCRIPT


def _pins() -> list[str]:
    return installed_pins(("azureml-inference-server-http", "orjson", "numpy", "lightgbm", "xgboost", "scikit-learn"))


def _environment_yml(name: str) -> str:
    python = ".".join(platform.python_version_tuple()[:2])
    lines = [
        f"name: {name}-scoring",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
    ]
    lines += ["  - pip:", *[f"      - {pin}" for pin in _pins()]]
    return "\n".join(lines) + "\n"


def _copy_scoring_code(folder: Path) -> None:
    """score.py and the package it runs, as bankscore ships them (the modules only: no caches)."""
    shipped = resources.files("bankscore.deploy")
    (folder / ENTRY_SCRIPT).write_bytes(shipped.joinpath(ENTRY_SCRIPT).read_bytes())
    target = folder / SCORING_PACKAGE
    if target.is_dir():  # a folder written again: no module of an older release stays behind
        shutil.rmtree(target)
    target.mkdir()
    for module in shipped.joinpath(SCORING_PACKAGE).iterdir():
        if module.name.endswith(".py"):
            (target / module.name).write_bytes(module.read_bytes())


def write_deployment_folder(
    folder: Path,
    *,
    artifact: dict[str, Any],
    contract: dict[str, Any],
    name: str,
) -> DeploymentFolder:
    """Write the folder for a model already reduced to ``artifact`` and described by ``contract``."""
    generation = WireGeneration(contract["generation"])
    wire_names = tuple(f["wire_name"] for f in contract["features"])
    features = tuple(f for f in FEATURES if f.wire_name in wire_names)
    result = DeploymentFolder(
        folder, contract.get("model_name", name), str(contract["model_version"]), generation, wire_names
    )
    model_dir = result.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    _copy_scoring_code(folder)
    with (model_dir / ARTIFACT_FILE).open("wb") as fh:
        pickle.dump(artifact, fh, protocol=pickle.HIGHEST_PROTOCOL)
    (model_dir / CONTRACT_FILE).write_text(json.dumps(contract, indent=2) + "\n", encoding="utf-8")
    files = swagger_files(generation, features, title=name, model_version=str(contract["model_version"]))
    for filename, content in files.items():
        (folder / filename).write_bytes(content)
    # ?version=3.1 reads swagger3.1.json and never falls back to swagger3.json; our 3.0 document uses nothing
    # that 3.1 changed (no nullable, no boolean exclusive bounds), so the same document serves as 3.1.0.
    openapi31 = json.loads(files["swagger3.json"])
    openapi31["openapi"] = "3.1.0"
    (folder / "swagger3.1.json").write_text(
        json.dumps(openapi31, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (folder / "logging.json").write_text(json.dumps(_LOGGING, indent=2) + "\n", encoding="utf-8")
    (folder / "environment.yml").write_text(_environment_yml(name), encoding="utf-8")
    return DeploymentFolder(
        folder, contract.get("model_name", name), str(contract["model_version"]), generation, wire_names
    )
