"""Azure ML managed online endpoint assets (CLI v2 YAML, `az ml ...`).

Generations A, B and C ship bankscore's own scoring script: the deployment folder (score.py, the lean model,
the conda environment) plus a deployment that names the script and the environment.

Generation D is what Azure calls a no-code deployment: the registered MLflow model folder and nothing else.
The deployment names neither code nor environment; Azure builds the image from the model's own requirements
and serves it with Microsoft's no-code MLflow scoring script (``mlflow_score_script.py``). The model
folder must carry a signature (Azure parses each request column by it and writes the endpoint's Swagger from
it) and the ``predict_method`` params schema (without one MLflow drops ``params`` and predict_proba is lost).

An endpoint of several deployments (blue/green, as ``deploy local --deployment``) is one ``endpoint.yml`` that
holds ``traffic`` and ``mirror_traffic``, and beside it one folder per deployment with its own
``deployment.yml``: the layout of Azure's safe-rollout examples, created with ``az ml online-endpoint
create``, then each ``az ml online-deployment create``, then ``az ml online-endpoint update -f endpoint.yml``
(Azure refuses traffic for a deployment that does not exist yet).
"""

from __future__ import annotations

import json
from pathlib import Path

from bankscore._exceptions import BankscoreError
from bankscore._generations import WireGeneration
from bankscore.deploy._folder import ENTRY_SCRIPT, DeploymentFolder
from bankscore.deploy._swagger import build_openapi3
from bankscore.features import FEATURES

__all__ = [
    "DEFAULT_INSTANCE_TYPE",
    "DEPLOYMENT_SCHEMA",
    "ENDPOINT_SCHEMA",
    "MODEL_FOLDER",
    "write_azure_assets",
    "write_endpoint_yml",
    "write_no_code_assets",
]

# Azure's curated inference base image: it runs azmlinfsrv itself, as the local deployment does.
BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"
ENDPOINT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
DEPLOYMENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json"
DEFAULT_INSTANCE_TYPE = "Standard_DS2_v2"
MODEL_FOLDER = "model"  # the no-code deployment's MLflow model folder, beside its YAML

# Azure's defaults (reference-yaml-deployment-managed-online, "RequestSettings"), written out so that whoever
# edits the file sees what they are choosing between.
REQUEST_TIMEOUT_MS = 5_000
MAX_CONCURRENT_REQUESTS = 1


def _endpoint_yml(name: str, traffic: dict[str, int] | None = None, mirror: dict[str, int] | None = None) -> str:
    text = (
        f"$schema: {ENDPOINT_SCHEMA}\n"
        f"name: {name}\n"
        "# key: callers send `Authorization: Bearer <primary or secondary key>`\n"
        "# (az ml online-endpoint get-credentials); aml_token and aad_token are the alternatives.\n"
        "auth_mode: key\n"
    )
    if traffic:
        text += "# Percent of live requests per deployment; a request with the header azureml-model-deployment\n"
        text += "# goes to the deployment it names instead.\n"
        text += "traffic:\n" + "".join(f"  {d}: {percent}\n" for d, percent in traffic.items())
    if mirror:
        text += "# A copy of this percent of live requests also goes here; its answers are discarded.\n"
        text += "mirror_traffic:\n" + "".join(f"  {d}: {percent}\n" for d, percent in mirror.items())
    return text


def write_endpoint_yml(
    dest: Path, *, name: str, traffic: dict[str, int] | None = None, mirror: dict[str, int] | None = None
) -> Path:
    """``dest/endpoint.yml``: the endpoint, with its deployments' traffic and mirror when given."""
    dest.mkdir(parents=True, exist_ok=True)
    endpoint = dest / "endpoint.yml"
    endpoint.write_text(_endpoint_yml(name, traffic, mirror))
    return endpoint


def _scale(instance_type: str, instance_count: int) -> str:
    if instance_count < 1:
        raise ValueError(f"instance_count={instance_count} must be at least 1")
    return f"instance_type: {instance_type}\ninstance_count: {instance_count}\n"


def _write_deployment(dest: Path, *, name: str, deployment_name: str, with_endpoint: bool, body: str) -> list[Path]:
    """``dest/endpoint.yml`` (unless not ``with_endpoint``) and ``dest/deployment.yml``, whose lines after the
    schema and the names are ``body``; the files written."""
    written = [write_endpoint_yml(dest, name=name)] if with_endpoint else []
    deployment = dest / "deployment.yml"
    deployment.write_text(f"$schema: {DEPLOYMENT_SCHEMA}\nname: {deployment_name}\nendpoint_name: {name}\n" + body)
    return [*written, deployment]


def write_azure_assets(
    folder: DeploymentFolder,
    *,
    name: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    deployment_name: str = "blue",
    with_endpoint: bool = True,
) -> list[Path]:
    """Write endpoint.yml (unless not ``with_endpoint``) and deployment.yml beside the folder's score.py and
    model/ (generations A, B, C)."""
    scale = _scale(instance_type, instance_count)  # refused before any file is written
    return _write_deployment(
        folder.path,
        name=name,
        deployment_name=deployment_name,
        with_endpoint=with_endpoint,
        body="model:\n"
        f"  path: {folder.model_dir.relative_to(folder.path)}\n"
        "code_configuration:\n"
        "  code: .\n"
        f"  scoring_script: {ENTRY_SCRIPT}\n"
        "environment:\n"
        f"  image: {BASE_IMAGE}\n"
        "  conda_file: environment.yml\n" + scale + "environment_variables:\n"
        f"  SERVICE_NAME: {name}\n"
        f"  SERVICE_VERSION: '{folder.model_version}'\n",
    )


def write_no_code_assets(
    dest: Path,
    *,
    model_ref: str,
    name: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    deployment_name: str = "blue",
    with_endpoint: bool = True,
) -> list[Path]:
    """Generation D: the registered model's MLflow folder as ``dest/model`` plus endpoint and deployment YAML.

    Also writes ``sample-request.json``, a two-row body in the endpoint's wire, for
    ``az ml online-endpoint invoke --request-file``. Returns the files and the folder written.
    """
    scale = _scale(instance_type, instance_count)  # refused before the model is read or anything written
    from bankscore.automl._registry import export_model_folder, get_model_version

    info = get_model_version(model_ref)
    dest.mkdir(parents=True, exist_ok=True)
    model = export_model_folder(info.ref, dest / MODEL_FOLDER)
    if "signature:" not in (model / "MLmodel").read_text():
        # Registered before models carried one: Azure would serve it without a typed request or a params schema.
        raise BankscoreError(  # the CLI prints it as an error, without a traceback
            f"{info.ref} has no MLflow signature, so a no-code deployment could not parse its requests or "
            "pass predict_method: retrain it with `bankscore train`, or deploy generation C"
        )
    written = _write_deployment(
        dest,
        name=name,
        deployment_name=deployment_name,
        with_endpoint=with_endpoint,
        body="# An MLflow model and nothing else: no code_configuration and no environment. Azure builds the image\n"
        "# from the model's requirements.txt and serves it with its own MLflow scoring script (wire generation\n"
        f"# D). To deploy the registered model instead of this copy: model: azureml:{info.name}:{info.version}\n"
        "model:\n"
        f"  path: ./{MODEL_FOLDER}\n"
        "  type: mlflow_model\n" + scale + "request_settings:\n"
        "  # Azure answers 408 past this. The no-code script scores 1,000 rows in tens of milliseconds;\n"
        "  # the rest is queueing (see max_concurrent_requests_per_instance). Azure's maximum is 180000.\n"
        f"  request_timeout_ms: {REQUEST_TIMEOUT_MS}\n"
        "  # The container runs one synchronous worker: more requests in flight per instance only queue\n"
        "  # inside it. Azure answers 429 once 2 x this x instance_count requests are pending.\n"
        f"  max_concurrent_requests_per_instance: {MAX_CONCURRENT_REQUESTS}\n",
    )
    sample = dest / "sample-request.json"
    features = [f for f in FEATURES if f.wire_name in info.features] or list(FEATURES)
    example = build_openapi3(WireGeneration.D, features)["components"]["schemas"]["ServiceInput"]["example"]
    sample.write_text(json.dumps(example, indent=2) + "\n")
    return [*written, sample, model]
